"""AdamW with linear warmup and cosine decay: Podium's reference baseline for the training track.

Written against Podium's AlgoPerf-compatible contract (``harness.algoperf``), the same way an AlgoPerf PyTorch
submission is written, so it also documents what such a submission looks like here.
"""

from __future__ import annotations

import torch
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR

from harness.algoperf import spec

BATCH_SIZES = {"digits_mlp": 64, "fashion_mnist_mlp": 128, "fashion_mnist_cnn": 128, "tiny_lm": 32,
               "minilm_rotten_tomatoes_ft": 32, "cifar10_resnet18": 256, "wikitext103_gpt2": 64, "imagenette_vit": 256}


def get_batch_size(workload_name: str) -> int:
    # Variants use their base workload's batch size.
    for name, size in BATCH_SIZES.items():
        if workload_name == name or workload_name.startswith(name + "_"):
            return size
    raise ValueError(f"Unsupported workload name: {workload_name}.")


def warmup_cosine(optimizer: torch.optim.Optimizer, step_hint: int, warmup_factor: float) -> SequentialLR:
    warmup_steps = max(int(warmup_factor * step_hint), 1)
    warmup = LinearLR(optimizer, start_factor=1e-10, end_factor=1.0, total_iters=warmup_steps)
    cosine = CosineAnnealingLR(optimizer, T_max=max(step_hint - warmup_steps, 1))
    return SequentialLR(optimizer, schedulers=[warmup, cosine], milestones=[warmup_steps])


def init_optimizer_state(workload: spec.Workload, model_params: spec.ParameterContainer,
                         model_state: spec.ModelAuxiliaryState, hyperparameters: spec.Hyperparameters,
                         rng: spec.RandomState) -> spec.OptimizerState:
    del model_state, rng
    optimizer = torch.optim.AdamW(model_params.parameters(), lr=hyperparameters.learning_rate,
                                  betas=(1.0 - hyperparameters.one_minus_beta1, hyperparameters.beta2), eps=1e-8,
                                  weight_decay=hyperparameters.weight_decay)
    return {"optimizer": optimizer,
            "scheduler": warmup_cosine(optimizer, workload.step_hint, hyperparameters.warmup_factor)}


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
