"""NAdamW with linear warmup and cosine decay, in JAX (optax): the twin of ``submissions/training/nadamw``.

The update of Table 1 of Choi et al. (arXiv:1910.05446) with decoupled weight decay, as the PyTorch twin and
AlgoPerf's JAX NAdamW baseline write it, as an optax transformation (:func:`nadamw`); the schedule is the twin's
(linear warmup from ``1 / warmup_steps`` of the rate, cosine to 0 at ``step_hint``, then 0). One jitted function
computes the loss, its gradient and the update; its first call compiles it (submission time, recorded as the
trial's ``first_step_s``).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from harness.algoperf import spec

BATCH_SIZES = {"digits_mlp": 64, "fashion_mnist_mlp": 128, "fashion_mnist_cnn": 128}


class NAdamWState(NamedTuple):
    count: jax.Array
    mu: optax.Updates
    nu: optax.Updates


def nadamw(learning_rate: optax.Schedule, b1: float, b2: float, eps: float,
           weight_decay: float) -> optax.GradientTransformation:
    """For each parameter ``p`` with gradient ``g`` at step ``t`` (from 1), ``lr`` the scheduled rate::

        m <- b1 * m + (1 - b1) * g;  v <- b2 * v + (1 - b2) * g^2
        p <- p - lr * weight_decay * p - lr * sqrt(1 - b2^t) / (1 - b1^t) * (b1 * m + (1 - b1) * g) / (sqrt(v) + eps)
    """

    def init(params: optax.Params) -> NAdamWState:
        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
        return NAdamWState(jnp.zeros([], jnp.int32), zeros, zeros)

    def update(grads: optax.Updates, state: NAdamWState, params: optax.Params) -> tuple:
        t = state.count + 1
        mu = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, grads)
        nu = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, state.nu, grads)
        lr = learning_rate(state.count)
        step_size = lr * jnp.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        updates = jax.tree_util.tree_map(
            lambda m, v, g, p: -lr * weight_decay * p - step_size * (b1 * m + (1 - b1) * g) / (jnp.sqrt(v) + eps),
            mu, nu, grads, params)
        return updates, NAdamWState(t, mu, nu)

    return optax.GradientTransformation(init, update)


def get_batch_size(workload_name: str) -> int:
    # Variants use their base workload's batch size.
    for name, size in BATCH_SIZES.items():
        if workload_name == name or workload_name.startswith(name + "_"):
            return size
    raise ValueError(f"Unsupported workload name: {workload_name}.")


def warmup_cosine(learning_rate: float, step_hint: int, warmup_factor: float) -> optax.Schedule:
    """The PyTorch twin's factor: ``(step + 1) / warmup_steps`` during warmup, then a cosine to 0 at ``step_hint``,
    then 0."""
    warmup_steps = max(int(warmup_factor * step_hint), 1)
    decay_steps = max(step_hint - warmup_steps, 1)

    def schedule(step: jax.Array) -> jax.Array:
        progress = jnp.clip((step - warmup_steps) / decay_steps, 0.0, 1.0)
        return learning_rate * jnp.where(step < warmup_steps, (step + 1) / warmup_steps,
                                         0.5 * (1.0 + jnp.cos(jnp.pi * progress)))

    return schedule


def init_optimizer_state(workload: spec.Workload, model_params: spec.ParameterContainer,
                         model_state: spec.ModelAuxiliaryState, hyperparameters: spec.Hyperparameters,
                         rng: spec.RandomState) -> spec.OptimizerState:
    del model_state, rng
    optimizer = nadamw(warmup_cosine(hyperparameters.learning_rate, workload.step_hint,
                                     hyperparameters.warmup_factor),
                       b1=1.0 - hyperparameters.one_minus_beta1, b2=hyperparameters.beta2, eps=1e-8,
                       weight_decay=hyperparameters.weight_decay)
    label_smoothing = getattr(hyperparameters, "label_smoothing", 0.0)
    return {"state": optimizer.init(model_params), "step": jax.jit(functools.partial(
        train_step, workload, optimizer, label_smoothing))}


def train_step(workload: spec.Workload, optimizer: optax.GradientTransformation, label_smoothing: float,
               params: spec.ParameterContainer, optimizer_state: optax.OptState, model_state: spec.ModelAuxiliaryState,
               batch: dict[str, spec.Tensor], rng: jax.Array) -> tuple:
    def loss_fn(p: spec.ParameterContainer) -> tuple:
        logits, new_model_state = workload.model_fn(p, batch, model_state, spec.ForwardPassMode.TRAIN, rng,
                                                    update_batch_norm=True)
        loss = workload.loss_fn(batch["targets"], logits, batch.get("weights"), label_smoothing)
        return loss["summed"] / loss["n_valid_examples"], new_model_state

    (_, new_model_state), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    updates, optimizer_state = optimizer.update(grads, optimizer_state, params)
    return optax.apply_updates(params, updates), optimizer_state, new_model_state


def update_params(workload: spec.Workload, current_param_container: spec.ParameterContainer,
                  current_params_types: spec.ParameterTypeTree, model_state: spec.ModelAuxiliaryState,
                  hyperparameters: spec.Hyperparameters, batch: dict[str, spec.Tensor], loss_type: spec.LossType,
                  optimizer_state: spec.OptimizerState, eval_results: list, global_step: int,
                  rng: spec.RandomState) -> spec.UpdateReturn:
    del workload, current_params_types, hyperparameters, loss_type, eval_results, global_step
    params, state, new_model_state = optimizer_state["step"](current_param_container, optimizer_state["state"],
                                                             model_state, batch, jnp.asarray(rng))
    return {**optimizer_state, "state": state}, params, new_model_state


def data_selection(workload: spec.Workload, input_queue, optimizer_state: spec.OptimizerState,
                   current_param_container: spec.ParameterContainer, model_state: spec.ModelAuxiliaryState,
                   hyperparameters: spec.Hyperparameters, global_step: int,
                   rng: spec.RandomState) -> dict[str, spec.Tensor]:
    del workload, optimizer_state, current_param_container, model_state, hyperparameters, global_step, rng
    return next(input_queue)
