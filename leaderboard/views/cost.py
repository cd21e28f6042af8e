"""Score against cost: what each submission spent to earn its numbers, with the Pareto front marked. Any track.

Two views, both from the bundle's ``trials`` table (the runs the pool ranks, nothing else):

* **Pool**: the benchmark score against one cost of the whole run on the pool's base workloads: the submission time
  of *every* trial (tuning and scoring: what the score cost to find and confirm), the updates of every trial, or the
  peak memory (the largest process RSS any trial reached). Higher score and lower cost are better.
* **Workload**: the workload time (the official time-to-result; a miss sits at the right edge, never on the front)
  against the median steps or peak memory of the scoring trials (the chosen configuration on held-out seeds).
"""

from __future__ import annotations

import math

import pandas as pd

from leaderboard.views.peft import pareto_figure
from leaderboard.views.table import workloads

MIB = 2**20
#: Pool costs: column -> (axis title, what it sums).
POOL_COSTS = {
    "submission_s": ("submission time, all trials (s)", "the submission time of every trial of the run on the base "
                                                        "workloads, tuning and scoring"),
    "steps": ("updates, all trials", "the updates of every trial of the run on the base workloads"),
    "peak_mib": ("peak memory (MiB)", "the largest process RSS of any trial of the run"),
}
#: Workload costs: column -> axis title.
WORKLOAD_COSTS = {"steps": "steps to result (median over scoring trials)",
                  "peak_mib": "peak memory (MiB, median over scoring trials)"}


def _run_trials(trials: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    if trials.empty or records.empty or "run_id" not in trials:
        return trials.iloc[0:0]
    return trials[trials["run_id"].isin(set(records["run_id"]))]


def pool_costs(trials: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """Per ranked submission: rank, score and the costs of :data:`POOL_COSTS` (NaN where no trial recorded one).

    >>> rec = pd.DataFrame({"submission": ["a"], "run_id": ["r"], "rank": [1], "score": [0.5], "ratio:w": [1.0]})
    >>> t = pd.DataFrame({"run_id": ["r", "r", "r"], "workload": ["w", "w", "v"], "submission_time_s": [2.0, 3.0, 9.0],
    ...                   "steps": [10, 20, 99], "peak_rss_bytes": [MIB, 3 * MIB, 5 * MIB]})
    >>> pool_costs(t, rec)[["submission", "submission_s", "steps", "peak_mib"]].to_dict("records")
    [{'submission': 'a', 'submission_s': 5.0, 'steps': 30.0, 'peak_mib': 5.0}]
    """
    bases, _ = workloads(records)
    rows = _run_trials(trials, records)
    by_run = dict(tuple(rows.groupby("run_id", sort=False))) if len(rows) else {}  # one pass, not one per run
    empty = trials.iloc[0:0]
    out = []
    for _, r in records.iterrows():
        mine = by_run.get(r["run_id"], empty)
        on_bases = mine[mine["workload"].isin(bases)] if bases and "workload" in mine else mine

        def total(column: str) -> float:
            values = pd.to_numeric(on_bases.get(column, pd.Series(dtype=float)), errors="coerce").dropna()
            return float(values.sum()) if len(values) else math.nan

        peak = pd.to_numeric(mine.get("peak_rss_bytes", pd.Series(dtype=float)), errors="coerce").dropna()
        out.append({"submission": r["submission"], "rank": r["rank"], "score": float(r["score"]),
                    "trials": len(on_bases), "submission_s": total("submission_time_s"), "steps": total("steps"),
                    "peak_mib": float(peak.max()) / MIB if len(peak) else math.nan})
    return pd.DataFrame(out, columns=["submission", "rank", "score", "trials", *POOL_COSTS])


def workload_costs(trials: pd.DataFrame, records: pd.DataFrame, workload: str) -> pd.DataFrame:
    """Per ranked submission on one workload: its workload time (``inf`` = miss) and the medians of
    :data:`WORKLOAD_COSTS` over its scoring trials there."""
    rows = _run_trials(trials, records)
    by_run = dict(tuple(rows[rows["workload"] == workload].groupby("run_id", sort=False))) if len(rows) else {}
    empty = trials.iloc[0:0]
    out = []
    for _, r in records.iterrows():
        mine = by_run.get(r["run_id"], empty)
        scoring = mine[mine["role"] == "scoring"] if "role" in mine else mine

        def median(column: str, scale: float = 1.0) -> float:
            values = pd.to_numeric(scoring.get(column, pd.Series(dtype=float)), errors="coerce").dropna()
            return float(values.median()) / scale if len(values) else math.nan

        time = r.get(f"time:{workload}", math.nan)
        out.append({"submission": r["submission"], "rank": r["rank"],
                    "time": float(time) if time is not None else math.nan, "why": r.get(f"why:{workload}", ""),
                    "steps": median("steps"), "peak_mib": median("peak_rss_bytes", MIB)})
    return pd.DataFrame(out, columns=["submission", "rank", "time", "why", *WORKLOAD_COSTS])


def _num(value, spec: str, unit: str = "") -> str:
    """
    >>> _num(2.5, ".1f", " s"), _num(float("nan"), ".1f"), _num(float("inf"), ".1f")
    ('2.5 s', '–', 'miss')
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "–"
    if math.isnan(number):
        return "–"
    return "miss" if number == math.inf else f"{number:{spec}}{unit}"


def _hover(frame: pd.DataFrame, lines: list[tuple[str, str, str, str]]) -> pd.Series:
    """One hover text per row: the submission, then ``label value`` for each ``(label, column, format, unit)``."""
    return pd.Series([f"<b>{row['submission']}</b><br>" + "<br>".join(
        f"{label} {_num(row[column], spec, unit)}" for label, column, spec, unit in lines)
        for row in frame.to_dict("records")], index=frame.index, dtype=object)


def score_cost_figure(costs: pd.DataFrame, cost: str):
    """The benchmark score against one pool cost; the front: no other submission has a higher score for less."""
    title, _ = POOL_COSTS[cost]
    hover = _hover(costs, [("score", "score", ".3f", ""), ("submission time, all trials", "submission_s", ".1f", " s"),
                           ("trials", "trials", ".0f", ""), ("updates", "steps", ".0f", ""),
                           ("peak memory", "peak_mib", ".0f", " MiB")])
    return pareto_figure(costs, cost, "score", (True, False), title, "benchmark score (higher is better)",
                         f"score vs {title}", hover=hover)


def workload_cost_figure(costs: pd.DataFrame, cost: str, workload: str):
    """Workload time against one workload cost; misses at the right edge (never on the front)."""
    hover = _hover(costs, [("workload time", "time", ".1f", " s"), ("steps", "steps", ".0f", ""),
                           ("peak memory", "peak_mib", ".0f", " MiB")])
    return pareto_figure(costs, "time", cost, (True, True), f"workload time on {workload} (s; miss at the right)",
                         WORKLOAD_COSTS[cost], f"{workload}: {WORKLOAD_COSTS[cost].split(' (')[0]} vs time",
                         hover=hover)
