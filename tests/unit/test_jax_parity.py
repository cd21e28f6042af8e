"""Framework parity of the Flax twins: the same parameters, the same logits from the same weights, the same initial
loss within sampling noise, the same batches in the same order."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from harness.tracks.training import ForwardPassMode, ParameterType
from workloads import WORKLOADS, get_spec

from harness.parity import INITIAL_LOSS_TOLERANCE, initial_losses, twins
from workloads.common.jax import torch_state_dict

#: every workload offered in JAX, variants included
TWINS = [name for name in WORKLOADS.names() if get_spec(name).jax_builder]


def both(name: str) -> tuple:
    """The PyTorch workload, its evaluator, and the JAX twin of ``name``."""
    return twins(get_spec(name))


def test_the_small_training_workloads_have_twins() -> None:
    # TWINS is every workload with a jax_builder; the transformers (tiny_lm, minilm_rotten_tomatoes_ft, the full
    # suite's) are PyTorch only
    small = {n for n in WORKLOADS.names() if get_spec(n).family in ("digits", "fashion_mnist")}
    assert len(small) == 6 and small <= set(TWINS)


@pytest.mark.parametrize("name", TWINS)
def test_the_twins_have_the_same_parameters(name: str) -> None:
    torch_workload, _, jax_workload = both(name)
    model, _ = torch_workload.init_model_fn(np.array([0, 0], dtype=np.uint32))
    params, model_state = jax_workload.init_model_fn(jax.random.PRNGKey(0))
    converted = torch_state_dict(params, model_state)
    assert {k: tuple(v.shape) for k, v in converted.items()} == {k: tuple(v.shape)
                                                                 for k, v in model.state_dict().items()}
    count = sum(int(np.prod(s.shape_tuple)) for s in jax.tree_util.tree_leaves(jax_workload.param_shapes))
    assert count == sum(p.numel() for p in model.parameters())
    if name == "digits_mlp":
        assert count == 64 * 128 + 128 + 128 * 128 + 128 + 128 * 10 + 10
    types = jax.tree_util.tree_leaves(jax_workload.model_params_types)
    torch_types = list(torch_workload.model_params_types.values())
    assert sorted(t.name for t in types) == sorted(t.name for t in torch_types)
    assert jax_workload.model_params_types["head"]["kernel"] is ParameterType.WEIGHT


@pytest.mark.parametrize("name", TWINS)
def test_the_same_weights_give_the_same_logits_and_loss(name: str) -> None:
    torch_workload, evaluator, jax_workload = both(name)
    params, model_state = jax_workload.init_model_fn(jax.random.PRNGKey(1))
    model, _ = torch_workload.init_model_fn(np.array([1, 0], dtype=np.uint32))
    model.load_state_dict(torch_state_dict(params, model_state))
    batch = next(jax_workload.input_queue(64, seed=3))
    logits, _ = jax_workload.model_fn(params, batch, model_state, ForwardPassMode.EVAL, None, False)
    torch_batch = next(torch_workload.input_queue(64, seed=3))
    np.testing.assert_array_equal(np.asarray(batch["targets"]), torch_batch["targets"].numpy())  # the same order
    with torch.no_grad():
        torch_logits, _ = torch_workload.model_fn(model, torch_batch, None, ForwardPassMode.EVAL, None, False)
    np.testing.assert_allclose(np.asarray(logits), torch_logits.numpy(), rtol=1e-5, atol=1e-5)
    loss = jax_workload.loss_fn(batch["targets"], logits)
    torch_loss = torch_workload.loss_fn(torch_batch["targets"], torch_logits)
    assert float(loss["summed"]) == pytest.approx(float(torch_loss["summed"]), rel=1e-5)
    assert float(loss["n_valid_examples"]) == 64


@pytest.mark.parametrize("name", TWINS)
def test_initial_losses_agree_within_sampling_noise(name: str) -> None:
    """Each framework's own initialisation (same distributions, different generators): over 8 seeds the mean
    initial loss on 512 training examples agrees within the stated tolerance (3%) and both sit near log(10)."""
    losses = initial_losses(get_spec(name), seeds=8, examples=512)
    jax_losses, torch_losses = losses["jax"], losses["pytorch"]
    assert len(jax_losses) == len(torch_losses) == 8 and len(set(jax_losses)) == 8  # 8 different initialisations
    assert np.mean(jax_losses) == pytest.approx(np.mean(torch_losses), rel=INITIAL_LOSS_TOLERANCE), losses
    assert abs(np.mean(jax_losses) - math.log(10)) < 0.5  # Xavier-normal weights start a little further off
