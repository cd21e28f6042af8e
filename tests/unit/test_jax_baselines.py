"""The JAX baselines take their PyTorch twins' steps: from the same weights, on the same batches, with the same
hyperparameters, the parameters after 30 updates agree within 1% of how far they moved."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jax
import numpy as np
import pytest
import torch

from harness.tracks.training import as_hyperparameters
from workloads.common.jax import torch_state_dict
from harness.parity import twins
from workloads import get_spec

ROOT = Path(__file__).resolve().parents[2]
STEPS = 30


def submission(name: str):
    spec = importlib.util.spec_from_file_location(f"baseline_{name}", ROOT / "submissions" / "training" / name /
                                                  "submission.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def first_point(name: str) -> dict:
    import json

    return json.loads((ROOT / "submissions" / "training" / name / "search_space.json").read_text())[0]


def before_batch_norm(name: str, state: dict) -> bool:
    """A bias that a batch norm right after it cancels: its gradient is zero but for rounding, which Adam's division
    by sqrt(v) turns into steps of either sign, differently in each framework."""
    module, _, leaf = name.rpartition(".")
    prefix, _, index = module.rpartition(".")
    return leaf == "bias" and index.isdigit() and f"{prefix}.{int(index) + 1}.running_mean" in state


@pytest.mark.parametrize(("baseline", "workload"), [("adamw", "digits_mlp"), ("nadamw", "digits_mlp"),
                                                    ("nadamw", "fashion_mnist_cnn"),
                                                    ("adamw", "fashion_mnist_cnn_batchnorm")])
def test_a_jax_baseline_takes_its_pytorch_twins_steps(baseline: str, workload: str) -> None:
    torch_workload, _, jax_workload = twins(get_spec(workload))
    torch_sub, jax_sub = submission(baseline), submission(f"{baseline}_jax")
    point = first_point(baseline)
    assert point == first_point(f"{baseline}_jax")  # tuned alike: the same search space
    hyperparameters = as_hyperparameters(point)
    batch_size = torch_sub.get_batch_size(workload)
    assert batch_size == jax_sub.get_batch_size(workload)

    params, model_state = jax_workload.init_model_fn(jax.random.PRNGKey(0))
    model, torch_state = torch_workload.init_model_fn(np.array([0, 0], dtype=np.uint32))
    model.load_state_dict(torch_state_dict(params, model_state))
    rng = np.array([0, 0], dtype=np.uint32)
    jax_opt = jax_sub.init_optimizer_state(jax_workload, params, model_state, hyperparameters, rng)
    torch_opt = torch_sub.init_optimizer_state(torch_workload, model, torch_state, hyperparameters, rng)
    jax_queue, torch_queue = jax_workload.input_queue(batch_size, 5), torch_workload.input_queue(batch_size, 5)
    common = dict(current_params_types=None, hyperparameters=hyperparameters, loss_type=None, eval_results=[],
                  rng=rng)
    for step in range(STEPS):
        jax_opt, params, model_state = jax_sub.update_params(
            workload=jax_workload, current_param_container=params, model_state=model_state,
            batch=next(jax_queue), optimizer_state=jax_opt, global_step=step, **common)
        torch_opt, model, torch_state = torch_sub.update_params(
            workload=torch_workload, current_param_container=model, model_state=torch_state,
            batch=next(torch_queue), optimizer_state=torch_opt, global_step=step, **common)
    expected = model.state_dict()
    initial = torch_state_dict(*jax_workload.init_model_fn(jax.random.PRNGKey(0)))
    for name, value in torch_state_dict(params, model_state).items():
        if name.endswith("num_batches_tracked") or before_batch_norm(name, expected):
            continue
        moved = float(torch.linalg.vector_norm(expected[name] - initial[name]))
        apart = float(torch.linalg.vector_norm(value - expected[name]))
        assert moved > 0, name  # the steps did move every tensor
        # Adam divides by sqrt(v): where a gradient is ~0 the two frameworks' last-bit differences are amplified
        # into a few elements' steps (0.1% of a layer's elements, 0.3 of a step at most); the tensors as a whole
        # stay within 1% of how far they moved
        # a batch norm's running mean also carries the cancelled bias before it (see before_batch_norm)
        share = 0.05 if name.endswith(("running_mean", "running_var")) else 0.01
        assert apart <= share * moved, (name, apart, moved)
