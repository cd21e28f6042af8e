"""Scoring on hand-made tables: every expected number is worked out in the comments."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.scoring import (
    Interval, apply_variant_rule, benchmark_score, bootstrap_scores, bootstrap_workload_times,
    choose_scoring_variants, performance_profile, performance_ratios, rank_upper_bounds, speedup_vs_reference,
    workload_time_from_studies,
)
from harness.tuning.seeds import derive_seed

INF = math.inf


def scores_of(times, workloads, r_max=4.0):
    ratios = performance_ratios(times, workloads, r_max)
    return {s: benchmark_score(ratios[s], r_max) for s in ratios}


# --- ratios, profiles, scores -------------------------------------------------------------------------------------

def test_two_submissions_each_fastest_once():
    times = {"a": {"w1": 10.0, "w2": 40.0}, "b": {"w1": 20.0, "w2": 20.0}}
    # w1: best 10 -> a 10/10 = 1, b 20/10 = 2;  w2: best 20 -> a 40/20 = 2, b 1
    assert performance_ratios(times, ["w1", "w2"]) == {"a": {"w1": 1.0, "w2": 2.0}, "b": {"w1": 2.0, "w2": 1.0}}
    # each: ((4 - 1)/3 + (4 - 2)/3) / 2 = (1 + 2/3) / 2 = 5/6
    assert scores_of(times, ["w1", "w2"]) == pytest.approx({"a": 5 / 6, "b": 5 / 6})


# Three submissions, four workloads: a tie (w1), r > r_max (c on w1 and w2), an all-fail workload (w3),
# a missing entry (b on w4).
THREE = {
    "a": {"w1": 10.0, "w2": 30.0, "w3": INF, "w4": 100.0},
    "b": {"w1": 10.0, "w2": 60.0, "w3": INF},
    "c": {"w1": 50.0, "w2": 150.0, "w3": INF, "w4": 250.0},
}
W4 = ["w1", "w2", "w3", "w4"]


def test_three_submissions_ratios():
    # w1: best 10 (a and b tie) -> a 1, b 1, c 50/10 = 5 > 4 -> inf
    # w2: best 30 -> a 1, b 60/30 = 2, c 150/30 = 5 > 4 -> inf
    # w3: nobody reached the target -> inf for all
    # w4: best 100 -> a 1, b missing -> inf, c 250/100 = 2.5
    assert performance_ratios(THREE, W4) == {
        "a": {"w1": 1.0, "w2": 1.0, "w3": INF, "w4": 1.0},
        "b": {"w1": 1.0, "w2": 2.0, "w3": INF, "w4": INF},
        "c": {"w1": INF, "w2": INF, "w3": INF, "w4": 2.5},
    }


def test_three_submissions_scores():
    # per workload (4 - r)/3, inf -> 0, then the mean over the 4 workloads:
    # a: (1 + 1 + 0 + 1) / 4 = 3/4
    # b: (1 + 2/3 + 0 + 0) / 4 = 5/12
    # c: (0 + 0 + 0 + 1.5/3) / 4 = 1/8
    assert scores_of(THREE, W4) == pytest.approx({"a": 3 / 4, "b": 5 / 12, "c": 1 / 8})


def test_three_submissions_profiles():
    ratios = performance_ratios(THREE, W4)
    taus = [1.0, 2.0, 2.5, 4.0]
    # a: ratios 1, 1, inf, 1 -> 3/4 at every tau >= 1
    assert performance_profile(ratios["a"], taus) == [0.75, 0.75, 0.75, 0.75]
    # b: ratios 1, 2, inf, inf -> 1/4 at tau 1, 2/4 from tau 2
    assert performance_profile(ratios["b"], taus) == [0.25, 0.5, 0.5, 0.5]
    # c: ratios inf, inf, inf, 2.5 -> 0 until tau 2.5, then 1/4
    assert performance_profile(ratios["c"], taus) == [0.0, 0.0, 0.25, 0.25]
    # below 1 nobody counts, whatever the ratios
    assert performance_profile(ratios["a"], [0.99]) == [0.0]


def test_ratio_equal_to_r_max_is_kept_and_scores_zero():
    # b: 40/10 = 4 exactly: not above r_max, so kept; its area max(0, 4 - 4) = 0
    ratios = performance_ratios({"a": {"w": 10.0}, "b": {"w": 40.0}}, ["w"])
    assert ratios["b"] == {"w": 4.0}
    assert performance_profile(ratios["b"], [3.99, 4.0]) == [0.0, 1.0]
    assert benchmark_score(ratios["b"]) == 0.0


def test_other_r_max():
    # r_max = 2: b's ratio 1.5 -> (2 - 1.5) / (2 - 1) = 0.5; c's ratio 3 > 2 -> inf -> 0
    ratios = performance_ratios({"a": {"w": 2.0}, "b": {"w": 3.0}, "c": {"w": 6.0}}, ["w"], r_max=2.0)
    assert ratios == {"a": {"w": 1.0}, "b": {"w": 1.5}, "c": {"w": INF}}
    assert benchmark_score(ratios["b"], r_max=2.0) == 0.5


def test_workloads_argument_decides_what_is_scored():
    # w_extra is ignored; only w1 counts -> a 1, b 2 -> b scores (4 - 2)/3
    times = {"a": {"w1": 1.0, "w_extra": 99.0}, "b": {"w1": 2.0, "w_extra": 1.0}}
    assert scores_of(times, ["w1"]) == pytest.approx({"a": 1.0, "b": 2 / 3})


def test_all_fail_gives_zero_for_everyone():
    times = {"a": {"w": INF}, "b": {}}
    assert scores_of(times, ["w"]) == {"a": 0.0, "b": 0.0}


def test_exact_score_matches_a_fine_grid_integral():
    # AlgoPerf integrates rho on a grid; the exact formula must agree with a fine midpoint rule.
    ratios = {"w1": 1.0, "w2": 1.37, "w3": 2.9, "w4": INF, "w5": 3.999}
    n = 200_000
    taus = [1.0 + 3.0 * (i + 0.5) / n for i in range(n)]
    grid = sum(performance_profile(ratios, taus)) * (3.0 / n) / 3.0
    assert benchmark_score(ratios) == pytest.approx(grid, abs=1e-4)


@pytest.mark.parametrize("bad", [math.nan, 0.0, -1.0])
def test_nan_and_non_positive_times_are_errors_not_misses(bad):
    with pytest.raises(ValueError):
        performance_ratios({"a": {"w": bad}, "b": {"w": 1.0}}, ["w"])


def test_invalid_arguments():
    with pytest.raises(ValueError):
        performance_ratios({"a": {"w": 1.0}}, ["w"], r_max=1.0)
    with pytest.raises(ValueError):
        benchmark_score({})
    with pytest.raises(ValueError):
        benchmark_score({"w": 0.5})
    with pytest.raises(ValueError):
        performance_profile({}, [1.0])


# --- held-out variants --------------------------------------------------------------------------------------------

def test_variant_rule():
    times = {"a": {"w": 10.0, "x": 10.0}, "b": {"w": 12.0, "x": 20.0}, "c": {"w": 15.0, "x": 8.0}}
    variant_times = {
        "a": {"w_v": 30.0, "x_v": INF},  # w_v best; x_v missed -> a's x becomes inf
        "b": {"w_v": 121.0, "x_v": 50.0},  # w_v: 121/30 = 4.03 > 4 -> b's w becomes inf; x_v best
        "c": {"w_v": 120.0, "x_v": 100.0},  # w_v: 120/30 = 4 exactly -> kept; x_v: 100/50 = 2 -> kept
    }
    before = {s: dict(t) for s, t in times.items()}
    out = apply_variant_rule(times, variant_times, {"w_v": "w", "x_v": "x"})
    assert out == {"a": {"w": 10.0, "x": INF}, "b": {"w": INF, "x": 20.0}, "c": {"w": 15.0, "x": 8.0}}
    assert times == before  # inputs untouched
    # then scored as usual: w best 10 -> a 1, b inf, c 1.5;  x best 8 -> a inf, b 2.5, c 1
    # a: (1 + 0)/2 = 1/2;  b: (0 + 0.5)/2 = 1/4;  c: (2.5/3 + 1)/2 = 11/12
    assert scores_of(out, ["w", "x"]) == pytest.approx({"a": 1 / 2, "b": 1 / 4, "c": 11 / 12})


def test_variant_rule_missing_entry_and_nobody_reaching():
    times = {"a": {"w": 10.0}, "b": {"w": 12.0}}
    # b never ran the variant: a miss
    assert apply_variant_rule(times, {"a": {"w_v": 5.0}}, {"w_v": "w"}) == {"a": {"w": 10.0}, "b": {"w": INF}}
    # nobody reached the variant: everybody misses it
    out = apply_variant_rule(times, {"a": {"w_v": INF}, "b": {"w_v": INF}}, {"w_v": "w"})
    assert out == {"a": {"w": INF}, "b": {"w": INF}}


def test_choose_scoring_variants():
    variants = {"w": ["w_a", "w_b", "w_c", "w_d"], "x": ["x_1"]}
    one = choose_scoring_variants(variants, "2026.11")
    # the variant with the smallest stable hash wins
    assert one["w"] == [min(variants["w"], key=lambda v: derive_seed("2026.11", "variant", "w", v))]
    assert one["x"] == ["x_1"]
    # reproducible, independent of the input order, and k + 1 extends k
    shuffled = {"x": ["x_1"], "w": ["w_d", "w_b", "w_a", "w_c", "w_a"]}
    assert choose_scoring_variants(shuffled, "2026.11") == one
    two = choose_scoring_variants(variants, "2026.11", k=2)
    assert two["w"][:1] == one["w"] and len(two["w"]) == 2
    assert choose_scoring_variants(variants, "2026.11", k=10)["w"] == sorted(
        variants["w"], key=lambda v: derive_seed("2026.11", "variant", "w", v))
    # the release changes the draw (for some release among a few)
    assert any(choose_scoring_variants(variants, f"r{i}")["w"] != one["w"] for i in range(10))
    with pytest.raises(ValueError):
        choose_scoring_variants(variants, "2026.11", k=-1)


# --- speedup against a reference ----------------------------------------------------------------------------------

def test_speedup_with_a_miss():
    sub = {"w1": 50.0, "w2": INF}
    ref = {"w1": 100.0, "w2": 50.0}
    budgets = {"w1": 1000.0, "w2": 99.0}
    # w1: 100/50 = 2;  w2: the miss counts as 99 + 1 = 100 -> 50/100 = 1/2;  sqrt(2 * 1/2) = 1
    assert speedup_vs_reference(sub, ref, budgets, ["w1", "w2"]) == pytest.approx(1.0)


def test_speedup_geometric_mean_and_reference_miss():
    sub = {"w1": 10.0, "w2": 5.0, "w3": 40.0, "w4": INF}
    ref = {"w1": 20.0, "w2": 20.0, "w3": 20.0}  # w4 missing -> a miss too
    budgets = {"w1": 100.0, "w2": 100.0, "w3": 100.0, "w4": 100.0}
    # ratios 2, 4, 1/2 and (100+1)/(100+1) = 1 -> (2 * 4 * 0.5 * 1) ** (1/4) = 4 ** 0.25 = sqrt(2)
    assert speedup_vs_reference(sub, ref, budgets, ["w1", "w2", "w3", "w4"]) == pytest.approx(math.sqrt(2))
    # pool-independent: only the arguments matter, and a subset of workloads is a different number
    assert speedup_vs_reference(sub, ref, budgets, ["w1"]) == pytest.approx(2.0)


def test_speedup_invalid():
    with pytest.raises(ValueError):
        speedup_vs_reference({"w": 1.0}, {"w": 1.0}, {"w": INF}, ["w"])
    with pytest.raises(ValueError):
        speedup_vs_reference({}, {}, {}, [])


# --- uncertainty --------------------------------------------------------------------------------------------------

def test_workload_time_from_studies():
    # study medians: median(5, 6, inf) = 6, median(8, 7, 9) = 8, median(4, 4) = 4 -> median(6, 8, 4) = 6
    assert workload_time_from_studies([[5.0, 6.0, INF], [8.0, 7.0, 9.0], [4.0, 4.0]]) == 6.0
    # two studies: median(inf, inf) = inf, median(3) = 3 -> median(inf, 3) = (3 + inf)/2 = inf
    assert workload_time_from_studies([[INF, INF], [3.0]]) == INF
    assert workload_time_from_studies([]) == INF


def test_bootstrap_workload_times_degenerate_cases():
    rng = np.random.default_rng(0)
    assert (bootstrap_workload_times([[7.0]], 50, rng) == 7.0).all()
    assert np.isinf(bootstrap_workload_times([[INF, INF]], 50, rng)).all()
    assert np.isinf(bootstrap_workload_times([], 50, rng)).all()
    with pytest.raises(ValueError):
        bootstrap_workload_times([[math.nan]], 5, rng)


def test_bootstrap_workload_times_deterministic_given_rng():
    studies = [[5.0, 6.0, 9.0], [8.0, INF], [4.0]]
    a = bootstrap_workload_times(studies, 300, np.random.default_rng(3))
    b = bootstrap_workload_times(studies, 300, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    finite = a[np.isfinite(a)]
    assert finite.min() >= 4.0 and finite.max() <= 9.0


def noisy_pool(n_seeds, rng):
    """Two submissions, three workloads, three studies of ``n_seeds`` log-normal times each; b ~1.5x slower."""
    return {
        sub: {w: [list(scale * base * rng.lognormal(0.0, 0.3, n_seeds)) for _ in range(3)]
              for w, base in {"w1": 100.0, "w2": 50.0, "w3": 300.0}.items()}
        for sub, scale in {"a": 1.0, "b": 1.5}.items()
    }


def test_bootstrap_interval_contains_point_and_shrinks_with_more_seeds():
    rng = np.random.default_rng(2026)
    few = bootstrap_scores(noisy_pool(3, rng), ["w1", "w2", "w3"], n_boot=400, seed=1)
    many = bootstrap_scores(noisy_pool(30, rng), ["w1", "w2", "w3"], n_boot=400, seed=1)
    for result in (few, many):
        for s, iv in result.scores.items():
            assert 0.0 <= iv.lo <= iv.point <= iv.hi <= 1.0
            for w, t in result.times[s].items():
                assert t.lo <= t.point <= t.hi
    # score: b's interval (a is nearly always fastest, so its interval is pinned near 1)
    assert many.scores["b"].hi - many.scores["b"].lo < 0.5 * (few.scores["b"].hi - few.scores["b"].lo)
    # times: summed relative widths over all (submission, workload); single entries are too noisy to compare,
    # since with 3 studies the study-level resampling keeps some width whatever the number of seeds
    def relative_width(result):
        return sum((t.hi - t.lo) / t.point for per_w in result.times.values() for t in per_w.values())
    assert relative_width(many) < 0.5 * relative_width(few)


def test_bootstrap_is_deterministic_given_the_seed_and_records_it():
    data = noisy_pool(5, np.random.default_rng(11))
    first = bootstrap_scores(data, ["w1", "w2", "w3"], n_boot=200, seed=42)
    again = bootstrap_scores(data, ["w1", "w2", "w3"], n_boot=200, seed=42)
    assert first == again
    assert (first.seed, first.n_boot, first.level) == (42, 200, 0.95)
    other = bootstrap_scores(data, ["w1", "w2", "w3"], n_boot=200, seed=43)
    assert other.times != first.times
    # point estimates do not depend on the bootstrap seed
    assert {s: iv.point for s, iv in other.scores.items()} == {s: iv.point for s, iv in first.scores.items()}


def test_bootstrap_time_intervals_do_not_depend_on_the_pool():
    data = noisy_pool(5, np.random.default_rng(12))
    alone = bootstrap_scores({"a": data["a"]}, ["w1", "w2"], n_boot=100, seed=0)
    pooled = bootstrap_scores(data, ["w1", "w2"], n_boot=100, seed=0)
    assert alone.times["a"] == pooled.times["a"]
    assert alone.scores["a"] == Interval(1.0, 1.0, 1.0)  # alone, a is always the fastest


def test_bootstrap_missing_workload_is_a_miss():
    data = {"a": {"w": [[10.0, 12.0]]}, "b": {}}
    result = bootstrap_scores(data, ["w"], n_boot=50, seed=0)
    assert result.times["b"]["w"] == Interval(INF, INF, INF)
    assert result.scores["b"] == Interval(0.0, 0.0, 0.0)
    assert result.scores["a"] == Interval(1.0, 1.0, 1.0)


def test_rank_upper_bounds_hand_case():
    intervals = {
        "a": (0.90, 0.80, 1.00),
        "b": (0.75, 0.70, 0.85),  # overlaps a (0.80 <= 0.85) -> nobody certainly ahead -> 1
        "d": (0.50, 0.45, 0.79),  # a's lo 0.80 > 0.79 -> 1 ahead -> 2; b's lo 0.70 <= 0.79
        "c": (0.30, 0.20, 0.40),  # a, b and d (0.45) all have lo > 0.40 -> 4
    }
    assert rank_upper_bounds(intervals) == {"a": 1, "b": 1, "d": 2, "c": 4}


def test_rank_upper_bounds_touching_intervals_overlap():
    # y's lower bound equals x's upper bound: not strictly greater, so x is not certainly behind
    assert rank_upper_bounds({"x": (0.5, 0.4, 0.6), "y": (0.7, 0.6, 0.8)}) == {"x": 1, "y": 1}
    assert rank_upper_bounds({}) == {}
