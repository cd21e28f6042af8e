"""Parallel local execution (pinned workers) and the noise-floor calibration, end to end through the CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from test_cli import podium


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 cores to pin two workers")
def test_two_workers_run_pinned_to_distinct_cores(adamw_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    out = podium("run", str(adamw_dir), "-w", "digits_mlp", "--trials", "2", "--scoring-seeds", "0",
                 "--workers", "2", "--threads", "1", "--db", str(db))
    assert out.returncode == 0, out.stderr
    rows = json.loads(podium("results", "--db", str(db), "--format", "json").stdout)["trials"]
    assert len(rows) == 2 and {r["status"] for r in rows} <= {"reached", "missed"}
    pinned = [json.loads(r["cpu_affinity"]) for r in rows]
    assert all(len(cpus) == 1 for cpus in pinned)
    for row, cpus in zip(rows, pinned):
        provenance = json.loads(row["provenance_json"])
        assert provenance["affinity"] == cpus and provenance["threads"] == 1  # what the trial process itself saw


def test_calibrate_stores_the_noise_floor(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    # --target: low enough that a loaded machine cannot make a run miss it within the budget; this test is about storage.
    out = podium("calibrate", "-w", "digits_mlp", "--repeats", "2", "--target", "0.5", "--db", str(db))
    assert out.returncode == 0, out.stderr
    assert "coefficient of variation" in out.stdout
    noise = json.loads(podium("results", "--db", str(db), "--format", "json").stdout)["noise_floor"]
    assert len(noise) == 1 and noise[0]["repeats"] == 2 and noise[0]["cv"] >= 0 and noise[0]["cpu_cv"] >= 0
    assert "Noise floor" in podium("results", "--db", str(db)).stdout


def test_calibrate_unknown_workload_is_exit_2(tmp_path: Path) -> None:
    out = podium("calibrate", "-w", "digits", "--db", str(tmp_path / "r.db"))
    assert out.returncode == 2 and "did you mean" in out.stderr
