"""Paths: the installed ``podium`` works from any folder, with the default ``--db`` and with relative paths.

The first release's ``make demo`` failed on a fresh clone because the default ``--db`` was relative and the trial
worker starts in another working directory; every test passed because tests used absolute ``tmp_path``s. These tests
run the installed entry point the way a user does.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

PODIUM = Path(sys.executable).parent / "podium"


def podium(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    assert PODIUM.exists(), f"the podium entry point is not installed next to {sys.executable}"
    return subprocess.run([str(PODIUM), *args], cwd=cwd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "COLUMNS": "200"})


def finished_trials(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT status, reason FROM trials").fetchall()


def test_default_db_from_a_temporary_folder(adamw_dir: Path, tmp_path: Path) -> None:
    out = podium(tmp_path, "run", str(adamw_dir), "--workload", "digits_mlp", "--scoring-seeds", "0")
    assert out.returncode == 0, out.stderr
    db = tmp_path / "podium-results" / "results.db"
    rows = finished_trials(db)
    assert rows and all(status in ("reached", "missed") for status, _ in rows), rows
    assert (tmp_path / "podium-results" / "manifests").is_dir()
    results = podium(tmp_path, "results", "--format", "json")
    assert results.returncode == 0 and '"status"' in results.stdout


def test_relative_submission_and_db_from_another_folder(adamw_dir: Path, tmp_path: Path) -> None:
    shutil.copytree(adamw_dir, tmp_path / "subs" / "mine")
    work = tmp_path / "work"
    work.mkdir()
    out = podium(work, "run", "../subs/mine", "--workload", "digits_mlp", "--scoring-seeds", "0",
                 "--db", "../out/r.db")
    assert out.returncode == 0, out.stderr
    rows = finished_trials(tmp_path / "out" / "r.db")
    assert rows and all(status in ("reached", "missed") for status, _ in rows), rows
    # --allow-contended: this test is about paths; on a busy machine its one trial is flagged contended, and a
    # refusal to publish it would fail the test for the load, not for a path
    published = podium(work, "publish", "--db", "../out/r.db", "--allow-contended")
    assert published.returncode == 0, published.stderr
    assert list((tmp_path / "out" / "bundles").iterdir()), "the bundle goes beside the database by default"
