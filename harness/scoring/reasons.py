"""Why a workload time or a performance ratio is infinite, in one wording that every output uses.

An infinite time is never left unexplained: the CLI tables, the JSON files, the bundle's ``scores`` table and the
leaderboard all show the text :func:`explain_infinity` returns, so the same cause reads the same everywhere.
The causes, in the order they are checked:

1. the submission's own runs did not reach the target: missed (with the best final validation value of the missed
   runs against the target, when the trial rows record it: ``validation_json`` holds a run's last evaluation),
   failed or timed out (with the supervisor's reason), or never ran;
2. it reached the target on the workload but failed a scored held-out variant (the variant is named, with the
   variant's own cause);
3. it reached the target, but more than ``r_max`` times slower than the best in the pool (only the ratio is infinite),
   or than the best before the held-out variant rule: AlgoPerf's rule cuts at ``r_max`` first, so a base time can
   be cut against a submission that the variant rule then removes (see :func:`harness.scoring.apply_variant_rule`).

Pure functions: the inputs are trial rows (dicts, as stored and as in a bundle's ``trials`` table) and numbers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.scoring.profiles import R_MAX

FAILED = ("failed", "timed_out")

# ---- the one vocabulary ----------------------------------------------------------------------------------------
# What a person reads in place of an infinite time or ratio, in every table (CLI and leaderboard); bundles and JSON
# keep the number (inf, null in strict JSON) and the cause (why:<workload>). The bound on a rank an interval allows
# is "best rank" to a reader and ``rank_bound`` as a field.
MISS = "miss"  # the submission's own runs did not reach the target (missed, failed, timed out, never ran)
VARIANT_MISS = "variant miss"  # reached the base target, failed a scored held-out variant (named after a colon)
BEYOND_R_MAX = "> r_max"  # reached it, more than r_max times slower than the best (only the ratio is infinite)
BEST_RANK = "best rank"
NO_SCORING_RUN = "no scoring run"  # how the cause of a time that was never measured on a scoring seed begins
NOT_SCORED = "-"  # its marker: no official time, which is not a miss (the note says why)
_VARIANT_PREFIX = "held-out variant "


def infinity_marker(why: str, named: bool = True) -> str:
    """The short word a table shows for an infinite time or ratio, from the cause :func:`explain_infinity` gave.

    >>> infinity_marker("target missed on 3 of 3 runs")
    'miss'
    >>> infinity_marker("held-out variant w_v: failed on 1 of 1 run: oom"), infinity_marker("held-out variant w_v: x",
    ...                                                                                       named=False)
    ('variant miss: w_v', 'variant miss')
    >>> infinity_marker("ratio 5.00 beyond r_max 4 (against the best time before the held-out variant rule)")
    '> r_max'
    >>> infinity_marker(NO_SCORING_RUN + ": the point selected on the tuning seeds was not re-run")
    '-'
    """
    why = why or ""
    if why.startswith(NO_SCORING_RUN):
        return NOT_SCORED
    if why.startswith(_VARIANT_PREFIX):
        variant = why[len(_VARIANT_PREFIX):].split(":", 1)[0]
        return f"{VARIANT_MISS}: {variant}" if named else VARIANT_MISS
    if why.startswith("ratio ") and "beyond r_max" in why:
        return BEYOND_R_MAX
    return MISS


@dataclass(frozen=True)
class Evidence:
    """What the counted trials of one (submission, workload) say about its outcome.

    Attributes:
        runs: counted trials: the scoring runs, or the tuning trials when nothing was re-run on scoring seeds.
        scored: False when no scoring run exists and the evidence comes from tuning trials.
        missed: how many counted trials missed the target.
        failures: ``(status, reason)`` of each failed or timed-out trial, in order.
        best: the best final validation value (last evaluation) among the missed trials, when recorded.
        target: the validation target.
        metric: the name of the workload's metric (empty when unknown).
        higher_is_better: the metric's direction.
        missed_reason: the first missed trial's own reason (for a miss that ``best`` does not explain: a value that
            met the target too late, or a compressed model that kept its quality floor but missed its ratio target).
        selected: a point was selected on the tuning seeds (in some study), so a missing scoring run, not the
            tuning trials, is why there is no official time.
    """

    runs: int = 0
    scored: bool = True
    missed: int = 0
    failures: tuple[tuple[str, str], ...] = ()
    best: float | None = None
    target: float | None = None
    metric: str = ""
    higher_is_better: bool = True
    missed_reason: str = ""
    selected: bool = False

    @property
    def n(self) -> int:
        """Runs behind the workload time: studies x scoring seeds (0 when nothing was re-run on scoring seeds)."""
        return self.runs if self.scored else 0


def _metric_value(raw: Any, metric: str) -> float | None:
    values = json.loads(raw) if isinstance(raw, str) and raw else raw
    value = values.get(metric) if isinstance(values, Mapping) and metric else None
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def evidence(rows: Iterable[Mapping[str, Any]], metric: str = "", higher_is_better: bool = True,
             scored: bool = True, selected: bool = False) -> Evidence:
    """Summarize the counted trial rows of one (submission, workload).

    Args:
        rows: trial rows with ``status``, ``reason``, ``validation_json`` and ``validation_target``.
        metric: the workload's metric, the key of ``validation_json`` compared with the target.
        higher_is_better: the metric's direction, to pick the best value.
        scored: whether the rows are scoring runs (False: tuning trials, nothing was re-run).
        selected: whether the tuning protocol selected a point (:func:`harness.tuning.protocol.select_configuration`).

    >>> rows = [{"status": "missed", "validation_json": '{"accuracy": 0.5}', "validation_target": 0.9},
    ...         {"status": "failed", "reason": "non-finite loss at step 3"}, {"status": "reached"}]
    >>> e = evidence(rows, "accuracy")
    >>> e.runs, e.missed, e.failures, e.best, e.target
    (3, 1, (('failed', 'non-finite loss at step 3'),), 0.5, 0.9)
    """
    rows = list(rows)
    missed = [r for r in rows if r.get("status") == "missed"]
    values = [v for v in (_metric_value(r.get("validation_json"), metric) for r in missed) if v is not None]
    targets = [v for v in (r.get("validation_target") for r in rows)  # NaN: a missing value read from Parquet
               if isinstance(v, (int, float)) and math.isfinite(v)]
    return Evidence(runs=len(rows), scored=scored, missed=len(missed),
                    failures=tuple((r["status"], r.get("reason") or "") for r in rows if r.get("status") in FAILED),
                    best=(max(values) if higher_is_better else min(values)) if values else None,
                    target=float(targets[0]) if targets else None, metric=metric, higher_is_better=higher_is_better,
                    missed_reason=next((r.get("reason") or "" for r in missed if r.get("reason")), ""),
                    selected=selected)


def _runs(n: int) -> str:
    return f"{n} run" if n == 1 else f"{n} runs"


def _own_cause(ev: Evidence) -> str:
    """Why the runs themselves did not give a finite time."""
    if ev.runs == 0:
        return "not run"
    if not ev.scored and ev.selected:  # a point was selected, and never re-run: no official time, not a miss
        return (f"{NO_SCORING_RUN}: the point selected on the tuning seeds was not re-run on held-out seeds "
                "(--scoring-seeds 0, or the run has not got there yet); the AlgoPerf column has the tuning time")
    parts = []
    if ev.missed:
        detail = (f" (best final {ev.metric} {ev.best:.4f} vs target {ev.target:.4f})"
                  if ev.best is not None and ev.target is not None else "")
        met = ev.best is not None and ev.target is not None and (
            ev.best >= ev.target if ev.higher_is_better else ev.best <= ev.target)
        if met and ev.missed_reason:  # the value is not why it missed: say what is
            detail = f": {ev.missed_reason}"
        parts.append(f"target missed on {ev.missed} of {_runs(ev.runs)}{detail}")
    for status in FAILED:
        reasons = [reason for s, reason in ev.failures if s == status]
        if reasons:
            label = status.replace("_", " ")
            parts.append(f"{label} on {len(reasons)} of {_runs(ev.runs)}" + (f": {reasons[0]}" if reasons[0] else ""))
    cause = "; ".join(parts) or f"target not reached on the median of {_runs(ev.runs)}"
    return cause if ev.scored else f"no configuration selected on the tuning seeds: {cause}"


def explain_infinity(time: float, ev: Evidence | None = None, *, raw_ratio: float | None = None,
                     variant: str | None = None, variant_cause: str = "", r_max: float = R_MAX,
                     before_variant_rule: bool = False) -> str:
    """The one wording for an infinite workload time or ratio; ``""`` when neither is infinite.

    Args:
        time: the submission's own workload time (before the variant rule); ``inf`` = its runs gave no time.
        ev: the evidence of its counted runs (None: it has no runs on this workload).
        raw_ratio: time / best time in the pool, before the ``r_max`` cut (None when not scored as a ratio).
        variant: the held-out variant that made the base workload's time infinite, if any.
        variant_cause: this function's text for that variant.
        r_max: the ratio cut-off.
        before_variant_rule: ``raw_ratio`` is against the best time before the held-out variant rule.

    >>> explain_infinity(math.inf, Evidence(runs=3, missed=3, best=0.5, target=0.9, metric="accuracy"))
    'target missed on 3 of 3 runs (best final accuracy 0.5000 vs target 0.9000)'
    >>> explain_infinity(math.inf, Evidence(runs=1, missed=1, best=0.88, target=0.87, metric="accuracy",
    ...                                     missed_reason="latency_ratio 1.310 is over the target 0.950"))
    'target missed on 1 of 1 run: latency_ratio 1.310 is over the target 0.950'
    >>> explain_infinity(10.0, Evidence(runs=1), variant="w_v", variant_cause="failed on 1 of 1 run: oom")
    'held-out variant w_v: failed on 1 of 1 run: oom'
    >>> explain_infinity(50.0, Evidence(runs=1), raw_ratio=5.0)
    'ratio 5.00 beyond r_max 4'
    >>> explain_infinity(41.0, Evidence(runs=1), raw_ratio=4.1, before_variant_rule=True)
    'ratio 4.10 beyond r_max 4 (against the best time before the held-out variant rule)'
    """
    if math.isinf(time):
        return _own_cause(ev or Evidence())
    if variant is not None:
        return f"held-out variant {variant}: {variant_cause or 'not met'}"
    if raw_ratio is not None and not raw_ratio <= r_max:
        before = " (against the best time before the held-out variant rule)" if before_variant_rule else ""
        return f"ratio {raw_ratio:.2f} beyond r_max {r_max:g}{before}"
    return ""
