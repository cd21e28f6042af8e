"""Properties of the scoring functions that must hold for every pool of times (hypothesis)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings, strategies as st

from harness.scoring import benchmark_score, performance_profile, performance_ratios, rank_upper_bounds

INF = math.inf
SETTINGS = settings(max_examples=100, deadline=None)

# a time is a miss (inf) or a finite time over six orders of magnitude
TIME = st.one_of(st.just(INF), st.floats(min_value=1e-2, max_value=1e4))
R_MAX = st.sampled_from([1.5, 2.0, 4.0, 10.0])


@st.composite
def pools(draw, min_subs=1, max_subs=5):
    """``(times, workloads)``: times[submission][workload] for 1-5 workloads; some entries left missing."""
    workloads = [f"w{i}" for i in range(draw(st.integers(1, 5)))]
    subs = [f"s{i}" for i in range(draw(st.integers(min_subs, max_subs)))]
    times = {s: {w: draw(TIME) for w in workloads if draw(st.booleans()) or draw(st.booleans())} for s in subs}
    return times, workloads


def scores_of(times, workloads, r_max=4.0):
    ratios = performance_ratios(times, workloads, r_max)
    return {s: benchmark_score(ratios[s], r_max) for s in ratios}


def same_order(a, b, subs):
    """Every pair of ``subs`` compares the same way (<, =, >) under score maps ``a`` and ``b``."""
    sign = lambda x: (x > 0) - (x < 0)  # noqa: E731
    return all(sign(a[x] - a[y]) == sign(b[x] - b[y]) for x in subs for y in subs)


@SETTINGS
@given(pools(), R_MAX)
def test_ratios_in_range_and_score_in_unit_interval(pool, r_max):
    times, workloads = pool
    ratios = performance_ratios(times, workloads, r_max)
    for s in times:
        assert all(r == INF or 1.0 <= r <= r_max for r in ratios[s].values())
        assert 0.0 <= benchmark_score(ratios[s], r_max) <= 1.0


@SETTINGS
@given(pools(), st.floats(min_value=1e-3, max_value=1e3), st.integers(-20, 20))
def test_invariant_to_the_time_unit(pool, c, k):
    times, workloads = pool
    before = scores_of(times, workloads)
    # any c > 0: equal up to rounding (the score is continuous at r = r_max, so the cut-off cannot jump)
    scaled = {s: {w: t * c for w, t in ts.items()} for s, ts in times.items()}
    assert scores_of(scaled, workloads) == pytest.approx(before, abs=1e-12)
    # a power of two is exact in floating point: then the scores are identical
    exact = {s: {w: math.ldexp(t, k) for w, t in ts.items()} for s, ts in times.items()}
    assert scores_of(exact, workloads) == before


@SETTINGS
@given(pools(), st.data())
def test_adding_a_dominated_submission_keeps_the_others_order(pool, data):
    times, workloads = pool
    before = scores_of(times, workloads)
    # the newcomer is no faster than some existing submission X on every workload (a miss where X misses)
    x = data.draw(st.sampled_from(sorted(times)))
    slower = {w: times[x].get(w, INF) * data.draw(st.floats(min_value=1.0, max_value=10.0)) for w in workloads}
    after = scores_of({**times, "new": slower}, workloads)
    assert same_order(before, after, list(times))
    # stronger: the best time per workload is unchanged, so the others' scores do not move at all
    assert {s: after[s] for s in times} == before
    assert after["new"] <= after[x]


@SETTINGS
@given(pools(min_subs=0), st.data(), R_MAX)
def test_fastest_everywhere_scores_exactly_one(pool, data, r_max):
    times, workloads = pool
    own = data.draw(st.lists(st.floats(min_value=1e-2, max_value=1e4), min_size=len(workloads),
                             max_size=len(workloads)))
    fastest = {w: min([t, *(times[s].get(w, INF) for s in times)]) for w, t in zip(workloads, own)}
    scores = scores_of({**times, "best": fastest}, workloads, r_max)
    assert scores["best"] == 1.0


@SETTINGS
@given(pools(), st.lists(st.floats(min_value=0.0, max_value=20.0), min_size=1, max_size=30), R_MAX)
def test_profile_monotone_in_tau_and_bounded(pool, taus, r_max):
    times, workloads = pool
    taus = sorted(taus)
    for ratios in performance_ratios(times, workloads, r_max).values():
        rho = performance_profile(ratios, taus)
        assert all(0.0 <= v <= 1.0 for v in rho)
        assert all(a <= b for a, b in zip(rho, rho[1:]))
        # from r_max on, the profile is the share of solved workloads
        solved = sum(math.isfinite(r) for r in ratios.values()) / len(ratios)
        assert performance_profile(ratios, [r_max, r_max * 10]) == [solved, solved]


@SETTINGS
@given(pools(), R_MAX)
def test_score_is_the_normalized_area_under_the_profile(pool, r_max):
    # midpoint rule on n cells: each workload's step is off by at most one cell, so |error| <= 1/n
    times, workloads = pool
    n = 400
    taus = [1.0 + (r_max - 1.0) * (i + 0.5) / n for i in range(n)]
    for ratios in performance_ratios(times, workloads, r_max).values():
        grid = sum(performance_profile(ratios, taus)) / n
        assert benchmark_score(ratios, r_max) == pytest.approx(grid, abs=1.0 / n + 1e-12)


@SETTINGS
@given(st.dictionaries(st.sampled_from("abcdefgh"),
                       st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=6))
def test_rank_bounds_of_exact_scores_are_competition_ranks(points):
    # zero-width intervals: the bound is 1 + the number of strictly higher scores (ties share a rank)
    bounds = rank_upper_bounds({s: (p, p, p) for s, p in points.items()})
    assert bounds == {s: 1 + sum(q > p for q in points.values()) for s, p in points.items()}


@SETTINGS
@given(st.dictionaries(st.sampled_from("abcdefgh"),
                       st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 0.3)), min_size=1, max_size=6),
       st.floats(0.0, 0.3))
def test_wider_intervals_never_worsen_a_rank_bound(centers, extra):
    narrow = {s: (c, c - h, c + h) for s, (c, h) in centers.items()}
    wide = {s: (c, c - h - extra, c + h + extra) for s, (c, h) in centers.items()}
    narrow_bounds, wide_bounds = rank_upper_bounds(narrow), rank_upper_bounds(wide)
    assert all(1 <= wide_bounds[s] <= narrow_bounds[s] <= len(centers) for s in centers)
