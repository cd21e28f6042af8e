"""JAX submissions run as trials: the workload's Flax twin trains, the PyTorch twin's evaluator scores, and the clock
waits for the device work a timed call queued."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

from harness.runner.messages import TrialRequest
from harness.runner.run import PlanError, RunConfig, make_plan
from harness.runner.supervisor import run_trial
from harness.tracks.training import FrameworkError, framework_of
from workloads import get_spec
from workloads.spec import Targets

ROOT = Path(__file__).resolve().parents[2]
ADAMW_JAX = ROOT / "submissions" / "training" / "adamw_jax"
SLOW = ROOT / "tests" / "fixtures" / "jax_submissions" / "slow_async_update"


def request(folder: Path, steps: int, every: int, name: str = "digits_mlp") -> TrialRequest:
    """A score-mode trial capped at ``steps`` updates whose target cannot be met (it runs them all)."""
    spec = get_spec(name)
    spec = spec.model_copy(update={"targets": {"cpu-2core": Targets(validation=2.0, test=2.0)}})
    return TrialRequest(trial_id=f"jax-{folder.name}", submission_dir=str(folder), workload=spec,
                        hardware_class="cpu-2core", budget_s=120.0, hyperparameters={
                            "learning_rate": 0.003, "one_minus_beta1": 0.1, "beta2": 0.999, "weight_decay": 1e-4,
                            "warmup_factor": 0.02},
                        seed=7, max_steps=steps, eval_every_steps=every, framework=framework_of(folder))


def test_a_jax_submission_trains_the_flax_twin_and_is_scored_by_the_pytorch_evaluator(tmp_path: Path) -> None:
    outcome = run_trial(request(ADAMW_JAX, steps=150, every=50), tmp_path)
    result = outcome.result
    assert result is not None and outcome.status == "missed", outcome.reason  # ran its 150 updates; target 2.0
    assert result.steps == 150 and result.provenance["framework"] == "jax"
    accuracies = [record.metrics["accuracy"] for record in outcome.evals]
    assert len(accuracies) == 3 and accuracies[-1] > 0.85  # digits: ~0.1 at random; trained, the evaluator agrees
    assert result.test["accuracy"] > 0.85
    assert 0 < result.measurements["first_step_s"] <= result.submission_time_s  # the compile is submission time


def test_an_asynchronous_jitted_update_is_charged_its_device_time(tmp_path: Path) -> None:
    """The fixture's update returns before its work is done. Measured here first: the call alone returns in a small
    part of the time the work takes (so a clock that did not wait would charge almost nothing); the trial's clock
    charges each update at least half the work's time. Both margins are wide (about 100x and 2x) on purpose."""
    import importlib.util

    import jax
    import jax.numpy as jnp

    spec = importlib.util.spec_from_file_location("slow_async_update", SLOW / "submission.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    params = {"w": jnp.zeros((4,))}
    jax.block_until_ready(module.slow(params, 0))  # compiled
    started = time.perf_counter()
    pending = module.slow(params, 1)
    dispatched = time.perf_counter() - started
    jax.block_until_ready(pending)
    work = time.perf_counter() - started
    assert dispatched < 0.2 * work, (dispatched, work)  # the update really is asynchronous

    steps = 4
    outcome = run_trial(request(SLOW, steps=steps, every=steps), tmp_path)
    result = outcome.result
    assert result is not None and result.steps == steps, outcome.reason
    charged = result.submission_time_s - result.measurements["first_step_s"]  # the first step also compiles
    assert charged >= 0.5 * work * (steps - 1), (charged, work)


def test_the_framework_is_told_from_the_imports_or_declared(tmp_path: Path) -> None:
    assert framework_of(ADAMW_JAX) == "jax" and framework_of(ROOT / "submissions" / "training" / "adamw") == "pytorch"
    both = tmp_path / "both"
    both.mkdir()
    (both / "submission.py").write_text("import torch\n")
    (both / "helpers.py").write_text("from jax import numpy as jnp\n")
    with pytest.raises(FrameworkError, match='FRAMEWORK = "jax"'):
        framework_of(both)
    (both / "submission.py").write_text('import torch\nFRAMEWORK = "jax"\n')
    assert framework_of(both) == "jax"
    (both / "submission.py").write_text('FRAMEWORK = "tensorflow"\n')
    with pytest.raises(FrameworkError, match="expected one of 'pytorch', 'jax'"):
        framework_of(both)


def test_a_run_refuses_a_workload_not_offered_in_the_submissions_framework(tmp_path: Path, monkeypatch) -> None:
    """Every training workload has a JAX twin today; a workload without one (as a new family may start) is refused
    for a JAX submission before any trial runs."""
    from harness.runner import run

    assert all("jax" in get_spec(n).frameworks for n in ("digits_mlp", "fashion_mnist_cnn", "fashion_mnist_mlp"))
    without = get_spec("fashion_mnist_cnn").model_copy(update={"jax_builder": None})
    assert without.frameworks == ("pytorch",) and without.spec_hash() == get_spec("fashion_mnist_cnn").spec_hash()
    monkeypatch.setattr(run, "get_spec", lambda name: without if name == "fashion_mnist_cnn" else get_spec(name))
    config = RunConfig(submission_dir=ADAMW_JAX, workloads=["digits_mlp", "fashion_mnist_cnn"],
                       db=tmp_path / "r.db")
    with pytest.raises(PlanError, match="fashion_mnist_cnn is not offered in"):
        make_plan(config)


def test_a_pool_holds_both_frameworks_labelled(tmp_path: Path) -> None:
    """adamw (PyTorch) and adamw_jax (JAX) run on digits_mlp into one database: one pool, scored and published, each
    entry labelled with its framework, and the leaderboard's framework filter keeps one of them."""
    from harness.publish import publish
    from harness.runner.run import BENCHMARK_RELEASE, execute
    from leaderboard.views import table

    for folder in (ROOT / "submissions" / "training" / "adamw", ADAMW_JAX):
        execute(RunConfig(submission_dir=folder, workloads=("digits_mlp",), db=tmp_path / "r.db", scoring_seeds=1,
                          attempts=1))
    bundle = publish(tmp_path / "r.db", tmp_path / "bundles", BENCHMARK_RELEASE, {}, allow_contended=True)
    scores = pd.read_parquet(bundle / "scores.parquet")
    assert scores["pool"].nunique() == 1
    assert dict(zip(scores["submission"], scores["framework"])) == {"adamw": "pytorch", "adamw_jax": "jax"}
    assert table.frameworks(scores) == ["jax", "pytorch"]
    shown, hidden = table.filter_records(scores, table.TableConfig(framework="jax"))
    assert list(shown["submission"]) == ["adamw_jax"] and list(hidden["submission"]) == ["adamw"]
    assert "framework" in table.view_records(scores, table.TableConfig())[0].columns


def test_an_algoperf_style_jax_submission_ports_and_trains(tmp_path: Path) -> None:
    """A hand-written submission in AlgoPerf's current JAX style (jit with shardings from jax_sharding_utils, the
    update function in the optimizer state, absl logging, batch sizes for AlgoPerf's workloads only), from a method
    folder with pytorch/ and jax/: ported mechanically, it passes the check and learns digits."""
    from harness.algoperf.port import PortError, port_algoperf
    from harness.check import check_submission, format_report

    method = ROOT / "tests" / "fixtures" / "algoperf_jax" / "momentum"
    folder = port_algoperf(method, tmp_path / "momentum", framework="jax")
    text = (folder / "submission.py").read_text()
    assert "from harness.algoperf import jax_sharding_utils, spec" in text and "import logging" in text
    assert framework_of(folder) == "jax"
    assert (folder / "search_space.json").is_file()  # from the method folder, as for PyTorch
    report = check_submission(folder)
    assert report.ok, format_report(report)
    outcome = run_trial(request(folder, steps=200, every=100).model_copy(
        update={"hyperparameters": {"learning_rate": 0.05, "beta1": 0.9, "dropout_rate": 0.0}}), tmp_path / "runs")
    assert outcome.result is not None and outcome.result.steps == 200, outcome.reason
    assert outcome.evals[-1].metrics["accuracy"] > 0.85
    with pytest.raises(PortError, match="unknown framework .jax_typo.: use one of pytorch, jax"):
        port_algoperf(method, tmp_path / "other", framework="jax_typo")
