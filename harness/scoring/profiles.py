"""Performance ratios, profiles, the benchmark score, held-out variants and the reference speedup.

Pure functions: no I/O, no globals. The pool of submissions is always the keys of the ``times`` argument and the
set of workloads is always an argument, never a constant (AlgoPerf hard-codes ``NUM_BASE_WORKLOADS = 8``).

**Failure is** ``math.inf`` **on purpose.** A missed target, a failed or timed-out trial and a missing entry are all
infinite times. Infinity flows through every function without special cases: its ratio is infinite, it is never
``<= tau``, it adds nothing to the score. A NaN or a non-positive time is not a failure but a harness bug, and raises
``ValueError`` (AlgoPerf's log parser turned ``nan`` into ``0``; a silent 0 would be the best time on the board).

Definitions (Dolan & Moré 2002, "Benchmarking optimization software with performance profiles"; AlgoPerf,
Dahl et al. 2023, "Benchmarking Neural Network Training Algorithms", section 4.5):

- performance ratio ``r[s][w] = t[s][w] / min_s' t[s'][w]``, set to infinity when above ``r_max``;
- performance profile ``rho_s(tau) = |{w : r[s][w] <= tau}| / |W|``;
- benchmark score ``B_s = (1 / (r_max - 1)) * integral_1^r_max rho_s(tau) dtau``, in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from harness.tuning.seeds import derive_seed

INF = math.inf
R_MAX = 4.0  # AlgoPerf's r_max: beyond 4x the best time a workload counts as not solved


def _time(times_of_submission: Mapping[str, float], workload: str) -> float:
    """The time for ``workload``, infinity when absent; NaN and non-positive times raise."""
    t = float(times_of_submission.get(workload, INF))
    if math.isnan(t) or t <= 0.0:
        raise ValueError(f"time for workload {workload!r} must be positive or inf, got {t!r}")
    return t


def _check_r_max(r_max: float) -> None:
    if not r_max > 1.0 or math.isinf(r_max):
        raise ValueError(f"r_max must be finite and > 1, got {r_max!r}")


def performance_ratios(
    times: Mapping[str, Mapping[str, float]], workloads: Sequence[str], r_max: float = R_MAX
) -> dict[str, dict[str, float]]:
    """Performance ratio of every submission on every workload: its time over the best time on that workload.

    Args:
        times: ``times[submission][workload]`` in seconds (any unit, the ratios are unit-free). ``inf`` or a
            missing entry is a miss. The keys of ``times`` are the pool the best time is taken over.
        workloads: the workloads to score; entries of ``times`` for other workloads are ignored.
        r_max: ratios above it become ``inf`` (slower than ``r_max`` times the best counts as not solved).

    Returns:
        ``ratios[submission][workload]``, each either in ``[1, r_max]`` or ``inf``. A workload that no submission
        solved gives ``inf`` for everyone (there is no best time to compare with).

    Raises:
        ValueError: on a NaN or non-positive time, or ``r_max <= 1``.

    >>> times = {"a": {"w1": 10.0, "w2": 30.0}, "b": {"w1": 20.0, "w2": 100.0}, "c": {"w1": 50.0}}
    >>> performance_ratios(times, ["w1", "w2"])
    {'a': {'w1': 1.0, 'w2': 1.0}, 'b': {'w1': 2.0, 'w2': 3.3333333333333335}, 'c': {'w1': inf, 'w2': inf}}
    """
    _check_r_max(r_max)
    checked = {s: {w: _time(times[s], w) for w in workloads} for s in times}
    ratios: dict[str, dict[str, float]] = {s: {} for s in checked}
    for w in workloads:
        best = min((checked[s][w] for s in checked), default=INF)
        for s in checked:
            r = checked[s][w] / best if math.isfinite(best) else INF  # inf / inf would be NaN
            ratios[s][w] = r if r <= r_max else INF
    return ratios


def performance_profile(ratios: Mapping[str, float], taus: Iterable[float]) -> list[float]:
    """Performance profile of one submission: for each ``tau``, the share of workloads with ratio ``<= tau``.

    Args:
        ratios: ``ratios[workload]`` of one submission, as returned by :func:`performance_ratios`; its keys are
            the workloads, so a workload left out here is not counted in the denominator.
        taus: the points at which to evaluate the profile.

    Returns:
        ``rho(tau)`` for each tau, in ``[0, 1]``, non-decreasing in tau. An infinite ratio is never counted.

    Raises:
        ValueError: if ``ratios`` is empty (a profile over no workloads is undefined).

    >>> performance_profile({"w1": 1.0, "w2": 2.5, "w3": math.inf}, [1.0, 2.0, 3.0, 4.0])
    [0.3333333333333333, 0.3333333333333333, 0.6666666666666666, 0.6666666666666666]
    """
    if not ratios:
        raise ValueError("a performance profile needs at least one workload")
    values = list(ratios.values())
    return [sum(r <= tau for r in values) / len(values) for tau in taus]


def benchmark_score(ratios: Mapping[str, float], r_max: float = R_MAX) -> float:
    """AlgoPerf's benchmark score of one submission: the normalized area under its profile from 1 to ``r_max``.

    The profile is a step function, so the integral is computed exactly rather than on a grid. For one workload
    with ratio ``r_w >= 1`` the indicator ``1[r_w <= tau]`` is 1 on ``[r_w, r_max]`` and 0 before, hence
    ``integral_1^r_max 1[r_w <= tau] dtau = max(0, r_max - r_w)`` (0 when ``r_w`` is infinite). Since
    ``rho(tau)`` is the mean of the indicators, swapping sum and integral gives

        ``score = mean_w max(0, r_max - r_w) / (r_max - 1)``.

    AlgoPerf's scorer (``scoring/performance_profile.py``) evaluates rho on a grid of ``tau`` points and integrates
    numerically, so its numbers can differ from this one in the last digits; this function has no grid error.

    Args:
        ratios: ``ratios[workload]`` of one submission (from :func:`performance_ratios`), each ``>= 1`` or ``inf``.
        r_max: upper end of the integral; must match the ``r_max`` the ratios were cut at.

    Returns:
        The score in ``[0, 1]``: 1 exactly when the submission is the fastest on every workload, 0 when it solved
        nothing within ``r_max`` times the best.

    Raises:
        ValueError: on an empty mapping, a ratio below 1 or NaN, or ``r_max <= 1``.

    >>> benchmark_score({"w1": 1.0, "w2": 2.5, "w3": math.inf})  # (3/3 + 1.5/3 + 0) / 3
    0.5
    """
    _check_r_max(r_max)
    if not ratios:
        raise ValueError("a benchmark score needs at least one workload")
    if any(not r >= 1.0 for r in ratios.values()):  # also catches NaN
        raise ValueError(f"performance ratios must be >= 1 or inf, got {sorted(ratios.values())!r}")
    areas = [max(0.0, r_max - r) / (r_max - 1.0) for r in ratios.values()]
    return math.fsum(areas) / len(areas)  # fsum: all-ones sums to exactly len, so the fastest scores exactly 1


def apply_variant_rule(
    times: Mapping[str, Mapping[str, float]],
    variant_times: Mapping[str, Mapping[str, float]],
    variant_of: Mapping[str, str],
    r_max: float = R_MAX,
) -> dict[str, dict[str, float]]:
    """Held-out variant rule: failing a variant makes the submission's time on the variant's base workload infinite.

    A submission fails a variant when it misses the variant's target (``inf`` or no entry in ``variant_times``) or
    is slower than ``r_max`` times the best submission on that variant. The pool for "best" is the keys of
    ``times``. Consequently, a variant that nobody reaches fails everybody: the variant targets are set on the
    reference baselines, so this only happens when every submission in the pool fails it.

    Args:
        times: ``times[submission][base_workload]``; not modified.
        variant_times: ``variant_times[submission][variant]``.
        variant_of: ``variant_of[variant] = base_workload`` for the variants that are scored this release.
        r_max: the same cut-off as in :func:`performance_ratios`.

    Returns:
        A new ``times`` mapping with the penalized base workloads set to ``inf``.

    >>> times = {"a": {"w": 10.0}, "b": {"w": 12.0}, "c": {"w": 15.0}}
    >>> variant_times = {"a": {"w_v": 30.0}, "b": {"w_v": 200.0}, "c": {"w_v": math.inf}}
    >>> apply_variant_rule(times, variant_times, {"w_v": "w"})  # b: 200/30 > 4, c: missed
    {'a': {'w': 10.0}, 'b': {'w': inf}, 'c': {'w': inf}}
    """
    pool = {s: variant_times.get(s, {}) for s in times}
    ratios = performance_ratios(pool, list(variant_of), r_max)
    penalized = {s: dict(times[s]) for s in times}
    for s in times:
        for variant, base in variant_of.items():
            if math.isinf(ratios[s][variant]):
                penalized[s][base] = INF
    return penalized


def choose_scoring_variants(
    variants_by_base: Mapping[str, Sequence[str]], release: str, k: int = 1
) -> dict[str, list[str]]:
    """Pick ``k`` held-out variants per base workload, reproducibly for a release and unpredictably before it.

    Each variant gets the stable hash ``derive_seed(release, "variant", base, variant)`` (blake2b, see
    :mod:`harness.tuning.seeds`); the ``k`` smallest win. The choice depends only on the release name and the
    variant names, not on their order, so anyone can re-derive it. Choosing ``k + 1`` extends the choice of ``k``.

    Args:
        variants_by_base: ``variants_by_base[base_workload]`` = its candidate variants (duplicates ignored).
        release: the benchmark release name, e.g. ``"2026.11"``.
        k: variants per base; a base with fewer candidates gets all of them.

    Returns:
        ``chosen[base]``: the chosen variants, in selection order.

    Raises:
        ValueError: if ``k`` is negative.

    >>> choose_scoring_variants({"w": ["w_a", "w_b", "w_c"]}, "2026.11", k=2)
    {'w': ['w_c', 'w_b']}
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    return {
        base: sorted(set(variants), key=lambda v, b=base: (derive_seed(release, "variant", b, v), v))[:k]
        for base, variants in variants_by_base.items()
    }


def speedup_vs_reference(
    times_sub: Mapping[str, float],
    times_ref: Mapping[str, float],
    budgets: Mapping[str, float],
    workloads: Sequence[str],
) -> float:
    """Pool-independent speedup: geometric mean over workloads of ``t_ref / t_sub`` against a frozen reference.

    Profile scores move when submissions join or leave the pool; this number depends only on the submission, the
    frozen reference baseline and the release's budgets. A miss (``inf``, or no entry) counts as ``budget + 1``
    seconds, on either side: the run was stopped at the budget, so its true time is above it, and a finite
    stand-in keeps the geometric mean finite and non-zero (one miss would otherwise make it 0 or inf) while still
    ranking every miss behind every hit. Values above 1 mean faster than the reference.

    Args:
        times_sub: ``times_sub[workload]`` of the submission, in seconds.
        times_ref: ``times_ref[workload]`` of the reference baseline, in seconds.
        budgets: ``budgets[workload]``: the runtime budget in seconds (finite, positive).
        workloads: the workloads to average over.

    Returns:
        The geometric-mean speedup.

    Raises:
        ValueError: on an empty ``workloads``, a bad time (see :func:`performance_ratios`) or a bad budget.

    >>> sub, ref = {"w1": 50.0, "w2": math.inf}, {"w1": 100.0, "w2": 50.0}
    >>> speedup_vs_reference(sub, ref, {"w1": 999, "w2": 99}, ["w1", "w2"])  # sqrt(100/50 * 50/(99+1))
    1.0
    """
    if not workloads:
        raise ValueError("a speedup needs at least one workload")

    def seconds(times: Mapping[str, float], w: str) -> float:
        budget = float(budgets[w])
        if not 0.0 < budget < INF:
            raise ValueError(f"budget for workload {w!r} must be finite and positive, got {budget!r}")
        t = _time(times, w)
        return budget + 1.0 if math.isinf(t) else t

    logs = [math.log(seconds(times_ref, w)) - math.log(seconds(times_sub, w)) for w in workloads]
    return math.exp(math.fsum(logs) / len(logs))
