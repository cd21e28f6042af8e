"""Bootstrap confidence intervals for workload times and benchmark scores, and the rank bounds they imply.

Pure functions: randomness comes only from a seed or a ``numpy.random.Generator`` passed in, so every interval is
reproducible, and the seed is returned with the result so it can be written to the release manifest.

The input mirrors the official protocol (:mod:`harness.tuning.protocol`): for each (submission, workload) a list of
*studies*, each a list of the times of the chosen configuration on its held-out *scoring seeds* (``inf`` = miss).
The workload time is the median over studies of the median over seeds, so the bootstrap resamples at both levels
(a two-stage, or hierarchical, bootstrap; Davison & Hinkley 1997, section 3.8): first studies with replacement,
then, independently for each drawn study, its seeds with replacement. Resampling only seeds would ignore the
study-to-study spread of the tuning outcome; resampling only studies would ignore seed noise.

Intervals are percentile intervals taken without interpolation (the order statistic just below the lower
quantile and just above the upper one). Interpolating between a finite time and ``inf`` would give NaN, and not
interpolating errs on the wide side. A percentile interval is not forced to contain the point estimate; for the
medians used here it does unless the bootstrap distribution is very skewed.

**No interval from too few runs.** ``n`` is the number of timed runs behind a workload time: studies x scoring
seeds actually used. A bootstrap can only recombine the observed values, so below :data:`MIN_INTERVAL_N` it is not
an interval: with n = 1 every replicate is that one value (zero width, whatever the noise), with n = 2 the median of
a resample is one of the two values or their mean, so the "interval" is the range of two runs. Below the minimum
nothing is printed but :func:`interval_note`. Even at the minimum the 95% is nominal: the range of n runs covers the
true median with probability ``1 - 2 ** (1 - n)`` (75% for n = 3, 94% for n = 5, 97% for n = 6), and a bootstrap
percentile interval is never wider than that range; n >= 6 is needed before 95% is attainable at all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from harness.scoring.profiles import R_MAX, benchmark_score, performance_ratios
from harness.tuning.protocol import median
from harness.tuning.seeds import derive_seed

Studies = Sequence[Sequence[float]]  # studies[i][j]: time of study i on scoring seed j; inf = miss

#: Fewest runs (studies x scoring seeds) behind a time for which an interval, and a rank bound, is shown.
#: See the module docstring: a bootstrap over 1 or 2 values is not an interval.
MIN_INTERVAL_N = 3
SINGLE_SEED = "single seed: no interval"


class Interval(NamedTuple):
    """A point estimate with its confidence interval ``[lo, hi]``."""

    point: float
    lo: float
    hi: float


@dataclass(frozen=True)
class BootstrapScores:
    """Everything :func:`bootstrap_scores` computed, with what is needed to recompute it.

    Attributes:
        seed: the bootstrap seed; record it in the release manifest.
        n_boot: number of bootstrap replicates.
        level: confidence level of the intervals, e.g. 0.95.
        scores: ``scores[submission]``: benchmark score and its interval.
        times: ``times[submission][workload]``: workload time (seconds, ``inf`` = miss) and its interval.
    """

    seed: int
    n_boot: int
    level: float
    scores: dict[str, Interval]
    times: dict[str, dict[str, Interval]]


def _checked(studies: Studies) -> list[np.ndarray]:
    arrays = [np.asarray(seeds, dtype=float).reshape(-1) for seeds in studies]
    for a in arrays:
        if np.isnan(a).any() or (a <= 0).any():
            raise ValueError(f"times must be positive or inf, got {a.tolist()!r}")
    return arrays


def workload_time_from_studies(studies: Studies) -> float:
    """Official workload time: median over studies of the median over scoring seeds (no studies: ``inf``).

    >>> workload_time_from_studies([[5.0, 6.0, math.inf], [8.0, 7.0, 9.0], [4.0, 4.0]])  # medians 6, 8, 4
    6.0
    """
    _checked(studies)
    return float(median(median(seeds) for seeds in studies))


def bootstrap_workload_times(studies: Studies, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap replicates of :func:`workload_time_from_studies`: studies, then seeds, resampled with replacement.

    Args:
        studies: ``studies[i][j]``: time of study ``i`` on scoring seed ``j`` (``inf`` = miss).
        n_boot: number of replicates.
        rng: the random generator; it is advanced.

    Returns:
        Array of shape ``(n_boot,)``; ``inf`` where the replicate's median is a miss. With no studies, or only
        empty ones, every replicate is ``inf``.

    >>> reps = bootstrap_workload_times([[5.0, 6.0, 7.0], [8.0, 9.0]], 200, np.random.default_rng(0))
    >>> reps.shape, bool(reps.min() >= 5.0), bool(reps.max() <= 9.0)
    ((200,), True, True)
    """
    arrays = _checked(studies)
    if not arrays:
        return np.full(n_boot, math.inf)
    picks = rng.integers(0, len(arrays), size=(n_boot, len(arrays)))  # which study fills each slot
    study_medians = np.full((n_boot, len(arrays)), math.inf)  # an empty study's median is inf, as in protocol
    for i, seeds in enumerate(arrays):
        slots = picks == i
        if seeds.size and slots.any():
            # a fresh seed resample for every slot the study fills, even twice in one replicate
            draws = seeds[rng.integers(0, seeds.size, size=(int(slots.sum()), seeds.size))]
            study_medians[slots] = np.median(draws, axis=1)
    return np.median(study_medians, axis=1)  # mean of a middle pair with inf is inf, as statistics.median


def percentile_interval(point: float, replicates: np.ndarray, level: float = 0.95) -> Interval:
    """``point`` with the percentile interval of its bootstrap ``replicates`` (order statistics, no interpolation).

    >>> percentile_interval(2.0, np.array([1.0, 2.0, 3.0, math.inf]))
    Interval(point=2.0, lo=1.0, hi=inf)
    """
    alpha = (1.0 - level) / 2.0
    lo = float(np.quantile(replicates, alpha, method="lower"))
    hi = float(np.quantile(replicates, 1.0 - alpha, method="higher"))
    return Interval(float(point), lo, hi)


def run_count(studies: Studies) -> int:
    """``n``: the runs behind a workload time, studies x scoring seeds actually used.

    >>> run_count([[5.0, 6.0, math.inf], [8.0]])
    4
    """
    return sum(len(seeds) for seeds in studies)


def interval_note(n: int) -> str:
    """Why no interval is shown for ``n`` runs, or ``""`` when there are enough for one.

    >>> interval_note(1), interval_note(2), interval_note(MIN_INTERVAL_N)
    ('single seed: no interval', 'n=2: no interval (needs n >= 3)', '')
    """
    if n >= MIN_INTERVAL_N:
        return ""
    if n == 1:
        return SINGLE_SEED
    if n <= 0:
        return "no scoring runs: no interval"
    return f"n={n}: no interval (needs n >= {MIN_INTERVAL_N})"


def bootstrap_scores(
    studies_by_submission: Mapping[str, Mapping[str, Studies]],
    workloads: Sequence[str],
    n_boot: int = 1000,
    seed: int = 0,
    r_max: float = R_MAX,
    level: float = 0.95,
) -> BootstrapScores:
    """Benchmark scores and workload times with percentile bootstrap intervals.

    Each replicate draws every (submission, workload) time with :func:`bootstrap_workload_times`, then recomputes
    the whole pool's ratios and scores with :func:`performance_ratios` and :func:`benchmark_score`, so the score
    interval includes the uncertainty of the competitors' times too (they set the best time). Each
    (submission, workload) draws from its own generator, seeded by ``derive_seed("bootstrap", seed, submission,
    workload)``: the replicates of one entry do not depend on the order of the mappings or on who else is in the
    pool.

    Args:
        studies_by_submission: ``[submission][workload]`` = studies (see :func:`bootstrap_workload_times`);
            a missing workload is a miss on every replicate.
        workloads: the workloads to score.
        n_boot: number of bootstrap replicates.
        seed: the bootstrap seed; returned in the result.
        r_max: as in :func:`performance_ratios`.
        level: confidence level of the intervals.

    Returns:
        A :class:`BootstrapScores`: point estimates from the data as observed, intervals from the replicates.

    >>> data = {"a": {"w": [[10.0, 11.0, 12.0]]}, "b": {"w": [[20.0, 21.0, 22.0]]}}
    >>> result = bootstrap_scores(data, ["w"], n_boot=200, seed=7)
    >>> result.seed, result.scores["a"], result.times["b"]["w"].point
    (7, Interval(point=1.0, lo=1.0, hi=1.0), 21.0)
    >>> b = result.scores["b"]
    >>> round(b.point, 4), b.lo <= b.point <= b.hi  # (4 - 21/11) / 3
    (0.697, True)
    """
    subs = list(studies_by_submission)
    point_times = {s: {w: workload_time_from_studies(studies_by_submission[s].get(w, [])) for w in workloads}
                   for s in subs}
    replicates = {s: {w: bootstrap_workload_times(studies_by_submission[s].get(w, []), n_boot,
                                                  np.random.default_rng(derive_seed("bootstrap", seed, s, w)))
                      for w in workloads} for s in subs}
    point_ratios = performance_ratios(point_times, workloads, r_max)
    score_reps = {s: np.empty(n_boot) for s in subs}
    for b in range(n_boot):
        ratios = performance_ratios({s: {w: replicates[s][w][b] for w in workloads} for s in subs}, workloads, r_max)
        for s in subs:
            score_reps[s][b] = benchmark_score(ratios[s], r_max)
    return BootstrapScores(
        seed=seed,
        n_boot=n_boot,
        level=level,
        scores={s: percentile_interval(benchmark_score(point_ratios[s], r_max), score_reps[s], level) for s in subs},
        times={s: {w: percentile_interval(point_times[s][w], replicates[s][w], level) for w in workloads}
               for s in subs},
    )


def rank_upper_bounds(intervals: Mapping[str, tuple[float, float, float]]) -> dict[str, int]:
    """The best rank each submission can claim given score intervals (higher score is better; rank 1 is first).

    A submission is certainly behind another only when the other's whole interval lies above its own: the other's
    lower bound is strictly greater than its upper bound. Its rank bound is 1 plus the number of such submissions.
    Overlapping intervals share a bound, so several submissions can be "rank 1" at once: the leaderboard shows
    this rather than a ranking the data cannot support.

    Args:
        intervals: ``intervals[submission] = (point, lo, hi)``, e.g. :attr:`BootstrapScores.scores`.

    Returns:
        ``bound[submission]``: an integer from 1 to the number of submissions.

    >>> rank_upper_bounds({"a": (0.9, 0.8, 1.0), "b": (0.75, 0.7, 0.85), "c": (0.3, 0.2, 0.4)})
    {'a': 1, 'b': 1, 'c': 3}
    """
    return {s: 1 + sum(other_lo > hi for o, (_, other_lo, _) in intervals.items() if o != s)
            for s, (_, _, hi) in intervals.items()}
