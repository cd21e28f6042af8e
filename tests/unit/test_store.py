"""The results store: schema versioning and durability of committed rows under kill -9."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness.runner.messages import EvalRecord
from harness.store import ResultsStore, StoreError
from harness.store.schema import SCHEMA_VERSION


def _run_row(run_id: str = "r1") -> dict:
    return dict(run_id=run_id, track="training", submission_name="s", submission_dir="/s", submission_hash="h",
                ruleset="external", hardware_class="cpu-2core", release="test", harness_version="0",
                git_commit="c", config_json={"a": 1})


def _trial_row(trial_id: str = "t1", run_id: str = "r1") -> dict:
    return dict(trial_id=trial_id, run_id=run_id, workload="digits_mlp", workload_spec_hash="x", data_revision="d",
                study=0, trial_index=0, role="tuning", seed=1, hyperparameters_json={"lr": 0.1}, budget_s=1.0,
                validation_target=0.9)


def test_fresh_database_has_current_schema_and_wal(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.db")
    assert store.schema_version() == SCHEMA_VERSION
    assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    ResultsStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer than this Podium"):
        ResultsStore(path)


def test_round_trip_and_restart_of_unfinished_trial(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.db")
    store.add_run(_run_row())
    store.add_run(_run_row())  # idempotent: resuming a run re-adds it
    store.start_trial(_trial_row())
    store.add_eval("t1", EvalRecord(trial_id="t1", eval_index=0, step=5, submission_time_s=0.1, eval_time_s=0.01,
                                    wall_time_s=0.2, metrics={"accuracy": 0.5}))
    assert store.finished_trial_ids("r1") == set()
    store.start_trial(_trial_row())  # a restart replaces the unfinished row and its evals
    assert store.evals("t1") == []
    store.finish_trial("t1", {"status": "reached", "time_to_result_s": 0.1, "validation_json": {"accuracy": 0.9}})
    assert store.finished_trial_ids("r1") == {"t1"}
    assert len(store.runs()) == 1 and store.trials()[0]["status"] == "reached"


WRITER = textwrap.dedent("""
    import sys
    from harness.runner.messages import EvalRecord
    from harness.store import ResultsStore
    sys.path.insert(0, {tests!r})
    from test_store import _run_row, _trial_row
    store = ResultsStore({db!r})
    store.add_run(_run_row()); store.start_trial(_trial_row())
    i = 0
    while True:
        store.add_eval("t1", EvalRecord(trial_id="t1", eval_index=i, step=i, submission_time_s=i, eval_time_s=0,
                                        wall_time_s=i, metrics={{"accuracy": 0.5}}))
        print(i, flush=True)  # reported only after the commit returned
        i += 1
""")


def test_kill_9_loses_no_committed_row(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    writer = subprocess.Popen([sys.executable, "-c", WRITER.format(tests=str(Path(__file__).parent), db=str(db))],
                              stdout=subprocess.PIPE, text=True)
    committed = -1
    deadline = time.monotonic() + 60
    while committed < 200 and time.monotonic() < deadline:
        committed = int(writer.stdout.readline())
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert committed >= 200
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = ResultsStore(db).evals("t1")
    assert len(rows) >= committed + 1  # every row reported as committed is there
    assert [r["eval_index"] for r in rows] == list(range(len(rows)))
