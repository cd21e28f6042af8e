"""Submission code never runs in a harness process, checks included.

The fixture ``time_tamper_hang`` stops ``time.monotonic``, ``time.perf_counter`` and ``time.time`` at import, then
hangs in ``update_params``. When ``podium run`` imported it in its own process to check it, the supervisor (which
polls its limits with ``time.monotonic`` in that process) saw no time pass: the trial stayed ``running`` forever
with a wall time of 0. Now the check imports it in a child, and the trial is killed at its hang limit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from harness.check import check_submission
from harness.runner.messages import TrialLimits
from harness.store import ResultsStore
from workloads import get_spec

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "bad_submissions" / "time_tamper_hang"
WORKLOAD = "digits_mlp"


def test_checking_a_clock_stopping_submission_leaves_the_harness_clocks_alone() -> None:
    originals = (time.monotonic, time.perf_counter, time.time)
    before = time.monotonic()

    report = check_submission(FIXTURE)

    assert report.ok, report.problems  # the submission is well-formed: only what it does at import is wrong
    assert (time.monotonic, time.perf_counter, time.time) == originals
    assert time.monotonic() > before


def test_run_kills_a_clock_stopping_hang_and_records_its_real_wall_time(tmp_path: Path) -> None:
    db = tmp_path / "results.db"
    command = [sys.executable, "-m", "harness.cli", "run", str(FIXTURE), "--workload", WORKLOAD, "--scoring-seeds",
               "0", "--threads", "1", "--db", str(db)]
    # The guard, not a timing assertion: the trial's own limits end it far sooner (budget + hang grace after its
    # start-up); without them this run would never end.
    out = subprocess.run(command, capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "200"})

    assert out.returncode == 0, out.stderr
    [trial] = ResultsStore(db).trials()
    assert trial["status"] == "timed_out", trial["reason"]
    assert "a hang?" in trial["reason"] and "at step 3" in trial["reason"]
    # The supervisor kills a hang only once budget + grace of its own wall time has passed inside the call, so a
    # smaller recorded wall time would mean the supervisor's clock was stopped.
    hang_limit = get_spec(WORKLOAD).budget_for("cpu-2core") + TrialLimits().hang_grace_s
    assert trial["wall_time_s"] >= hang_limit
