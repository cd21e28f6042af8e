"""Database I/O for runs, trials and evaluation rows.

SQLite in WAL mode with ``synchronous=FULL``: each committed row survives a ``kill -9`` of the runner (and a power
cut), and readers (``podium results``, the leaderboard) never block the writer. Evaluation rows arrive on the
supervisor's reader thread, so writes are serialised by a lock on one connection.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.store.schema import MIGRATIONS, RECORD_VERSION, SCHEMA_VERSION

FINAL_STATUSES = ("reached", "missed", "failed", "timed_out")


class StoreError(RuntimeError):
    """The database cannot be used (newer schema, not a Podium database, unwritable path)."""


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


class ResultsStore:
    """A Podium results database.

    Example:
        >>> import tempfile, pathlib
        >>> store = ResultsStore(pathlib.Path(tempfile.mkdtemp()) / "r.db")
        >>> store.schema_version() == SCHEMA_VERSION
        True
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the results database {self.path}: {exc}") from None
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    # ---- schema -------------------------------------------------------------------------------------------------
    def schema_version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise StoreError(f"{self.path} has schema version {current}, newer than this Podium understands "
                             f"({SCHEMA_VERSION}); upgrade Podium to read it")
        for version in range(current, SCHEMA_VERSION):
            with self._transaction():
                self._run_script(MIGRATIONS[version])  # executescript() would COMMIT mid-transaction
                self._conn.execute(f"PRAGMA user_version={version + 1}")

    def _run_script(self, script: str) -> None:
        for statement in script.split(";"):
            if statement.strip():
                self._conn.execute(statement)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # ---- writes -------------------------------------------------------------------------------------------------
    def add_run(self, run: dict[str, Any]) -> None:
        """Insert a run row unless it exists (re-running the same command resumes the same run)."""
        row = {**run, "created_at": utcnow(), "config_json": _dumps(run["config_json"])}
        with self._transaction() as db:
            db.execute(f"INSERT OR IGNORE INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                       tuple(row.values()))

    def start_trial(self, trial: dict[str, Any]) -> None:
        """Record that a trial started; a leftover unfinished row (and its evals) from a killed run is replaced."""
        row = {**trial, "hyperparameters_json": _dumps(trial["hyperparameters_json"]), "status": "running",
               "record_version": RECORD_VERSION, "started_at": utcnow()}
        with self._transaction() as db:
            db.execute("DELETE FROM evals WHERE trial_id = ?", (trial["trial_id"],))
            db.execute("DELETE FROM trials WHERE trial_id = ?", (trial["trial_id"],))
            db.execute(f"INSERT INTO trials ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                       tuple(row.values()))

    def add_eval(self, trial_id: str, record: Any) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO evals (trial_id, eval_index, step, submission_time_s, cpu_submission_time_s, eval_time_s, "
                "wall_time_s, metrics_json, logged_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (trial_id, record.eval_index, record.step, record.submission_time_s, record.cpu_submission_time_s,
                 record.eval_time_s, record.wall_time_s, _dumps(record.metrics), _dumps(record.logged)))

    def finish_trial(self, trial_id: str, fields: dict[str, Any]) -> None:
        row = {k: (_dumps(v) if isinstance(v, (dict, list)) else v) for k, v in fields.items()}
        row["finished_at"] = utcnow()
        with self._transaction() as db:
            db.execute(f"UPDATE trials SET {', '.join(f'{k} = ?' for k in row)} WHERE trial_id = ?",
                       (*row.values(), trial_id))

    def save_manifest(self, run_id: str, digest: str, manifest_json: str) -> None:
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO manifests (run_id, digest, manifest_json) VALUES (?, ?, ?)",
                       (run_id, digest, manifest_json))

    def set_workload_time(self, run_id: str, workload: str, summary: dict[str, Any]) -> None:
        """Store both protocols' times for a workload (``inf`` is stored as SQLite's infinity)."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO workload_times (run_id, workload, workload_time_s, algoperf_time_s, "
                "study_times_json, selected_json, computed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, workload, summary["workload_time"], summary["algoperf_workload_time"],
                 _dumps(summary["study_times"]), _dumps(summary["selected"]), utcnow()))

    def save_noise_floor(self, row: dict[str, Any]) -> None:
        row = {**row, "created_at": utcnow(),
               **{k: _dumps(row[k]) for k in ("times_json", "cpu_times_json", "provenance_json") if k in row}}
        with self._transaction() as db:
            db.execute(f"INSERT OR REPLACE INTO noise_floor ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                       tuple(row.values()))

    # ---- reads --------------------------------------------------------------------------------------------------
    def finished_trial_ids(self, run_id: str) -> set[str]:
        rows = self._conn.execute(
            f"SELECT trial_id FROM trials WHERE run_id = ? AND status IN ({', '.join('?' * len(FINAL_STATUSES))})",
            (run_id, *FINAL_STATUSES))
        return {r[0] for r in rows}

    def runs(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self._conn.execute("SELECT * FROM runs ORDER BY created_at, run_id")]

    def run_summaries(self) -> list[dict[str, Any]]:
        """Each run with its trials counted by status (``trials``, ``reached``, ``missed``, ``failed``: failed or
        timed out, ``unfinished``: started, no final status), oldest first."""
        final = ", ".join("?" * len(FINAL_STATUSES))
        query = ("SELECT r.run_id, r.created_at, r.track, r.submission_name, r.ruleset, r.hardware_class, r.release, "
                 "COUNT(t.trial_id) AS trials, COALESCE(SUM(t.status = 'reached'), 0) AS reached, "
                 "COALESCE(SUM(t.status = 'missed'), 0) AS missed, "
                 "COALESCE(SUM(t.status IN ('failed', 'timed_out')), 0) AS failed, "
                 f"COALESCE(SUM(t.status NOT IN ({final})), 0) AS unfinished "
                 "FROM runs r LEFT JOIN trials t USING (run_id) GROUP BY r.run_id ORDER BY r.created_at, r.run_id")
        return [dict(r) for r in self._conn.execute(query, FINAL_STATUSES)]

    def trials(self, run_id: str | None = None) -> list[dict[str, Any]]:
        query = ("SELECT t.*, r.submission_name, r.hardware_class, r.track, r.ruleset, r.release "
                 "FROM trials t JOIN runs r USING (run_id)"
                 + (" WHERE t.run_id = ?" if run_id else "") + " ORDER BY t.started_at, t.trial_id")
        return [dict(r) for r in self._conn.execute(query, (run_id,) if run_id else ())]

    def evals(self, trial_id: str) -> list[dict[str, Any]]:
        return [dict(r) for r in self._conn.execute(
            "SELECT * FROM evals WHERE trial_id = ? ORDER BY eval_index", (trial_id,))]

    def manifest(self, run_id: str) -> tuple[str, str] | None:
        """``(digest, manifest_json)`` of a planned run, or None."""
        row = self._conn.execute("SELECT digest, manifest_json FROM manifests WHERE run_id = ?", (run_id,)).fetchone()
        return (row[0], row[1]) if row else None

    def workload_times(self, run_id: str | None = None) -> list[dict[str, Any]]:
        query = ("SELECT w.*, r.submission_name, r.ruleset, r.hardware_class FROM workload_times w "
                 "JOIN runs r USING (run_id)" + (" WHERE w.run_id = ?" if run_id else "") + " ORDER BY run_id, workload")
        return [dict(r) for r in self._conn.execute(query, (run_id,) if run_id else ())]

    def noise_floor(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self._conn.execute("SELECT * FROM noise_floor ORDER BY hardware_class, workload, load")]

    def close(self) -> None:
        self._conn.close()
