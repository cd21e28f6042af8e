"""Migration 4 (CPU time, wall-time accounting, contention, attempts) upgrades a version-3 database in place."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from harness.runner.messages import EvalRecord
from harness.store import ResultsStore
from harness.store.schema import MIGRATIONS, SCHEMA_VERSION

NEW_TRIAL_COLUMNS = {"spawn_time_s", "tail_time_s", "cpu_submission_time_s", "cpu_time_to_result_s", "trial_cpu_s",
                     "cores_busy_s", "cores_steal_s", "cpu_share", "foreign_share", "contended",
                     "involuntary_switches", "load_mean", "loadavg_1m", "measured_cores", "attempts", "attempts_json",
                     "measurements_json"}


def _v3_database(path: Path) -> None:
    """A database as Podium wrote it at schema version 3, with one finished trial, one eval and a noise floor."""
    with sqlite3.connect(path) as conn:
        for script in MIGRATIONS[:3]:
            for statement in script.split(";"):
                if statement.strip():
                    conn.execute(statement)
        conn.execute("PRAGMA user_version=3")
        conn.execute("INSERT INTO runs VALUES ('r1', 'now', 'training', 's', '/s', 'h', 'external', 'cpu-2core', "
                     "'test', '0', 'c', '{}')")
        conn.execute("INSERT INTO trials (trial_id, run_id, workload, workload_spec_hash, data_revision, study, "
                     "trial_index, role, seed, hyperparameters_json, budget_s, status, time_to_result_s, "
                     "wall_time_s, record_version, started_at) VALUES ('t1', 'r1', 'digits_mlp', 'x', 'd', 0, 0, "
                     "'tuning', 1, '{}', 10.0, 'reached', 1.5, 4.0, 1, 'now')")
        conn.execute("INSERT INTO evals (trial_id, eval_index, step, submission_time_s, eval_time_s, wall_time_s, "
                     "metrics_json) VALUES ('t1', 0, 10, 1.5, 0.01, 2.0, '{\"accuracy\": 0.99}')")
        conn.execute("INSERT INTO noise_floor VALUES ('cpu-2core', 'digits_mlp', 'adamw', 5, 1.0, 0.2, 0.2, "
                     "'[1.0]', '{}', 'now')")


def test_version_3_database_upgrades_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    _v3_database(path)
    store = ResultsStore(path)
    assert store.schema_version() == SCHEMA_VERSION == 5
    trial = store.trials()[0]
    assert NEW_TRIAL_COLUMNS <= set(trial)
    assert trial["time_to_result_s"] == 1.5 and trial["wall_time_s"] == 4.0
    assert all(trial[c] is None for c in NEW_TRIAL_COLUMNS)  # unknown, not zero and not "uncontended"
    assert store.evals("t1")[0]["cpu_submission_time_s"] is None
    noise = store.noise_floor()
    assert len(noise) == 1 and noise[0]["load"] == "idle" and noise[0]["cv"] == 0.2 and noise[0]["cpu_cv"] is None


def test_upgraded_database_takes_the_new_rows(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    _v3_database(path)
    store = ResultsStore(path)
    store.add_eval("t1", EvalRecord(trial_id="t1", eval_index=1, step=20, submission_time_s=2.0,
                                    cpu_submission_time_s=1.9, eval_time_s=0.01, wall_time_s=3.0, metrics={}))
    store.finish_trial("t1", {"contended": True, "foreign_share": 0.5, "attempts": 2,
                              "attempts_json": [{"attempt": 1}, {"attempt": 2}]})
    trial = store.trials()[0]
    assert trial["contended"] == 1 and json.loads(trial["attempts_json"])[1]["attempt"] == 2
    assert store.evals("t1")[1]["cpu_submission_time_s"] == 1.9
    base = dict(hardware_class="cpu-2core", workload="digits_mlp", submission_name="adamw", repeats=2, mean_s=1.0,
                std_s=0.1, cv=0.1, times_json=[1.0, 1.1], cpu_mean_s=0.9, cpu_std_s=0.01, cpu_cv=0.01,
                cpu_times_json=[0.9, 0.91], contended_runs=2, provenance_json={})
    store.save_noise_floor({**base, "load": "cotenant"})
    assert [r["load"] for r in store.noise_floor()] == ["cotenant", "idle"]  # one row per load condition
