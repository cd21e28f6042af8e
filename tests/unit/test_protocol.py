"""Tuning protocols on hand-made tables of trial outcomes (times hand-computed in the comments)."""

from __future__ import annotations

import math

from hypothesis import given, strategies as st

from harness.tuning.protocol import (
    INF, TrialOutcomeRow as R, algoperf_workload_time, select_configuration, study_time, summarize, workload_time,
)

# Two studies, three points each, one tuning seed per point, three scoring seeds for the selected point.
TABLE = [
    # study 0: point 1 is fastest on tuning (4.0); its scoring seeds give 5, 6, inf -> median 6.0
    R(0, 0, "tuning", 0, 9.0), R(0, 1, "tuning", 0, 4.0), R(0, 2, "tuning", 0, INF),
    R(0, 1, "scoring", 0, 5.0), R(0, 1, "scoring", 1, 6.0), R(0, 1, "scoring", 2, INF),
    # study 1: point 0 and 2 tie at 7.0 -> the first drawn (0) wins; scoring 8, 7, 9 -> median 8.0
    R(1, 0, "tuning", 0, 7.0), R(1, 1, "tuning", 0, INF), R(1, 2, "tuning", 0, 7.0),
    R(1, 0, "scoring", 0, 8.0), R(1, 0, "scoring", 1, 7.0), R(1, 0, "scoring", 2, 9.0),
]


def test_selection_and_tie_break() -> None:
    assert select_configuration(TABLE, 0) == 1
    assert select_configuration(TABLE, 1) == 0


def test_official_protocol() -> None:
    assert study_time(TABLE, 0) == 6.0
    assert study_time(TABLE, 1) == 8.0
    assert workload_time(TABLE) == 7.0  # median of 6 and 8


def test_algoperf_protocol() -> None:
    assert algoperf_workload_time(TABLE) == 5.5  # median of min(9, 4, inf)=4 and min(7, inf, 7)=7


def test_all_misses_is_infinity() -> None:
    rows = [R(0, i, "tuning", 0, INF) for i in range(3)]
    assert select_configuration(rows, 0) is None
    assert workload_time(rows) == INF and algoperf_workload_time(rows) == INF


def test_median_over_tuning_seeds_counts_misses() -> None:
    rows = [R(0, 0, "tuning", 0, 1.0), R(0, 0, "tuning", 1, INF), R(0, 0, "tuning", 2, INF),  # median inf
            R(0, 1, "tuning", 0, 3.0), R(0, 1, "tuning", 1, 3.0), R(0, 1, "tuning", 2, INF)]  # median 3
    assert select_configuration(rows, 0) == 1


def test_summary_has_both_protocols() -> None:
    summary = summarize(TABLE)
    assert summary["selected"] == {0: 1, 1: 0}
    assert summary["workload_time"] == 7.0 and summary["algoperf_workload_time"] == 5.5


times = st.one_of(st.floats(0.1, 100.0), st.just(math.inf))


@given(tuning=st.lists(times, min_size=1, max_size=6), scoring=st.lists(times, min_size=1, max_size=5),
       other=st.lists(times, min_size=1, max_size=5))
def test_scoring_outcomes_cannot_change_the_selection(tuning, scoring, other) -> None:
    rows = [R(0, i, "tuning", 0, t) for i, t in enumerate(tuning)]
    chosen = select_configuration(rows, 0)
    with_scoring = rows + [R(0, chosen or 0, "scoring", k, t) for k, t in enumerate(scoring)]
    changed = rows + [R(0, chosen or 0, "scoring", k, t) for k, t in enumerate(other)]
    assert select_configuration(with_scoring, 0) == select_configuration(changed, 0) == chosen


def test_algoperf_time_without_tuning_rows_uses_the_study_trials() -> None:
    rows = [R(0, 0, "scoring", 0, 4.0), R(0, 0, "scoring", 1, 6.0), R(1, 0, "scoring", 0, 8.0)]
    assert algoperf_workload_time(rows) == 6.0  # median of min(4, 6) = 4 and 8
