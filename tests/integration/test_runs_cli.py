"""`podium runs` lists runs with whole ids at 80 columns; an unknown run id is an error that names the close ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.store import ResultsStore

LONG_ID = "a_submission_with_a_long_name.external.lite.cpu-2core"
REASONS = {"missed": "validation accuracy 0.8633 within the 1s budget did not meet the target 0.9666 " * 2,
           "failed": "harness error: a very long traceback line that would wrap over many lines of a narrow table"}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    store = ResultsStore(tmp_path / "r.db")
    for run_id, statuses in ((LONG_ID, ("reached", "missed", "failed")), ("lora.external.lite.cpu-2core", ())):
        store.add_run(dict(run_id=run_id, track="peft" if run_id.startswith("lora") else "training",
                           submission_name=run_id.split(".")[0], submission_dir="/nonexistent", submission_hash="h",
                           ruleset="external", hardware_class="cpu-2core", release="r1", harness_version="0",
                           git_commit="c", config_json={}))
        for k, status in enumerate(statuses):
            trial_id = f"{run_id}.digits_mlp.{k}"
            store.start_trial(dict(trial_id=trial_id, run_id=run_id, workload="digits_mlp", workload_spec_hash="x",
                                   data_revision="d", study=0, trial_index=0, role="scoring", seed=k, seed_index=k,
                                   hyperparameters_json={}, budget_s=10.0, validation_target=0.9))
            store.finish_trial(trial_id, {"status": status, "reason": REASONS.get(status, "")})
    store.start_trial(dict(trial_id="open", run_id=LONG_ID, workload="digits_mlp", workload_spec_hash="x",
                           data_revision="d", study=0, trial_index=1, role="scoring", seed=9, seed_index=9,
                           hyperparameters_json={}, budget_s=10.0, validation_target=0.9))
    store.close()
    return tmp_path / "r.db"


def run(*args: str, columns: int = 80):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": str(columns)})


@pytest.mark.parametrize("columns", [80, 120])
def test_runs_lists_every_run_with_its_whole_id_and_counts(db: Path, columns: int) -> None:
    result = run("runs", "--db", str(db), columns=columns)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(len(line) <= columns for line in lines)
    assert any(LONG_ID in line for line in lines)  # typed by the user into `results --run`: never cut
    row = next(line for line in lines if LONG_ID in line)
    assert "4" in row and "1/1/1" in row and "open" in result.output  # 1 trial has no final status
    assert "release r1" in result.output


def test_runs_as_json(db: Path) -> None:
    rows = json.loads(run("runs", "--db", str(db), "--format", "json").stdout)
    assert [(r["run_id"], r["trials"], r["reached"], r["failed"], r["unfinished"]) for r in rows] == [
        (LONG_ID, 4, 1, 1, 1), ("lora.external.lite.cpu-2core", 0, 0, 0, 0)]


def test_an_unknown_run_id_is_an_error_that_names_the_close_ones(db: Path) -> None:
    result = run("results", "--db", str(db), "--run", "lora.external.lite")
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert "no run 'lora.external.lite'" in said and "did you mean lora.external.lite.cpu-2core" in said
    far = run("results", "--db", str(db), "--run", "zzz")
    assert far.exit_code == 2 and "podium runs --db" in " ".join(far.output.split())
    assert run("results", "--db", str(db), "--run", LONG_ID).exit_code == 0


@pytest.mark.parametrize("columns", [80, 120])
def test_results_keep_a_trial_on_one_line_with_its_reasons_as_footnotes(db: Path, columns: int) -> None:
    result = run("results", "--db", str(db), "--run", LONG_ID, columns=columns)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(len(line) <= columns for line in lines)
    rows = [line for line in lines if "s0 scoring p0 seed" in line]
    assert len(rows) == 3 and all("digits_mlp" in row for row in rows)  # one line a trial, the name whole
    missed = next(row for row in rows if "missed" in row)
    assert "[1]" in missed and "did not meet the target" not in missed
    text = " ".join(result.output.split())
    assert "[1] validation accuracy 0.8633" in text and "[2] harness error" in text
    wide = run("results", "--db", str(db), "--run", LONG_ID, "--wide", columns=200)
    assert "Time accounting" in wide.output


def test_score_fits_80_columns_with_whole_names_in_the_legend(tmp_path: Path) -> None:
    import math

    from harness.report import build_pools, score_pool
    from harness.ui import score_table
    from rich.console import Console

    store = ResultsStore(tmp_path / "s.db")
    names = ("fashion_mnist_cnn", "fashion_mnist_mlp", "digits_mlp")
    for sub, times in (("an_algorithm_with_a_long_name", (5.0, math.inf, 3.0)), ("adamw", (4.0, 6.0, 2.0))):
        run_id = f"{sub}.external.lite.cpu-2core"
        store.add_run(dict(run_id=run_id, track="training", submission_name=sub, submission_dir="/x",
                           submission_hash="h", ruleset="external", hardware_class="cpu-2core", release="r1",
                           harness_version="0", git_commit="c", config_json={}))
        for workload, t in zip(names, times):
            for k in range(3):
                trial_id = f"{run_id}.{workload}.{k}"
                store.start_trial(dict(trial_id=trial_id, run_id=run_id, workload=workload, workload_spec_hash="x",
                                       data_revision="d", study=0, trial_index=0, role="scoring", seed=k,
                                       seed_index=k, hyperparameters_json={}, budget_s=100.0,
                                       validation_target=0.9))
                store.finish_trial(trial_id, {"status": "reached" if math.isfinite(t) else "missed",
                                              "reason": "", "validation_json": {"accuracy": 0.95},
                                              "time_to_result_s": t + k if math.isfinite(t) else None})
            store.set_workload_time(run_id, workload, {"workload_time": t + 1, "algoperf_workload_time": t,
                                                       "study_times": {0: t + 1}, "selected": {0: 0}})
    (pool,) = build_pools(store.trials(), {}, {w: ("accuracy", True) for w in names})
    console = Console(record=True, width=80)
    console.print(score_table(pool, score_pool(pool)))
    text = console.export_text()
    assert all(len(line) <= 80 for line in text.splitlines()) and "…" not in text
    assert "an_algorithm_with_a_long_name" in text
    assert all(name in " ".join(text.split()) for name in names)  # whole, in the legend


def test_workload_times_fit_80_columns_one_line_per_row() -> None:
    """The demo's workload times at 80 columns (CI's log, a default terminal): whole names, and every row, its
    interval included, on one line; one ruleset is said once, in the title."""
    from rich.console import Console

    from harness.ui import workload_times_table

    rows, details = [], {}
    for sub in ("full_finetune", "lora"):
        for workload, lo, hi in (("fashion_cnn_transfer", 12.02, 16.04), ("fashion_cnn_transfer_reverse", 8.0, 12.01),
                                 ("digits_mlp", 0.15, float("inf"))):
            rows.append({"submission_name": sub, "ruleset": "external", "run_id": f"{sub}.r", "workload": workload,
                         "workload_time_s": hi, "algoperf_time_s": lo})
            details[(f"{sub}.r", workload)] = {"time_lo": lo, "time_hi": hi, "n": 3}
    console = Console(record=True, width=80)
    console.print(workload_times_table(rows, details))
    lines = console.export_text().splitlines()
    body = [line for line in lines if line.startswith((" full_finetune", " lora"))]
    assert len(body) == 6 and all(len(line) <= 80 for line in lines)
    assert any("fashion_cnn_transfer_reverse" in line and "[8.00, 12.01]" in line for line in body)
    assert "ruleset external" in " ".join(lines) and not any(" external " in line for line in body)
