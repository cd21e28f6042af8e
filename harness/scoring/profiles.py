"""Performance ratios, profiles, the benchmark score, AlgoPerf's held-out variant rule and the reference speedup.

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

from harness.tuning.seeds import derive_keyed_seed, derive_seed

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


#: The held-out variant rule the official score uses (recorded in a release bundle's manifest): AlgoPerf v0.5's, as
#: its documentation states it and its scorer computes it. See :func:`apply_variant_rule`.
VARIANT_RULE = "algoperf-v0.5"


def variant_best_times(
    times: Mapping[str, Mapping[str, float]],
    variant_times: Mapping[str, Mapping[str, float]],
    variant_of: Mapping[str, str],
) -> dict[str, float]:
    """The fastest time on each variant among the submissions that reached the target on its base workload.

    AlgoPerf v0.5 (documentation, "Using held-out workloads in scoring", requirement 4): "To determine the fastest
    submission on a held-out workload, we only consider submissions that reached the target on the corresponding
    fixed workload". A submission that is fast on the variant alone therefore cannot push everybody else beyond
    ``r_max`` times its variant time. Reaching the base target means a finite base time, before any ``r_max`` cut.

    Args:
        times: ``times[submission][base_workload]``; the keys are the pool.
        variant_times: ``variant_times[submission][variant]``; ``inf`` or no entry is a miss.
        variant_of: ``variant_of[variant] = base_workload``.

    Returns:
        ``best[variant]``; ``inf`` when no submission that reached the base target reached the variant's.

    >>> times = {"a": {"w": math.inf}, "b": {"w": 20.0}}
    >>> variant_best_times(times, {"a": {"w_v": 10.0}, "b": {"w_v": 50.0}}, {"w_v": "w"})  # a did not reach w
    {'w_v': 50.0}
    """
    best = {}
    for variant, base in variant_of.items():
        reached = [s for s in times if math.isfinite(_time(times[s], base))]
        best[variant] = min((_time(variant_times.get(s, {}), variant) for s in reached), default=INF)
    return best


def penalize_variant_failures(
    times: Mapping[str, Mapping[str, float]],
    variant_times: Mapping[str, Mapping[str, float]],
    variant_of: Mapping[str, str],
    r_max: float = R_MAX,
) -> dict[str, dict[str, float]]:
    """The variant penalty alone: a base time becomes ``inf`` where the submission fails a scored variant of it.

    It fails a variant when it misses the variant's target (``inf`` or no entry), or is slower than ``r_max`` times
    the fastest on the variant among the submissions that reached the base target (:func:`variant_best_times`;
    AlgoPerf v0.5 requirements 3 and 4). A variant that none of them reached fails everybody. This is the time a
    submission keeps on a base workload, shown beside its ratio; the ratios come from :func:`apply_variant_rule`.

    Args:
        times: ``times[submission][base_workload]``; not modified. Its keys are the pool.
        variant_times: ``variant_times[submission][variant]``; ``inf`` or no entry is a miss.
        variant_of: ``variant_of[variant] = base_workload`` for the variants that are scored this release.
        r_max: the same cut-off as in :func:`performance_ratios`.

    Returns:
        A new ``times`` mapping with the penalized base times set to ``inf``.

    >>> times = {"a": {"w": 10.0}, "b": {"w": 12.0}, "c": {"w": 15.0}}
    >>> variant_times = {"a": {"w_v": 30.0}, "b": {"w_v": 200.0}, "c": {"w_v": math.inf}}
    >>> penalize_variant_failures(times, variant_times, {"w_v": "w"})  # b: 200/30 > 4, c: missed
    {'a': {'w': 10.0}, 'b': {'w': inf}, 'c': {'w': inf}}
    """
    _check_r_max(r_max)
    best = variant_best_times(times, variant_times, variant_of)
    penalized = {s: dict(times[s]) for s in times}
    for variant, base in variant_of.items():
        for s in times:
            t = _time(variant_times.get(s, {}), variant)
            if math.isinf(t) or math.isinf(best[variant]) or t / best[variant] > r_max:
                penalized[s][base] = INF
    return penalized


def apply_variant_rule(
    times: Mapping[str, Mapping[str, float]],
    variant_times: Mapping[str, Mapping[str, float]],
    variant_of: Mapping[str, str],
    r_max: float = R_MAX,
) -> dict[str, dict[str, float]]:
    """AlgoPerf's held-out variant rule: the base-workload times that the performance ratios are computed from.

    AlgoPerf v0.5 gives a submission a finite time on a base workload only if (its documentation, "Using held-out
    workloads in scoring", requirements 1-4, and its scorer, ``compute_performance_profiles`` in
    ``scoring/performance_profile.py`` of mlcommons/submissions_algorithms):

    1. it reached the base workload's target;
    2. its base time is within ``r_max`` times the fastest base time in the pool, counting every submission,
       also those that the variant rule removes afterwards (the scorer cuts at ``r_max`` before it penalizes);
    3. it reached every scored variant's target; and
    4. each variant time is within ``r_max`` times the fastest on that variant among the submissions that reached
       the base target (:func:`variant_best_times`).

    The ratios are then ``t / `` the fastest time left. A submission that fails a variant is thus removed, yet
    its base time still sets the ``r_max`` cut for the others (requirement 2).

    This function sets a base time to ``inf`` where 3 or 4 fails (:func:`penalize_variant_failures`), and where 2
    fails *only because of the order*: the time is within ``r_max`` of the fastest time left but not of the fastest
    before the penalty. Every other ``r_max`` cut is left to :func:`performance_ratios`, which makes the same cut
    against the same fastest time, so a bootstrap replicate can still bring such a time within ``r_max``. Either
    way, ``performance_ratios`` of the result are AlgoPerf's ratios (its scorer evaluates the profile on a 100-point
    grid of tau; :func:`benchmark_score` integrates exactly: the only difference, at most 1/198, about 0.005).

    Worked example (the two cases where Podium's earlier rule, penalize first, fastest variant time over everybody,
    gave other scores): ``a`` fails the variant of ``w``; ``b`` does not, but is 4.1x slower than ``a`` on ``w``:
    ``b`` is beyond ``r_max`` of the fastest time before the penalty, so nobody has a finite time on ``w`` and ``b``
    scores 0 (penalizing first would leave ``b`` fastest, score 1). On ``x``, ``c`` never reached the target, so
    its variant time of 10 does not count, and ``d``'s 50 is the fastest: ``d`` keeps ``x`` and scores 1 (counting
    ``c`` would put ``d`` at 5x on the variant and score it 0).

    >>> times = {"a": {"w": 10.0}, "b": {"w": 41.0}}
    >>> apply_variant_rule(times, {"a": {"w_v": math.inf}, "b": {"w_v": 20.0}}, {"w_v": "w"})
    {'a': {'w': inf}, 'b': {'w': inf}}
    >>> times = {"c": {"x": math.inf}, "d": {"x": 20.0}}
    >>> apply_variant_rule(times, {"c": {"x_v": 10.0}, "d": {"x_v": 50.0}}, {"x_v": "x"})
    {'c': {'x': inf}, 'd': {'x': 20.0}}

    Args:
        times: ``times[submission][base_workload]``; not modified. Its keys are the pool.
        variant_times: ``variant_times[submission][variant]``; ``inf`` or no entry is a miss.
        variant_of: ``variant_of[variant] = base_workload`` for the variants that are scored this release.
        r_max: the same cut-off as in :func:`performance_ratios`.

    Returns:
        A new ``times`` mapping with those base times set to ``inf``.

    Raises:
        ValueError: on a NaN or non-positive time, or ``r_max <= 1``.
    """
    ruled = penalize_variant_failures(times, variant_times, variant_of, r_max)
    for base in set(variant_of.values()):  # requirement 2, where the order matters
        own = {s: _time(times[s], base) for s in times}
        before = min(own.values(), default=INF)
        kept = [t for s, t in own.items() if math.isfinite(ruled[s].get(base, INF)) and t / before <= r_max]
        left = min(kept, default=INF)
        for s, t in own.items():
            if math.isfinite(ruled[s].get(base, INF)) and t / before > r_max and not t / left > r_max:
                ruled[s][base] = INF
    return ruled


def choose_scoring_variants(
    variants_by_base: Mapping[str, Sequence[str]], release: str, k: int = 1, secret: str | None = None
) -> dict[str, list[str]]:
    """Pick ``k`` held-out variants per base workload, reproducibly for a release.

    Each variant gets a stable hash and the ``k`` smallest win. Without ``secret`` the hash is
    ``derive_seed(release, "variant", base, variant)`` (blake2b, see :mod:`harness.tuning.seeds`): a function of
    public names only, so anyone can compute the draw, also before submissions close. With ``secret`` (the
    release's committed secret, see :mod:`harness.release`) it is ``derive_keyed_seed(secret, release, "variant",
    base, variant)``, blake2b keyed with the secret: nobody can compute it before the secret is revealed, and
    everybody can after. Either way the choice does not depend on the order of the variants, and choosing
    ``k + 1`` extends the choice of ``k``.

    Args:
        variants_by_base: ``variants_by_base[base_workload]`` = its candidate variants (duplicates ignored).
        release: the benchmark release name, e.g. ``"2026.11"``.
        k: variants per base; a base with fewer candidates gets all of them.
        secret: the release secret (hex), or ``None`` for the public, predictable draw.

    Returns:
        ``chosen[base]``: the chosen variants, in selection order.

    Raises:
        ValueError: if ``k`` is negative or ``secret`` is not 1 to 64 bytes of hex.

    >>> choose_scoring_variants({"w": ["w_a", "w_b", "w_c"]}, "2026.11", k=2)
    {'w': ['w_c', 'w_b']}
    >>> choose_scoring_variants({"w": ["w_a", "w_b", "w_c"]}, "2026.11", k=2, secret="00" * 32)
    {'w': ['w_b', 'w_a']}
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")

    def rank(base: str, variant: str) -> tuple[int, str]:
        if secret is None:
            return derive_seed(release, "variant", base, variant), variant
        return derive_keyed_seed(secret, release, "variant", base, variant), variant

    return {
        base: sorted(set(variants), key=lambda v, b=base: rank(b, v))[:k]
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
