"""SGD with Nesterov momentum, linear warmup, then linear or cosine decay: a reference baseline for the training track.

``torch.optim.SGD(nesterov=True)`` (Sutskever et al., 2013, in the formulation of Bengio et al., arXiv:1212.0901).
Weight decay is SGD's own: an L2 term added to the gradient, so it passes through the momentum. The schedule follows
AlgoPerf's Nesterov baseline: warm up linearly, decay over ``decay_steps_factor`` of the remaining ``step_hint`` steps
to ``end_factor * learning_rate``, then hold.
"""

from __future__ import annotations

import math

import torch
from torch.optim.lr_scheduler import LambdaLR

from harness.algoperf import spec

BATCH_SIZES = {"digits_mlp": 64, "fashion_mnist_mlp": 128, "fashion_mnist_cnn": 128, "tiny_lm": 32,
               "minilm_rotten_tomatoes_ft": 32, "cifar10_resnet18": 256, "wikitext103_gpt2": 64, "imagenette_vit": 256}


def get_batch_size(workload_name: str) -> int:
    # Variants use their base workload's batch size.
    for name, size in BATCH_SIZES.items():
        if workload_name == name or workload_name.startswith(name + "_"):
            return size
    raise ValueError(f"Unsupported workload name: {workload_name}.")


def warmup_then_decay(optimizer: torch.optim.Optimizer, step_hint: int,
                      hyperparameters: spec.Hyperparameters) -> LambdaLR:
    """Linear warmup, then a linear or cosine decay from 1 to ``end_factor``, then constant at ``end_factor``.

    Warmup lasts ``warmup_factor * step_hint`` steps; the decay ``decay_steps_factor`` of the steps left after it.
    ``decay_shape`` is ``"linear"`` or ``"cosine"``.
    """
    warmup_steps = max(int(hyperparameters.warmup_factor * step_hint), 1)
    decay_steps = max(int(hyperparameters.decay_steps_factor * (step_hint - warmup_steps)), 1)
    end, shape = hyperparameters.end_factor, hyperparameters.decay_shape
    if shape not in ("linear", "cosine"):
        raise ValueError(f"decay_shape must be 'linear' or 'cosine', got {shape!r}")

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min((step - warmup_steps) / decay_steps, 1.0)
        remaining = 1.0 - progress if shape == "linear" else 0.5 * (1.0 + math.cos(math.pi * progress))
        return end + (1.0 - end) * remaining

    return LambdaLR(optimizer, factor)


def init_optimizer_state(workload: spec.Workload, model_params: spec.ParameterContainer,
                         model_state: spec.ModelAuxiliaryState, hyperparameters: spec.Hyperparameters,
                         rng: spec.RandomState) -> spec.OptimizerState:
    del model_state, rng
    optimizer = torch.optim.SGD(model_params.parameters(), lr=hyperparameters.learning_rate,
                                momentum=1.0 - hyperparameters.one_minus_beta1, nesterov=True,
                                weight_decay=hyperparameters.weight_decay)
    return {"optimizer": optimizer, "scheduler": warmup_then_decay(optimizer, workload.step_hint, hyperparameters)}


def update_params(workload: spec.Workload, current_param_container: spec.ParameterContainer,
                  current_params_types: spec.ParameterTypeTree, model_state: spec.ModelAuxiliaryState,
                  hyperparameters: spec.Hyperparameters, batch: dict[str, spec.Tensor], loss_type: spec.LossType,
                  optimizer_state: spec.OptimizerState, eval_results: list, global_step: int,
                  rng: spec.RandomState) -> spec.UpdateReturn:
    del current_params_types, loss_type, eval_results, global_step
    model = current_param_container
    optimizer_state["optimizer"].zero_grad(set_to_none=True)
    logits, new_model_state = workload.model_fn(params=model, augmented_and_preprocessed_input_batch=batch,
                                                model_state=model_state, mode=spec.ForwardPassMode.TRAIN, rng=rng,
                                                update_batch_norm=True)
    loss_dict = workload.loss_fn(label_batch=batch["targets"], logits_batch=logits, mask_batch=batch.get("weights"),
                                 label_smoothing=getattr(hyperparameters, "label_smoothing", 0.0))
    loss = loss_dict["summed"] / loss_dict["n_valid_examples"]
    loss.backward()
    optimizer_state["optimizer"].step()
    optimizer_state["scheduler"].step()
    return optimizer_state, model, new_model_state


def data_selection(workload: spec.Workload, input_queue, optimizer_state: spec.OptimizerState,
                   current_param_container: spec.ParameterContainer, model_state: spec.ModelAuxiliaryState,
                   hyperparameters: spec.Hyperparameters, global_step: int,
                   rng: spec.RandomState) -> dict[str, spec.Tensor]:
    del workload, optimizer_state, current_param_container, model_state, hyperparameters, global_step, rng
    return next(input_queue)
