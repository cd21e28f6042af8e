"""From trial rows to leaderboard numbers: pools, workload times, scores, intervals, ranks, speedups.

A **pool** is everything that may be compared: one track, ruleset, hardware class and benchmark release. Inside a
pool each submission contributes its latest run's trials. The inputs are plain trial rows (dicts, as stored in the
database and in a release bundle's ``trials`` table), so ``podium publish --verify`` re-scores a bundle from its own
trials with this same code.

Rules applied here (the arithmetic is in :mod:`harness.scoring`):

* workload time = median over studies of the median over scoring seeds (a miss is infinity);
* held-out variants: AlgoPerf's rule (:func:`harness.scoring.apply_variant_rule`, named
  :data:`~harness.scoring.VARIANT_RULE` in the bundle manifest). A submission gets infinity on a base workload
  when it misses a scored variant of it, or is slower than ``r_max`` x the fastest on the variant among the
  submissions that reached the base target; the ``r_max`` cut on the base workload is made against the fastest
  time before this penalty (such a cut time is still shown, with an infinite ratio). For the bootstrap, the rule is
  applied at the point estimate: a base time it makes infinite has all-infinite studies, so every replicate scores
  that workload as a miss;
* benchmark score = exact area under the performance profile on the base workloads, with a 95% bootstrap interval
  (seeds and studies resampled; the bootstrap seed is recorded);
* speedup = geometric mean over base workloads of (reference time / submission time), misses at budget + 1 s;
* honest uncertainty: every time and score carries ``n`` (studies x scoring seeds actually used; a score's ``n`` is
  the fewest on any of its base workloads). Below :data:`~harness.scoring.MIN_INTERVAL_N` no interval and no rank
  bound is given (``None``), only a note (``"single seed: no interval"`` for n = 1). A rank bound counts only the
  competitors that have an interval: one without cannot be *certainly* ahead;
* every infinite time or ratio carries its cause (``why:<workload>``), worded by
  :func:`harness.scoring.reasons.explain_infinity`.

Records keep ``inf`` for a miss (Parquet and CSV hold it); :func:`strict_json` writes JSON with ``null`` instead and
refuses any NaN or infinity left over, so a regression fails loudly rather than writing ``Infinity``.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.scoring import (
    MIN_INTERVAL_N, R_MAX, apply_variant_rule, bootstrap_scores, bootstrap_workload_times, interval_note,
    penalize_variant_failures, percentile_interval, performance_ratios, rank_upper_bounds, speedup_vs_reference,
    variant_best_times, workload_time_from_studies,
)
from harness.scoring.reasons import Evidence, evidence, explain_infinity
from harness.tuning.protocol import INF, TrialOutcomeRow, median, select_configuration
from harness.tuning.seeds import derive_seed

#: The frozen reference for pool-independent speedups in this release, per track (full fine-tuning is what a PEFT
#: method is an alternative to; PyTorch's own dynamic int8 quantization is the compressor every user has at hand).
REFERENCE_SUBMISSIONS = {"training": "adamw", "peft": "full_finetune", "compression": "dynamic_int8"}
REFERENCE_SUBMISSION = REFERENCE_SUBMISSIONS["training"]


def reference_of(track: str) -> str:
    return REFERENCE_SUBMISSIONS.get(track, REFERENCE_SUBMISSION)


BOOTSTRAP_SEED = 20_261_123
BOOTSTRAP_SAMPLES = 1000


Metrics = Mapping[str, tuple[str, bool]]  # workload -> (metric name, higher is better)


@dataclass
class Pool:
    """The trials of one comparable group, reduced to what scoring needs."""

    track: str
    ruleset: str
    hardware_class: str
    release: str
    studies: dict[str, dict[str, list[list[float]]]] = field(default_factory=dict)  # sub -> workload -> studies
    algoperf: dict[str, dict[str, float]] = field(default_factory=dict)  # sub -> workload -> AlgoPerf-style time
    evidence: dict[str, dict[str, Evidence]] = field(default_factory=dict)  # sub -> workload -> its counted runs
    variant_of: dict[str, str] = field(default_factory=dict)
    budgets: dict[str, float] = field(default_factory=dict)
    runs: dict[str, str] = field(default_factory=dict)  # sub -> run id used
    frameworks: dict[str, str] = field(default_factory=dict)  # sub -> the framework its counted trials ran in

    @property
    def key(self) -> str:
        return f"{self.track}/{self.ruleset}/{self.hardware_class}/{self.release}"

    @property
    def base_workloads(self) -> list[str]:
        seen = {w for per in self.studies.values() for w in per}
        return sorted(w for w in seen if w not in self.variant_of)

    @property
    def variants(self) -> list[str]:
        seen = {w for per in self.studies.values() for w in per}
        return sorted(w for w in seen if w in self.variant_of)

    def n(self, sub: str, workload: str) -> int:
        """Runs behind the submission's time on ``workload``: studies x scoring seeds (0: none)."""
        ev = self.evidence.get(sub, {}).get(workload)
        return ev.n if ev is not None else 0


def _time(row: Mapping[str, Any]) -> float:
    value = row.get("time_to_result_s")
    return float(value) if row.get("status") == "reached" and value is not None else INF


def metrics_from_specs(specs: Mapping[str, Mapping[str, Any]]) -> dict[str, tuple[str, bool]]:
    """``workload -> (metric, higher_is_better)`` from workload specs (as in a bundle manifest's ``workloads``)."""
    return {w: (str(s.get("metric", "")), bool(s.get("higher_is_better", True))) for w, s in specs.items()}


def latest_runs(trials: Iterable[Mapping[str, Any]]) -> dict[tuple[str, ...], dict[str, str]]:
    """Pool key -> submission -> its latest run id (by the latest trial start in the run)."""
    started: dict[tuple[str, ...], dict[str, tuple[str, str]]] = defaultdict(dict)
    for t in trials:
        key = (t["track"], t["ruleset"], t["hardware_class"], t["release"])
        current = started[key].get(t["submission_name"])
        if current is None or (t["started_at"], t["run_id"]) > current:
            started[key][t["submission_name"]] = (t["started_at"], t["run_id"])
    return {key: {sub: run for sub, (_, run) in subs.items()} for key, subs in started.items()}


def _add_workload(pool: Pool, sub: str, workload: str, rows: list[Mapping[str, Any]],
                  metric: tuple[str, bool] | None) -> None:
    """One submission's counted trials on one workload: studies of scoring times, AlgoPerf time, evidence."""
    groups: dict[str, list[float]] = defaultdict(list)
    for t in rows:
        groups[f"{t['role']}:{t['study']}"].append(_time(t))
    scoring = [times for name, times in sorted(groups.items()) if name.startswith("scoring:")]
    tuning = [times for name, times in sorted(groups.items()) if name.startswith("tuning:")]
    pool.studies.setdefault(sub, {})[workload] = scoring or [[INF]]
    pool.algoperf.setdefault(sub, {})[workload] = median(min(ts, default=INF) for ts in (tuning or scoring))
    counted = [t for t in rows if t["role"] == "scoring"]
    name, higher = metric or ("", True)
    outcomes = [TrialOutcomeRow(t["study"], t.get("trial_index", 0), t["role"], 0, _time(t)) for t in rows]
    selected = any(select_configuration(outcomes, study) is not None for study in {t["study"] for t in rows})
    pool.evidence.setdefault(sub, {})[workload] = evidence(counted or rows, name, higher, scored=bool(counted),
                                                           selected=selected)


def trial_framework(trial: Mapping[str, Any]) -> str:
    """The framework a trial ran in, from its provenance (``pytorch`` for trials recorded before JAX).

    >>> trial_framework({"provenance_json": '{"framework": "jax"}'}), trial_framework({"provenance_json": None})
    ('jax', 'pytorch')
    """
    provenance = trial.get("provenance_json")
    if isinstance(provenance, str):
        try:
            provenance = json.loads(provenance)
        except ValueError:
            provenance = None
    return (provenance or {}).get("framework", "pytorch") if isinstance(provenance, dict) else "pytorch"


def build_pools(trials: list[Mapping[str, Any]], variant_of: Mapping[str, str],
                metrics: Metrics | None = None) -> list[Pool]:
    """Group finished trials into pools; per submission only its latest run counts.

    Args:
        trials: trial rows (as stored, or a bundle's ``trials`` table).
        variant_of: ``variant -> base workload`` for the scored held-out variants.
        metrics: ``workload -> (metric, higher_is_better)``, to name the best value a missed run reached.
    """
    chosen = latest_runs(trials)
    pools: dict[tuple[str, ...], Pool] = {}
    counted: dict[tuple, list[Mapping[str, Any]]] = defaultdict(list)
    for t in trials:
        key = (t["track"], t["ruleset"], t["hardware_class"], t["release"])
        if t["status"] == "running" or chosen[key][t["submission_name"]] != t["run_id"]:
            continue
        pool = pools.setdefault(key, Pool(*key, variant_of=dict(variant_of)))
        pool.runs[t["submission_name"]] = t["run_id"]
        pool.frameworks[t["submission_name"]] = trial_framework(t)
        pool.budgets[t["workload"]] = float(t["budget_s"])
        counted[(key, t["submission_name"], t["workload"])].append(t)
    for (key, sub, workload), rows in counted.items():
        _add_workload(pools[key], sub, workload, rows, (metrics or {}).get(workload))
    return sorted(pools.values(), key=lambda p: p.key)


@dataclass(frozen=True)
class ScoreRow:
    """One submission's numbers in a pool. Intervals and the rank bound are ``None`` below the minimum ``n``."""

    submission: str
    run_id: str
    score: float
    score_lo: float | None
    score_hi: float | None
    rank: int
    rank_bound: int | None
    speedup: float | None
    times: dict[str, float]  # base and variant workloads; a base time is inf where a variant failed
    time_intervals: dict[str, tuple[float | None, float | None]]
    ratios: dict[str, float]
    algoperf_times: dict[str, float]
    n: int = 0  # the fewest runs behind any of its base-workload times
    workload_n: dict[str, int] = field(default_factory=dict)
    why: dict[str, str] = field(default_factory=dict)  # workload -> why its time or ratio is infinite ("" if not)

    @property
    def interval_note(self) -> str:
        """``""`` when the score has an interval, else why not (e.g. ``"single seed: no interval"``)."""
        return interval_note(self.n)


def point_times(pool: Pool) -> dict[str, dict[str, float]]:
    return {sub: {w: workload_time_from_studies(s) for w, s in per.items()} for sub, per in pool.studies.items()}


def _raw_ratios(times: Mapping[str, Mapping[str, float]], workloads: list[str],
                best: Mapping[str, float] | None = None) -> dict[str, dict[str, float | None]]:
    """time / best time before the ``r_max`` cut; None where the time or the best is infinite.

    ``best[workload]`` defaults to the fastest time in ``times``.
    """
    if best is None:
        best = {w: min((t.get(w, INF) for t in times.values()), default=INF) for w in workloads}
    return {s: {w: t.get(w, INF) / best[w] if math.isfinite(best[w]) and math.isfinite(t.get(w, INF)) else None
                for w in workloads} for s, t in times.items()}


def explain_pool(pool: Pool, times: Mapping[str, Mapping[str, float]], ruled: Mapping[str, Mapping[str, float]],
                 r_max: float = R_MAX) -> dict[str, dict[str, str]]:
    """``why[submission][workload]`` for every base workload and variant: why the time or ratio is infinite.

    Args:
        pool: the pool (its evidence and variants).
        times: each submission's own times, before the variant rule.
        ruled: base-workload times after the variant rule (:func:`~harness.scoring.apply_variant_rule`): the
            ratios, and so the best time, come from these.
        r_max: the ratio cut-off.
    """
    bases, variants = pool.base_workloads, pool.variants
    raw = _raw_ratios(ruled, bases)
    before = _raw_ratios(times, bases)  # AlgoPerf cuts the base time at r_max before the variant penalty
    best_v = variant_best_times(times, times, {v: pool.variant_of[v] for v in variants})
    reached = {s: {v: math.isfinite(t.get(pool.variant_of[v], INF)) for v in variants} for s, t in times.items()}
    raw_v = {s: {v: r if reached[s][v] else None for v, r in per.items()}  # a variant counts only after its base
             for s, per in _raw_ratios(times, variants, best_v).items()}
    why: dict[str, dict[str, str]] = {}
    for s, t in times.items():
        ev = pool.evidence.get(s, {})
        why[s] = {v: explain_infinity(t.get(v, INF), ev.get(v), raw_ratio=raw_v[s][v], r_max=r_max) for v in variants}
        for w in bases:
            failed = [v for v in variants if pool.variant_of[v] == w and why[s][v]]
            cut_first = not failed and math.isinf(ruled[s].get(w, INF))
            why[s][w] = explain_infinity(t.get(w, INF), ev.get(w), raw_ratio=(before if cut_first else raw)[s][w],
                                         r_max=r_max, variant=failed[0] if failed else None,
                                         variant_cause=why[s][failed[0]] if failed else "",
                                         before_variant_rule=cut_first)
    return why


def _bounds(scores: Mapping[str, tuple[float, float, float]], n: Mapping[str, int]) -> dict[str, int | None]:
    """Rank bounds among the submissions with an interval; None for the others (see the module docstring)."""
    shown = {s: iv for s, iv in scores.items() if n[s] >= MIN_INTERVAL_N}
    bounds = rank_upper_bounds(shown) if shown else {}
    return {s: bounds.get(s) for s in scores}


def score_pool(pool: Pool, r_max: float = R_MAX, n_boot: int = BOOTSTRAP_SAMPLES,
               seed: int = BOOTSTRAP_SEED, reference: str | None = None) -> list[ScoreRow]:
    """Scores, intervals, rank bounds and speedups (against the track's reference) for every submission of a pool,
    best first."""
    reference = reference or reference_of(pool.track)
    bases, variants = pool.base_workloads, pool.variants
    times = point_times(pool)
    rule_args = ({s: {w: t.get(w, INF) for w in bases} for s, t in times.items()},
                 {s: {v: t.get(v, INF) for v in variants} for s, t in times.items()},
                 {v: pool.variant_of[v] for v in variants}, r_max)
    penalized = penalize_variant_failures(*rule_args)  # the times shown and used for the speedup
    ruled = apply_variant_rule(*rule_args)  # the times the ratios come from (also cut at r_max in AlgoPerf's order)
    studies = {s: {w: pool.studies[s].get(w, [[INF]]) if math.isfinite(ruled[s][w]) else [[INF]] for w in bases}
               for s in pool.studies}  # a base workload lost to the variant rule is a miss in every replicate
    boot = bootstrap_scores(studies, bases, n_boot=n_boot, seed=seed, r_max=r_max)
    ratios = performance_ratios(ruled, bases, r_max)
    workload_n = {s: {w: pool.n(s, w) for w in bases + variants} for s in pool.studies}
    n = {s: min((workload_n[s][w] for w in bases), default=0) for s in pool.studies}
    bounds = _bounds({s: tuple(boot.scores[s]) for s in boot.scores}, n)
    why = explain_pool(pool, times, ruled, r_max)
    order = sorted(boot.scores, key=lambda s: (-boot.scores[s].point, s))
    rows = []
    for rank, sub in enumerate(order, start=1):
        shown = n[sub] >= MIN_INTERVAL_N
        rows.append(ScoreRow(
            submission=sub, run_id=pool.runs[sub], score=boot.scores[sub].point,
            score_lo=boot.scores[sub].lo if shown else None, score_hi=boot.scores[sub].hi if shown else None,
            rank=rank, rank_bound=bounds[sub], n=n[sub], workload_n=workload_n[sub], why=why[sub],
            speedup=(speedup_vs_reference(penalized[sub], penalized[reference], pool.budgets, bases)
                     if reference in penalized else None),
            times={**penalized[sub], **{v: times[sub].get(v, INF) for v in variants}},
            time_intervals={w: (iv.lo, iv.hi) if workload_n[sub][w] >= MIN_INTERVAL_N else (None, None)
                            for w, iv in boot.times[sub].items()},
            ratios=ratios[sub], algoperf_times=pool.algoperf.get(sub, {})))
    return rows


def time_interval_note(n: int, lo: float | None, hi: float | None) -> str:
    """Why a workload time has no interval, or what an infinite end of one means; ``""`` for a plain interval.

    >>> time_interval_note(1, None, None), time_interval_note(3, 5.0, math.inf), time_interval_note(3, 5.0, 6.0)
    ('single seed: no interval', 'upper end is a miss (inf)', '')
    """
    if n < MIN_INTERVAL_N:
        return interval_note(n)
    if lo is not None and math.isinf(lo):
        return "every resample is a miss (inf)"
    return "upper end is a miss (inf)" if hi is not None and math.isinf(hi) else ""


def speedup_note(speedup: float | None, reference: str = REFERENCE_SUBMISSION) -> str:
    """Why there is no speedup (``""`` when there is one)."""
    return "" if speedup is not None else f"no speedup: the reference {reference} is not in this pool"


def score_records(pool: Pool, rows: list[ScoreRow]) -> list[dict[str, Any]]:
    """Flat records (one per submission) for CSV / JSON / Parquet; infinity stays ``inf``, a missing interval is
    ``None`` and every ``inf`` or ``None`` has its text: ``why:<w>``, ``interval_note``, ``interval_note:<w>``."""
    records = []
    for r in rows:
        record = {"pool": pool.key, "track": pool.track, "ruleset": pool.ruleset, "hardware_class": pool.hardware_class,
                  "release": pool.release, "submission": r.submission,
                  "framework": pool.frameworks.get(r.submission, "pytorch"), "run_id": r.run_id, "rank": r.rank,
                  "rank_bound": r.rank_bound, "n": r.n, "score": r.score, "score_lo": r.score_lo,
                  "score_hi": r.score_hi, "interval_note": r.interval_note, "speedup_vs_reference": r.speedup,
                  "speedup_note": speedup_note(r.speedup, reference_of(pool.track))}
        for w in pool.base_workloads + pool.variants:
            record[f"time:{w}"] = r.times.get(w, INF)
            record[f"n:{w}"] = r.workload_n.get(w, 0)
            record[f"why:{w}"] = r.why.get(w, "")
        for w in pool.base_workloads:
            record[f"ratio:{w}"] = r.ratios.get(w, INF)
            lo, hi = r.time_intervals.get(w, (None, None))
            record[f"time_lo:{w}"], record[f"time_hi:{w}"] = lo, hi
            record[f"interval_note:{w}"] = time_interval_note(r.workload_n.get(w, 0), lo, hi)
            record[f"algoperf_time:{w}"] = r.algoperf_times.get(w, INF)
        records.append(record)
    return records


def degenerate_warnings(records: list[Mapping[str, Any]]) -> list[str]:
    """Warnings for pools whose score intervals say nothing: too few runs, or zero width.

    Args:
        records: score records (:func:`score_records`) of one or more pools.

    Returns:
        Per pool at most two lines, each naming the pool and how many of its submissions are affected.
    """
    by_pool: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in records:
        by_pool[r["pool"]].append(r)
    warnings = []
    for key, rows in by_pool.items():
        few = [r for r in rows if r["score_lo"] is None]
        flat = [r for r in rows if r["score_lo"] is not None and r["score_lo"] == r["score_hi"]]
        if few:
            smallest = min(int(r["n"]) for r in few)
            warnings.append(f"pool {key}: {len(few)} of {len(rows)} submissions have no score interval and no rank "
                            f"bound (n = studies x scoring seeds below {MIN_INTERVAL_N}; smallest n = {smallest}: "
                            f"{interval_note(smallest)})")
        if flat:
            warnings.append(f"pool {key}: {len(flat)} of {len(rows)} submissions have a zero-width score interval "
                            f"(every bootstrap resample gave the same score)")
    return warnings


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (and numpy scalar) made JSON-ready: ``inf`` and NaN become ``None``.

    >>> json_safe({"t": math.inf, "xs": [1.0, float("nan")], "k": np.int64(3)})
    {'t': None, 'xs': [1.0, None], 'k': 3}
    """
    if isinstance(value, Mapping):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def strict_json(value: Any, **kwargs: Any) -> str:
    """Strict JSON (no ``Infinity``/``NaN``): non-finite floats become ``null`` (their text fields say why).

    ``allow_nan=False`` makes any non-finite number that escaped :func:`json_safe` raise instead of being written.
    """
    return json.dumps(json_safe(value), allow_nan=False, **kwargs)


def strict_json_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """``row`` with each ``*_json`` text re-encoded as strict JSON, so no ``Infinity``/``NaN`` hides in a string.

    >>> strict_json_fields({"study_times_json": '{"0": Infinity}', "x": 1})
    {'study_times_json': '{"0": null}', 'x': 1}
    """
    out = dict(row)
    for key, value in row.items():
        if key.endswith("_json") and isinstance(value, str) and value:
            try:
                out[key] = strict_json(json.loads(value), sort_keys=True)
            except json.JSONDecodeError:
                pass  # not JSON after all: kept as stored
    return out


def workload_details(trials: list[Mapping[str, Any]], metrics: Metrics | None = None,
                     n_boot: int = BOOTSTRAP_SAMPLES, seed: int = BOOTSTRAP_SEED) -> dict[tuple[str, str], dict]:
    """Per ``(run_id, workload)``: ``n``, the time's interval (or its note) and why it is infinite, if it is.

    What ``podium results`` shows beside each stored workload time; the run's own time, so no variant rule and no
    ratio apply.
    """
    by_run: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for t in trials:
        if t["status"] != "running":
            by_run[(t["run_id"], t["workload"])].append(t)
    details = {}
    for (run_id, workload), rows in by_run.items():
        pool = Pool("", "", "", "")
        _add_workload(pool, run_id, workload, rows, (metrics or {}).get(workload))
        studies, ev = pool.studies[run_id][workload], pool.evidence[run_id][workload]
        time = workload_time_from_studies(studies)
        lo = hi = None
        if ev.n >= MIN_INTERVAL_N:
            rng = np.random.default_rng(derive_seed("bootstrap", seed, run_id, workload))
            _, lo, hi = percentile_interval(time, bootstrap_workload_times(studies, n_boot, rng))
        details[(run_id, workload)] = {"n": ev.n, "time_lo": lo, "time_hi": hi,
                                       "interval_note": time_interval_note(ev.n, lo, hi),
                                       "why": explain_infinity(time, ev)}
    return details


def profile_points(ratios: Mapping[str, float], r_max: float = R_MAX) -> list[tuple[float, float, list[str]]]:
    """The profile as a step function: ``(tau, rho, workloads solved at tau)`` at tau = 1 and every jump.

    >>> profile_points({"a": 1.0, "b": 2.0, "c": math.inf})
    [(1.0, 0.3333333333333333, ['a']), (2.0, 0.6666666666666666, ['a', 'b']), (4.0, 0.6666666666666666, ['a', 'b'])]
    """
    n = len(ratios) or 1
    jumps = sorted({1.0, r_max, *(r for r in ratios.values() if r <= r_max)})
    return [(tau, sum(r <= tau for r in ratios.values()) / n, sorted(w for w, r in ratios.items() if r <= tau))
            for tau in jumps]
