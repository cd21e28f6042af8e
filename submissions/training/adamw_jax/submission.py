"""AdamW with linear warmup and cosine decay, in JAX (optax): the twin of ``submissions/training/adamw``.

The same update as the PyTorch baseline (decoupled weight decay scaled by the learning rate, eps 1e-8, a linear
warmup from ~0 over ``warmup_factor * step_hint`` updates, then a cosine to 0 over the rest of ``step_hint``), the
same batch sizes and search space, written the way an AlgoPerf JAX submission is: parameters and optimizer state
are pytrees, one jitted function computes the loss, its gradient and the update. The first call compiles it; that
time is submission time (AlgoPerf's rule), and the harness records it as the trial's ``first_step_s``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax

from harness.algoperf import spec

BATCH_SIZES = {"digits_mlp": 64, "fashion_mnist_mlp": 128, "fashion_mnist_cnn": 128}


def get_batch_size(workload_name: str) -> int:
    # Variants use their base workload's batch size.
    for name, size in BATCH_SIZES.items():
        if workload_name == name or workload_name.startswith(name + "_"):
            return size
    raise ValueError(f"Unsupported workload name: {workload_name}.")


def warmup_cosine(learning_rate: float, step_hint: int, warmup_factor: float) -> optax.Schedule:
    warmup_steps = max(int(warmup_factor * step_hint), 1)
    return optax.join_schedules(
        [optax.linear_schedule(learning_rate * 1e-10, learning_rate, warmup_steps),
         optax.cosine_decay_schedule(learning_rate, max(step_hint - warmup_steps, 1))],
        boundaries=[warmup_steps])


def init_optimizer_state(workload: spec.Workload, model_params: spec.ParameterContainer,
                         model_state: spec.ModelAuxiliaryState, hyperparameters: spec.Hyperparameters,
                         rng: spec.RandomState) -> spec.OptimizerState:
    del model_state, rng
    optimizer = optax.adamw(warmup_cosine(hyperparameters.learning_rate, workload.step_hint,
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
