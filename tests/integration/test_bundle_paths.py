"""A release bundle is public: no path of the publishing machine appears in it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from harness.publish import publish, verify
from harness.store import ResultsStore


def test_no_local_path_appears_in_a_bundle(tmp_path: Path) -> None:
    secret = tmp_path / "home" / "ann"
    store = ResultsStore(tmp_path / "r.db")
    for sub, t in (("mine", 5.0), ("adamw", 4.0)):
        run_id = f"{sub}.external.lite.cpu-2core"
        store.add_run(dict(run_id=run_id, track="training", submission_name=sub,
                           submission_dir=str(secret / "subs" / sub), submission_hash="h", ruleset="external",
                           hardware_class="cpu-2core", release="r1", harness_version="0", git_commit="c",
                           config_json={"db": str(secret / "results.db"), "submission_dir": str(secret / sub),
                                        "label": "lite", "workloads": ["digits_mlp"]}))
        for k in range(3):
            trial_id = f"{run_id}.digits_mlp.{k}"
            store.start_trial(dict(trial_id=trial_id, run_id=run_id, workload="digits_mlp", workload_spec_hash="x",
                                   data_revision="d", study=0, trial_index=0, role="scoring", seed=k, seed_index=k,
                                   hyperparameters_json={}, budget_s=100.0, validation_target=0.9,
                                   log_path=str(secret / "trials" / f"{k}.log")))
            store.finish_trial(trial_id, {"status": "reached", "reason": "", "validation_json": {"accuracy": 0.95},
                                          "time_to_result_s": t + k,
                                          "provenance_json": {"cwd": str(secret), "threads": 2}})
        store.set_workload_time(run_id, "digits_mlp", {"workload_time": t + 1, "algoperf_workload_time": t,
                                                      "study_times": {0: t + 1}, "selected": {0: 0}})
    store.close()
    bundle = publish(tmp_path / "r.db", tmp_path / "bundles", "r1", {})

    leaked = []
    for path in bundle.iterdir():
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
            leaked += [f"{path.name}:{c}" for c in frame.columns
                       if frame[c].astype(str).str.contains(str(tmp_path), regex=False).any()]
        elif str(tmp_path) in path.read_text():
            leaked.append(path.name)
    assert not leaked
    runs = pd.read_parquet(bundle / "runs.parquet")
    assert set(runs.submission_dir) == {"mine", "adamw"}
    assert json.loads(runs.config_json.iloc[0])["db"] == "results.db"
    assert verify(bundle, {}) == []
