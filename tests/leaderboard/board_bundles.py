"""Small real bundles for the leaderboard tests: a results database written through ``ResultsStore`` (trials,
evaluation rows, provenance), published with ``harness.publish.publish``."""

from __future__ import annotations

import math
from pathlib import Path

from harness.provenance import hash_tree
from harness.runner.messages import EvalRecord
from harness.store import ResultsStore

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "leaderboard" / "app.py"
RELEASE = "r1"
VARIANTS = {"w1_variant": "w1"}
TARGET = 0.9
PROVENANCE = {"harness_version": "0.1.0", "git_commit": "abc1234", "python": "3.11.7",
              "packages": {"torch": "2.13.0", "numpy": "2.2.0"}, "cpu_model": "Test CPU", "cpu_count": 2,
              "threads": 2, "cuda": None, "platform": "Linux-test"}
#: scoring-seed times per submission and workload (inf = miss); tuning trials are derived from them.
TIMES = {
    "adamw": {"w1": [10, 11, 12], "w2": [20, 22, 21], "w1_variant": [5, 5, 6]},
    "fast": {"w1": [5, 6, 5], "w2": [40, 41, 39], "w1_variant": [4, 4, 4]},
    "fails_variant": {"w1": [1, 1, 1], "w2": [10, 10, 10], "w1_variant": [math.inf] * 3},
    "never": {"w1": [math.inf] * 3, "w2": [math.inf] * 3, "w1_variant": [math.inf] * 3},
}


def _submission_folder(root: Path, name: str) -> Path:
    folder = root / "submissions" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "submission.py").write_text("# test submission\n")
    (folder / "README.md").write_text(f"# {name}\n\nREADME of {name}.\n")
    (folder / "search_space.json").write_text('{"learning_rate": {"min": 1e-4, "max": 1e-1, "scaling": "log"}}')
    return folder


def _trial(store: ResultsStore, run_id: str, workload: str, role: str, point: int, k: int, t: float,
           lr: float, evals: bool = True) -> None:
    trial_id = f"{run_id}.{workload}.{role}.p{point}.k{k}"
    store.start_trial(dict(trial_id=trial_id, run_id=run_id, workload=workload, workload_spec_hash="x",
                           data_revision="sha256:test", study=0, trial_index=point, role=role, seed=1000 * point + k,
                           seed_index=k, hyperparameters_json={"learning_rate": lr}, budget_s=100.0,
                           validation_target=TARGET))
    reached = math.isfinite(t)
    end = t if reached else 100.0
    for i in range(4 if evals else 0):  # at 1/4, 1/2, 3/4 of the time and at the end, where the target is met
        at = end * (i + 1) / 4
        accuracy = TARGET * (i + 1) / 4 if reached else 0.5 * (i + 1) / 4
        store.add_eval(trial_id, EvalRecord(trial_id=trial_id, eval_index=i, step=int(10 * at),
                                            submission_time_s=at, eval_time_s=0.1, wall_time_s=at + 0.1 * (i + 1),
                                            metrics={"accuracy": accuracy, "loss": 1.0 - accuracy}))
    store.finish_trial(trial_id, {
        "status": "reached" if reached else ("failed" if role == "tuning" else "missed"),
        "reason": "" if reached else ("non-finite loss at step 3" if role == "tuning" else "target not met"),
        "time_to_result_s": t if reached else None, "steps": int(10 * end), "submission_time_s": end,
        "provenance_json": PROVENANCE, "validation_json": {"accuracy": TARGET if reached else 0.5}})


def fill(store: ResultsStore, name: str, folder: Path, times: dict[str, list[float]], label: str = "lite",
         evals: bool = True) -> str:
    """One finished run: per workload, two tuning points on seed 0, then point 1 on three scoring seeds."""
    run_id = f"{name}.external.{label}.cpu-2core"
    store.add_run(dict(run_id=run_id, track="training", submission_name=name, submission_dir=str(folder),
                       submission_hash=hash_tree(folder), ruleset="external", hardware_class="cpu-2core",
                       release=RELEASE, harness_version="0.1.0", git_commit="abc1234", config_json={}))
    for workload, seed_times in times.items():
        _trial(store, run_id, workload, "tuning", 0, 0, seed_times[0] * 1.5, 1e-2, evals)
        _trial(store, run_id, workload, "tuning", 1, 0, seed_times[0], 1e-3, evals)
        for k, t in enumerate(seed_times):
            _trial(store, run_id, workload, "scoring", 1, k, t, 1e-3, evals)
        median = sorted(seed_times)[1]
        store.set_workload_time(run_id, workload, {"workload_time": median, "algoperf_workload_time": seed_times[0],
                                                   "study_times": {0: median}, "selected": {0: 1}})
    return run_id


def build_db(root: Path, evals: bool = True) -> Path:
    """The results database behind the test bundle (``fast`` also has an older, superseded run)."""
    db = root / "results.db"
    store = ResultsStore(db)
    folders = {name: _submission_folder(root, name) for name in TIMES}
    fill(store, "fast", folders["fast"], {"w1": [50, 50, 50], "w2": [90, 90, 90], "w1_variant": [9, 9, 9]}, "aaa-old",
         evals)
    for name, times in TIMES.items():
        fill(store, name, folders[name], times, evals=evals)
    store.close()
    return db

