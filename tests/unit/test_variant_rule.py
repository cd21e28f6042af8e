"""The held-out variant rule is AlgoPerf's: its two differences from Podium's earlier rule (tracker issue 10, D1 and
D2), and a property test against a plain implementation written from AlgoPerf's documentation.

The documentation is AlgoPerf v0.5's ``DOCUMENTATION.md``, "Using held-out workloads in scoring": a submission
gets a finite time on a fixed (base) workload only if it

1. reaches the validation target on the fixed workload within the maximum runtime;
2. does so within 4x of the fastest submission;
3. reaches the validation target on the held-out workload (the variant);
4. does so within 4x of the fastest submission, where, "to determine the fastest submission on a held-out workload,
   we only consider submissions that reached the target on the corresponding fixed workload".

AlgoPerf's scorer (``scoring/performance_profile.py`` in mlcommons/submissions_algorithms) takes the fastest of
requirement 2 over every submission's base time, before any variant penalty, and the performance ratios over the
times left after all four.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings, strategies as st

from harness.scoring import (
    apply_variant_rule, benchmark_score, penalize_variant_failures, performance_ratios, variant_best_times,
)

INF = math.inf


def scores(times, variant_times, variant_of, bases, r_max=4.0):
    """Podium's official score: the variant rule, then ratios and the exact area under the profile."""
    ratios = performance_ratios(apply_variant_rule(times, variant_times, variant_of, r_max), bases, r_max)
    return {s: benchmark_score(ratios[s], r_max) for s in ratios}


# --- the two cases of the issue, exactly ---------------------------------------------------------------------------

def test_d1_fastest_variant_time_counts_only_submissions_that_reached_the_base_target():
    # s0 never reached w, so its variant time of 10 does not count: s1's 50 is the fastest on w_v, and s1 keeps w.
    times, variant_times = {"s0": {"w": INF}, "s1": {"w": 20.0}}, {"s0": {"w_v": 10.0}, "s1": {"w_v": 50.0}}
    assert variant_best_times(times, variant_times, {"w_v": "w"}) == {"w_v": 50.0}
    assert apply_variant_rule(times, variant_times, {"w_v": "w"}) == {"s0": {"w": INF}, "s1": {"w": 20.0}}
    assert scores(times, variant_times, {"w_v": "w"}, ["w"]) == {"s0": 0.0, "s1": 1.0}  # Podium's earlier rule: s1 0


def test_d2_base_time_is_cut_at_4x_the_fastest_before_the_variant_penalty():
    # 41 > 4 x 10: s1 is beyond r_max of s0's base time, though s0 then loses w to its missed variant.
    times, variant_times = {"s0": {"w": 10.0}, "s1": {"w": 41.0}}, {"s0": {"w_v": INF}, "s1": {"w_v": 20.0}}
    assert apply_variant_rule(times, variant_times, {"w_v": "w"}) == {"s0": {"w": INF}, "s1": {"w": INF}}
    assert scores(times, variant_times, {"w_v": "w"}, ["w"]) == {"s0": 0.0, "s1": 0.0}  # Podium's earlier rule: s1 1
    # s1 passed its variant: the penalty alone keeps its time (shown beside its infinite ratio)
    assert penalize_variant_failures(times, variant_times, {"w_v": "w"}) == {"s0": {"w": INF}, "s1": {"w": 41.0}}


def test_d2_at_exactly_4x_the_base_time_is_kept():
    times, variant_times = {"s0": {"w": 10.0}, "s1": {"w": 40.0}}, {"s0": {"w_v": INF}, "s1": {"w_v": 20.0}}
    # 40 = 4 x 10 is within r_max; s0 is then removed, so s1 is the fastest left: ratio 1
    assert scores(times, variant_times, {"w_v": "w"}, ["w"]) == {"s0": 0.0, "s1": 1.0}


def test_a_slow_time_that_the_order_does_not_concern_stays_visible():
    # the fastest on w (a) passes its variant: the 4x cut on c is the ordinary one, left to performance_ratios
    times = {"a": {"w": 10.0}, "b": {"w": 20.0}, "c": {"w": 50.0}}
    variant_times = {"a": {"w_v": 5.0}, "b": {"w_v": 6.0}, "c": {"w_v": 7.0}}
    assert apply_variant_rule(times, variant_times, {"w_v": "w"}) == times
    assert performance_ratios(times, ["w"])["c"]["w"] == INF


def test_only_the_cut_that_the_order_makes_is_applied_here():
    # a (fastest, 10) fails its variant. b (41) is beyond 4 x 10 and would be within 4 x the fastest left (c, 15):
    # the order matters, so it is set to inf here. d (70) is beyond 4 x 15 as well: left to performance_ratios.
    times = {"a": {"w": 10.0}, "b": {"w": 41.0}, "c": {"w": 15.0}, "d": {"w": 70.0}}
    variant_times = {"a": {"w_v": INF}, "b": {"w_v": 1.0}, "c": {"w_v": 1.0}, "d": {"w_v": 1.0}}
    ruled = apply_variant_rule(times, variant_times, {"w_v": "w"})
    assert ruled == {"a": {"w": INF}, "b": {"w": INF}, "c": {"w": 15.0}, "d": {"w": 70.0}}
    assert performance_ratios(ruled, ["w"]) == {"a": {"w": INF}, "b": {"w": INF}, "c": {"w": 1.0}, "d": {"w": INF}}


def test_every_variant_of_a_base_must_be_passed():
    times = {"a": {"w": 10.0}, "b": {"w": 12.0}}
    variant_times = {"a": {"w_1": 5.0, "w_2": 30.0}, "b": {"w_1": 21.0, "w_2": 30.0}}  # b: 21 / 5 > 4 on w_1
    assert apply_variant_rule(times, variant_times, {"w_1": "w", "w_2": "w"}) == {"a": {"w": 10.0}, "b": {"w": INF}}


def test_bad_inputs_raise():
    with pytest.raises(ValueError):
        apply_variant_rule({"a": {"w": float("nan")}}, {}, {"w_v": "w"})
    with pytest.raises(ValueError):
        apply_variant_rule({"a": {"w": 1.0}}, {"a": {"w_v": 0.0}}, {"w_v": "w"})
    with pytest.raises(ValueError):
        apply_variant_rule({"a": {"w": 1.0}}, {}, {"w_v": "w"}, r_max=1.0)


# --- against AlgoPerf's rule as documented ------------------------------------------------------------------------

def documented_scores(times, variant_times, variant_of, bases, r_max=4.0):
    """AlgoPerf's score, written plainly from its documented requirements 1-4 (see the module docstring)."""
    subs = list(times)

    def time(table, s, w):
        return table.get(s, {}).get(w, INF)

    final = {}
    for w in bases:
        fastest = min(time(times, s, w) for s in subs)
        reached_base = [s for s in subs if time(times, s, w) < INF]
        final[w] = {}
        for s in subs:
            t = time(times, s, w)
            ok = t < INF and t <= r_max * fastest  # requirements 1 and 2
            for v in (v for v, base in variant_of.items() if base == w):
                fastest_v = min((time(variant_times, o, v) for o in reached_base), default=INF)
                t_v = time(variant_times, s, v)
                ok = ok and t_v < INF and t_v <= r_max * fastest_v  # requirements 3 and 4
            final[w][s] = t if ok else INF
    out = {}
    for s in subs:
        area = 0.0
        for w in bases:
            if final[w][s] < INF:  # the profile steps up at ratio r and stays up to r_max: area r_max - r
                ratio = final[w][s] / min(final[w].values())
                area += max(0.0, r_max - ratio) / (r_max - 1.0)
        out[s] = area / len(bases)
    return out


# integers make ties and exact 4x boundaries common; floats cover the rest; inf is a miss
TIME = st.one_of(st.just(INF), st.integers(1, 40).map(float), st.floats(min_value=0.5, max_value=500.0))


@st.composite
def tables(draw):
    """``(times, variant_times, variant_of, bases)``: 1-3 bases with 0-2 variants each, 1-5 submissions; some
    entries are missing (never ran)."""
    bases = [f"w{i}" for i in range(draw(st.integers(1, 3)))]
    variant_of = {f"{b}_v{k}": b for b in bases for k in range(draw(st.integers(0, 2)))}
    subs = [f"s{i}" for i in range(draw(st.integers(1, 5)))]
    times = {s: {w: draw(TIME) for w in bases if draw(st.integers(0, 9))} for s in subs}
    variant_times = {s: {v: draw(TIME) for v in variant_of if draw(st.integers(0, 9))} for s in subs}
    return times, variant_times, variant_of, bases


@settings(max_examples=400, deadline=None)
@given(tables(), st.sampled_from([2.0, 4.0, 8.0]))
def test_score_equals_algoperf_documented_rule(table, r_max):
    times, variant_times, variant_of, bases = table
    assert scores(times, variant_times, variant_of, bases, r_max) == pytest.approx(
        documented_scores(times, variant_times, variant_of, bases, r_max), abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(tables())
def test_the_rule_only_makes_base_times_infinite(table):
    times, variant_times, variant_of, bases = table
    before = {s: dict(t) for s, t in times.items()}
    ruled = apply_variant_rule(times, variant_times, variant_of)
    penalized = penalize_variant_failures(times, variant_times, variant_of)
    assert times == before  # inputs untouched
    for s in times:
        assert all(ruled[s][w] in (t, INF) for w, t in times[s].items())
        assert set(ruled[s]) - set(times[s]) <= set(variant_of.values())
        # the rule is the penalty plus cuts at r_max: never a finite time where the penalty left none
        assert set(penalized[s]) == set(ruled[s])
        assert all(ruled[s][w] == t or math.isinf(ruled[s][w]) for w, t in penalized[s].items())
    assert apply_variant_rule(times, variant_times, {}) == times  # no variants: nothing changes
