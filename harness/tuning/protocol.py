"""Tuning protocols: from trial outcomes to one time per workload. Pure functions; a miss is ``math.inf``.

**Official protocol** (what Podium scores):

1. In each study, every hyperparameter point is run on the study's *tuning* seeds.
2. :func:`select_configuration` picks the point with the best (lowest) median time-to-result over its tuning seeds.
   Misses count as infinity inside the median. Ties go to the point drawn first (lowest trial index), which is
   independent of every outcome. If no point ever reached the target, there is no selection and the study's time is
   infinity. Only tuning-seed outcomes are looked at: the selection cannot see scoring seeds.
3. The selected point is re-run on K held-out *scoring* seeds; :func:`study_time` is the median over them
   (a miss is infinity, so a study whose chosen point misses on most scoring seeds scores infinity).
4. :func:`workload_time` is the median over studies.

**AlgoPerf-compatible protocol** (for comparison with published AlgoPerf numbers):
:func:`algoperf_workload_time` is the median over studies of the fastest tuning trial in each study. It reuses the
outcomes that chose the configuration, so it is optimistically biased; Podium stores it but does not rank by it.

Medians of an even count are the mean of the two middle values (``statistics.median``); inf + finite = inf.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

INF = math.inf


@dataclass(frozen=True)
class TrialOutcomeRow:
    """One finished trial, as the protocols see it."""

    study: int
    trial_index: int  # which hyperparameter point of the study
    role: str  # "tuning" or "scoring"
    seed_index: int
    time_to_result_s: float  # inf for missed / failed / timed out


def median(values: Iterable[float]) -> float:
    """Median with infinities allowed; the median of nothing is infinity.

    >>> median([1.0, INF, 3.0]), median([1.0, INF]), median([])
    (3.0, inf, inf)
    """
    values = sorted(values)
    return statistics.median(values) if values else INF


def select_configuration(rows: Sequence[TrialOutcomeRow], study: int) -> int | None:
    """The trial index whose median tuning time is lowest in ``study``; None if none reached the target.

    >>> rows = [TrialOutcomeRow(0, 0, "tuning", 0, 5.0), TrialOutcomeRow(0, 1, "tuning", 0, 3.0),
    ...         TrialOutcomeRow(0, 1, "scoring", 0, 99.0)]
    >>> select_configuration(rows, study=0)
    1
    """
    by_point: dict[int, list[float]] = {}
    for row in rows:
        if row.study == study and row.role == "tuning":
            by_point.setdefault(row.trial_index, []).append(row.time_to_result_s)
    ranked = sorted((median(times), index) for index, times in by_point.items())
    if not ranked or math.isinf(ranked[0][0]):
        return None
    return ranked[0][1]


def study_time(rows: Sequence[TrialOutcomeRow], study: int) -> float:
    """Median over scoring seeds of the selected point's time; inf when nothing was selected or scored."""
    return median(r.time_to_result_s for r in rows if r.study == study and r.role == "scoring")


def workload_time(rows: Sequence[TrialOutcomeRow]) -> float:
    """Official workload time: median over studies of :func:`study_time`."""
    return median(study_time(rows, s) for s in sorted({r.study for r in rows}))


def algoperf_workload_time(rows: Sequence[TrialOutcomeRow]) -> float:
    """AlgoPerf-compatible time: median over studies of the fastest tuning trial (of the fastest trial, in a study
    that had nothing to tune: self-tuning, or a single hyperparameter point)."""
    def fastest(study: int) -> float:
        tuning = [r.time_to_result_s for r in rows if r.study == study and r.role == "tuning"]
        return min(tuning or [r.time_to_result_s for r in rows if r.study == study], default=INF)

    return median(fastest(s) for s in sorted({r.study for r in rows}))


def summarize(rows: Sequence[TrialOutcomeRow]) -> Mapping[str, object]:
    """Both protocols plus the per-study selections, as stored with a run."""
    studies = sorted({r.study for r in rows})
    return {
        "selected": {s: select_configuration(rows, s) for s in studies},
        "study_times": {s: study_time(rows, s) for s in studies},
        "workload_time": workload_time(rows),
        "algoperf_workload_time": algoperf_workload_time(rows),
    }
