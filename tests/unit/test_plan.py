"""Run plans: byte-identical manifests, per-study samples, disjoint roles, refusal of a changed plan."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.runner.run import PlanError, RunConfig, make_plan, register
from harness.store import ResultsStore
from harness.tuning.plan import SELF_TUNING_BUDGET_FACTOR
from workloads import get_spec

SPACE = {"learning_rate": {"min": 1e-4, "max": 1e-1, "scaling": "log"},
         "one_minus_beta1": {"min": 0.02, "max": 0.2, "scaling": "log"},
         "beta2": {"feasible_points": [0.99, 0.999]}, "weight_decay": {"min": 0.0, "max": 0.1, "scaling": "linear"},
         "warmup_factor": {"feasible_points": [0.02]}}


@pytest.fixture
def submission(tmp_path: Path, adamw_dir: Path) -> Path:
    folder = tmp_path / "ranged"
    shutil.copytree(adamw_dir, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "search_space.json").write_text(json.dumps(SPACE))
    return folder


def config(folder: Path, tmp_path: Path, **kw) -> RunConfig:
    base = dict(submission_dir=folder, workloads=("digits_mlp", "fashion_mnist_mlp"), studies=3, trials=4,
                tuning_seeds=2, scoring_seeds=3, db=tmp_path / "db" / "r.db")
    return RunConfig(**{**base, **kw})


def test_replanning_gives_identical_bytes(submission: Path, tmp_path: Path) -> None:
    first, second = make_plan(config(submission, tmp_path)), make_plan(config(submission, tmp_path))
    assert first.to_json() == second.to_json()
    assert len(first.entries) == 2 * 3 * (4 * 2 + 3)


def test_each_study_draws_its_own_points(submission: Path, tmp_path: Path) -> None:
    plan = make_plan(config(submission, tmp_path))
    samples = [tuple(json.dumps(p, sort_keys=True) for p in plan.points("digits_mlp", s).values()) for s in range(3)]
    assert len(set(samples)) == 3
    assert plan.points("digits_mlp", 0) != plan.points("fashion_mnist_mlp", 0)


def test_tuning_and_scoring_seeds_are_disjoint(submission: Path, tmp_path: Path) -> None:
    plan = make_plan(config(submission, tmp_path))
    tuning = {e.seed for e in plan.entries if e.role == "tuning"}
    scoring = {e.seed for e in plan.entries if e.role == "scoring"}
    assert tuning and scoring and not tuning & scoring
    assert all(e.hyperparameters is None for e in plan.entries if e.role == "scoring")  # chosen later


def test_manifest_file_is_written_and_a_changed_plan_is_refused(submission: Path, tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "db" / "r.db")
    plan = make_plan(config(submission, tmp_path))
    path = register(store, config(submission, tmp_path), plan)
    assert path.read_text() == plan.to_json()
    register(store, config(submission, tmp_path), plan)  # the same plan again: a resume, accepted
    changed = make_plan(config(submission, tmp_path, trials=5))
    with pytest.raises(PlanError, match="different plan.*--run-id"):
        register(store, config(submission, tmp_path, trials=5), changed)


def test_editing_the_submission_changes_the_plan(submission: Path, tmp_path: Path) -> None:
    before = make_plan(config(submission, tmp_path))
    (submission / "submission.py").write_text((submission / "submission.py").read_text() + "\n# edited\n")
    assert make_plan(config(submission, tmp_path)).digest() != before.digest()


def test_self_ruleset_refuses_a_search_space_and_triples_the_budget(submission: Path, tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="self-tuning ruleset takes no search space"):
        make_plan(config(submission, tmp_path, ruleset="self"))
    (submission / "search_space.json").unlink()
    plan = make_plan(config(submission, tmp_path, ruleset="self"))
    assert {e.role for e in plan.entries} == {"scoring"}
    first = plan.entries[0]
    assert first.budget_s == get_spec(first.workload).budget_for("cpu-2core") * SELF_TUNING_BUDGET_FACTOR


def test_a_single_point_runs_on_scoring_seeds_only(submission: Path, tmp_path: Path) -> None:
    plan = make_plan(config(submission, tmp_path, studies=2, trials=1, scoring_seeds=2))
    assert {e.role for e in plan.entries} == {"scoring"} and len(plan.entries) == 2 * 2 * 2
    for e in plan.entries:
        assert e.hyperparameters and e.point == 0  # the one point of its study, fixed up front
    by_study = {(e.workload, e.study): e.hyperparameters for e in plan.entries}
    assert by_study[("digits_mlp", 0)] != by_study[("digits_mlp", 1)]  # each study still draws its own point
