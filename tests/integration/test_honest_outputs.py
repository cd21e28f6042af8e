"""Through the CLI and the bundle: n and "single seed: no interval" in every output, infinities explained, strict
JSON, publish warnings, and a pool without the reference baseline that publishes and verifies."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.publish import publish, verify
from harness.store import ResultsStore

RELEASE = "r1"
WORKLOADS = ("digits_mlp", "fashion_mnist_mlp")  # real workload names: the CLI reads their metric from the registry


def _refuse(constant: str):
    raise AssertionError(f"not strict JSON: {constant}")


def strict_loads(text: str):
    return json.loads(text, parse_constant=_refuse)


def _fill(store: ResultsStore, sub: str, times: dict[str, list[float]]) -> None:
    """One finished run of one study; a miss records the accuracy it reached, as the worker does."""
    run_id = f"{sub}-run"
    store.add_run(dict(run_id=run_id, track="training", submission_name=sub, submission_dir=f"/nonexistent/{sub}",
                       submission_hash="h", ruleset="external", hardware_class="cpu-2core", release=RELEASE,
                       harness_version="0", git_commit="c", config_json={}))
    for workload, seed_times in times.items():
        for k, t in enumerate(seed_times):
            trial_id = f"{run_id}.{workload}.{k}"
            store.start_trial(dict(trial_id=trial_id, run_id=run_id, workload=workload, workload_spec_hash="x",
                                   data_revision="d", study=0, trial_index=0, role="scoring", seed=k, seed_index=k,
                                   hyperparameters_json={}, budget_s=100.0, validation_target=0.9))
            reached = math.isfinite(t)
            store.finish_trial(trial_id, {"status": "reached" if reached else "missed",
                                          "reason": "" if reached else "validation accuracy 0.5000 did not meet",
                                          "validation_json": {"accuracy": 0.95 if reached else 0.5},
                                          "time_to_result_s": t if reached else None})
        finite = sorted(seed_times)[len(seed_times) // 2]
        store.set_workload_time(run_id, workload, {"workload_time": finite, "algoperf_workload_time": finite,
                                                   "study_times": {0: finite}, "selected": {0: 0}})


@pytest.fixture
def single_seed_db(tmp_path: Path) -> Path:
    """Two submissions, one scoring seed each, no reference baseline: the state of a fresh `podium run`."""
    store = ResultsStore(tmp_path / "r.db")
    _fill(store, "mysub", {"digits_mlp": [5.0], "fashion_mnist_mlp": [math.inf]})
    _fill(store, "other", {"digits_mlp": [30.0], "fashion_mnist_mlp": [20.0]})
    store.close()
    return tmp_path / "r.db"


def cli(*args: str):
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "300"})
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_score_table_says_single_seed(single_seed_db: Path) -> None:
    out = cli("score", "--db", str(single_seed_db), "--bootstrap", "50").stdout
    assert "single seed: no interval" in out
    assert "target missed on 1 of 1 run (best final accuracy 0.5000 vs target 0.9000)" in out
    assert "ratio 6.00 beyond r_max 4" in out


def test_score_json_is_strict_and_says_single_seed(single_seed_db: Path, tmp_path: Path) -> None:
    out = cli("score", "--db", str(single_seed_db), "--bootstrap", "50", "--format", "json",
              "--out", str(tmp_path / "scores")).stdout
    for records in (strict_loads(out), strict_loads((tmp_path / "scores" / "scores.json").read_text())):
        mine = next(r for r in records if r["submission"] == "mysub")
        assert mine["n"] == 1 and mine["interval_note"] == "single seed: no interval"
        assert mine["score_lo"] is None and mine["rank_bound"] is None
        assert mine["time:fashion_mnist_mlp"] is None and mine["why:fashion_mnist_mlp"].startswith("target missed")


def test_results_show_n_and_explain_infinite_times(single_seed_db: Path) -> None:
    table = cli("results", "--db", str(single_seed_db)).stdout
    assert "single seed: no interval" in table and "best final accuracy 0.5000 vs target 0.9000" in table
    payload = strict_loads(cli("results", "--db", str(single_seed_db), "--format", "json").stdout)
    times = {(t["submission_name"], t["workload"]): t for t in payload["workload_times"]}
    missed = times[("mysub", "fashion_mnist_mlp")]
    assert missed["workload_time_s"] is None and missed["why"].startswith("target missed on 1 of 1 run")
    assert missed["n"] == 1 and missed["interval_note"] == "single seed: no interval"
    assert strict_loads(missed["study_times_json"]) == {"0": None}


def test_publish_without_the_reference_warns_writes_and_verifies(single_seed_db: Path, tmp_path: Path) -> None:
    result = cli("publish", "--db", str(single_seed_db), "--release", RELEASE, "--out", str(tmp_path / "b"))
    bundle = tmp_path / "b" / RELEASE
    assert "pool training/external/cpu-2core/r1: 2 of 2 submissions have no score interval" in result.stderr
    manifest = strict_loads((bundle / "manifest.json").read_text())
    assert manifest["warnings"] and "single seed: no interval" in manifest["warnings"][0]
    assert verify(bundle, {}) == []
    assert "every table matches" in cli("publish", "--verify", str(bundle)).stdout
    scores = pd.read_parquet(bundle / "scores.parquet").set_index("submission")
    assert set(scores["interval_note"]) == {"single seed: no interval"}
    assert scores["speedup_vs_reference"].isna().all()
    why = scores.loc["mysub", "why:fashion_mnist_mlp"]
    assert why.startswith("target missed on 1 of 1 run (best final accuracy")


def test_bundle_with_enough_runs_has_intervals_and_no_warning(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.db")
    _fill(store, "adamw", {"digits_mlp": [10, 11, 12]})
    _fill(store, "fast", {"digits_mlp": [8, 11, 14]})  # overlapping: both scores vary over resamples
    bundle = publish(tmp_path / "r.db", tmp_path / "b", RELEASE, {})
    manifest = strict_loads((bundle / "manifest.json").read_text())
    assert manifest["warnings"] == [] and manifest["scoring"]["min_interval_n"] == 3
    scores = pd.read_parquet(bundle / "scores.parquet").set_index("submission")
    assert (scores["n"] == 3).all() and set(scores["interval_note"]) == {""}
    assert scores.loc["fast", "score_lo"] <= scores.loc["fast", "score"] <= scores.loc["fast", "score_hi"]
    assert verify(bundle, {}) == []
