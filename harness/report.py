"""From trial rows to leaderboard numbers: pools, workload times, scores, intervals, ranks, speedups.

A **pool** is everything that may be compared: one track, ruleset, hardware class and benchmark release. Inside a
pool each submission contributes its latest run's trials. The inputs are plain trial rows (dicts, as stored in the
database and in a release bundle's ``trials`` table), so ``podium publish --verify`` re-scores a bundle from its own
trials with this same code.

Rules applied here (the arithmetic is in :mod:`harness.scoring`):

* workload time = median over studies of the median over scoring seeds (a miss is infinity);
* held-out variants: a submission that misses a scored variant, or is slower than ``r_max`` x the best on it, gets
  infinity on the variant's base workload. For the bootstrap, the rule is applied at the point estimate: such a
  submission's base-workload studies become all-infinite, so every replicate scores that workload as a miss;
* benchmark score = exact area under the performance profile on the base workloads, with a 95% bootstrap interval
  (seeds and studies resampled; the bootstrap seed is recorded);
* speedup = geometric mean over base workloads of (reference time / submission time), misses at budget + 1 s.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.scoring import (
    R_MAX, apply_variant_rule, bootstrap_scores, performance_ratios, rank_upper_bounds, speedup_vs_reference,
    workload_time_from_studies,
)
from harness.tuning.protocol import INF, median

#: The frozen reference for pool-independent speedups in this release.
REFERENCE_SUBMISSION = "adamw"
BOOTSTRAP_SEED = 20_261_123
BOOTSTRAP_SAMPLES = 1000


@dataclass
class Pool:
    """The trials of one comparable group, reduced to what scoring needs."""

    track: str
    ruleset: str
    hardware_class: str
    release: str
    studies: dict[str, dict[str, list[list[float]]]] = field(default_factory=dict)  # sub -> workload -> studies
    algoperf: dict[str, dict[str, float]] = field(default_factory=dict)  # sub -> workload -> AlgoPerf-style time
    variant_of: dict[str, str] = field(default_factory=dict)
    budgets: dict[str, float] = field(default_factory=dict)
    runs: dict[str, str] = field(default_factory=dict)  # sub -> run id used

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


def _time(row: Mapping[str, Any]) -> float:
    value = row.get("time_to_result_s")
    return float(value) if row.get("status") == "reached" and value is not None else INF


def latest_runs(trials: Iterable[Mapping[str, Any]]) -> dict[tuple[str, ...], dict[str, str]]:
    """Pool key -> submission -> its latest run id (by the latest trial start in the run)."""
    started: dict[tuple[str, ...], dict[str, tuple[str, str]]] = defaultdict(dict)
    for t in trials:
        key = (t["track"], t["ruleset"], t["hardware_class"], t["release"])
        current = started[key].get(t["submission_name"])
        if current is None or (t["started_at"], t["run_id"]) > current:
            started[key][t["submission_name"]] = (t["started_at"], t["run_id"])
    return {key: {sub: run for sub, (_, run) in subs.items()} for key, subs in started.items()}


def build_pools(trials: list[Mapping[str, Any]], variant_of: Mapping[str, str]) -> list[Pool]:
    """Group finished trials into pools; per submission only its latest run counts."""
    chosen = latest_runs(trials)
    pools: dict[tuple[str, ...], Pool] = {}
    per_study: dict[tuple, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for t in trials:
        key = (t["track"], t["ruleset"], t["hardware_class"], t["release"])
        if t["status"] == "running" or chosen[key][t["submission_name"]] != t["run_id"]:
            continue
        pool = pools.setdefault(key, Pool(*key, variant_of=dict(variant_of)))
        pool.runs[t["submission_name"]] = t["run_id"]
        pool.budgets[t["workload"]] = float(t["budget_s"])
        per_study[(key, t["submission_name"], t["workload"])][f"{t['role']}:{t['study']}"].append(_time(t))
    for (key, sub, workload), groups in per_study.items():
        pool = pools[key]
        scoring = [times for name, times in sorted(groups.items()) if name.startswith("scoring:")]
        tuning = [times for name, times in sorted(groups.items()) if name.startswith("tuning:")]
        pool.studies.setdefault(sub, {})[workload] = scoring or [[INF]]
        pool.algoperf.setdefault(sub, {})[workload] = median(min(ts, default=INF) for ts in (tuning or scoring))
    return sorted(pools.values(), key=lambda p: p.key)


@dataclass(frozen=True)
class ScoreRow:
    submission: str
    run_id: str
    score: float
    score_lo: float
    score_hi: float
    rank: int
    rank_bound: int
    speedup: float | None
    times: dict[str, float]  # base and variant workloads, after the variant rule
    time_intervals: dict[str, tuple[float, float]]
    ratios: dict[str, float]
    algoperf_times: dict[str, float]


def point_times(pool: Pool) -> dict[str, dict[str, float]]:
    return {sub: {w: workload_time_from_studies(s) for w, s in per.items()} for sub, per in pool.studies.items()}


def score_pool(pool: Pool, r_max: float = R_MAX, n_boot: int = BOOTSTRAP_SAMPLES,
               seed: int = BOOTSTRAP_SEED, reference: str = REFERENCE_SUBMISSION) -> list[ScoreRow]:
    """Scores, intervals, rank bounds and speedups for every submission of a pool, best first."""
    bases, variants = pool.base_workloads, pool.variants
    times = point_times(pool)
    ruled = apply_variant_rule({s: {w: t.get(w, INF) for w in bases} for s, t in times.items()},
                               {s: {v: t.get(v, INF) for v in variants} for s, t in times.items()},
                               {v: pool.variant_of[v] for v in variants}, r_max)
    studies = {s: {w: pool.studies[s].get(w, [[INF]]) if math.isfinite(ruled[s][w]) else [[INF]] for w in bases}
               for s in pool.studies}  # a base workload lost to the variant rule is a miss in every replicate
    boot = bootstrap_scores(studies, bases, n_boot=n_boot, seed=seed, r_max=r_max)
    ratios = performance_ratios(ruled, bases, r_max)
    bounds = rank_upper_bounds({s: tuple(boot.scores[s]) for s in boot.scores})
    order = sorted(boot.scores, key=lambda s: (-boot.scores[s].point, s))
    rows = []
    for rank, sub in enumerate(order, start=1):
        speedup = (speedup_vs_reference(ruled[sub], ruled[reference], pool.budgets, bases)
                   if reference in ruled else None)
        rows.append(ScoreRow(
            submission=sub, run_id=pool.runs[sub], score=boot.scores[sub].point, score_lo=boot.scores[sub].lo,
            score_hi=boot.scores[sub].hi, rank=rank, rank_bound=bounds[sub], speedup=speedup,
            times={**ruled[sub], **{v: times[sub].get(v, INF) for v in variants}},
            time_intervals={w: (iv.lo, iv.hi) for w, iv in boot.times[sub].items()},
            ratios=ratios[sub], algoperf_times=pool.algoperf.get(sub, {})))
    return rows


def score_records(pool: Pool, rows: list[ScoreRow]) -> list[dict[str, Any]]:
    """Flat records (one per submission) for CSV / JSON / Parquet; infinity stays ``inf``."""
    records = []
    for r in rows:
        record = {"pool": pool.key, "track": pool.track, "ruleset": pool.ruleset, "hardware_class": pool.hardware_class,
                  "release": pool.release, "submission": r.submission, "run_id": r.run_id, "rank": r.rank,
                  "rank_bound": r.rank_bound, "score": r.score, "score_lo": r.score_lo, "score_hi": r.score_hi,
                  "speedup_vs_reference": r.speedup}
        for w in pool.base_workloads + pool.variants:
            record[f"time:{w}"] = r.times.get(w, INF)
        for w in pool.base_workloads:
            record[f"ratio:{w}"] = r.ratios.get(w, INF)
            lo, hi = r.time_intervals.get(w, (INF, INF))
            record[f"time_lo:{w}"], record[f"time_hi:{w}"] = lo, hi
            record[f"algoperf_time:{w}"] = r.algoperf_times.get(w, INF)
        records.append(record)
    return records


def profile_points(ratios: Mapping[str, float], r_max: float = R_MAX) -> list[tuple[float, float, list[str]]]:
    """The profile as a step function: ``(tau, rho, workloads solved at tau)`` at tau = 1 and every jump.

    >>> profile_points({"a": 1.0, "b": 2.0, "c": math.inf})
    [(1.0, 0.3333333333333333, ['a']), (2.0, 0.6666666666666666, ['a', 'b']), (4.0, 0.6666666666666666, ['a', 'b'])]
    """
    n = len(ratios) or 1
    jumps = sorted({1.0, r_max, *(r for r in ratios.values() if r <= r_max)})
    return [(tau, sum(r <= tau for r in ratios.values()) / n, sorted(w for w, r in ratios.items() if r <= tau))
            for tau in jumps]
