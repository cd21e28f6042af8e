"""NAdamW with linear warmup and cosine decay: a reference baseline for the training track.

NAdam (Dozat, 2016) is Adam with a Nesterov-style first moment: the update uses ``beta1 * m_t + (1 - beta1) * g_t``,
a look-ahead at the next momentum, instead of ``m_t``. Here it is written as in Table 1 of Choi et al., "On Empirical
Comparisons of Optimizers for Deep Learning" (arXiv:1910.05446), with weight decay decoupled from the gradient as in
AdamW (Loshchilov & Hutter, arXiv:1711.05101). AlgoPerf's NAdamW baseline is the same algorithm.
"""

from __future__ import annotations

import math

import torch
from torch.optim.lr_scheduler import LambdaLR

from harness.algoperf import spec

BATCH_SIZES = {"digits_mlp": 64, "fashion_mnist_mlp": 128, "fashion_mnist_cnn": 128, "tiny_lm": 32,
               "minilm_rotten_tomatoes_ft": 32, "cifar10_resnet18": 256, "wikitext103_gpt2": 64, "imagenette_vit": 256}


class NAdamW(torch.optim.Optimizer):
    """NAdam with decoupled weight decay.

    For each parameter ``p`` with gradient ``g`` at step ``t`` (from 1), with ``lr`` the scheduled learning rate::

        p <- p * (1 - lr * weight_decay)                      # decoupled decay (AdamW)
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g^2
        p <- p - lr * sqrt(1 - beta2^t) / (1 - beta1^t) * (beta1 * m + (1 - beta1) * g) / (sqrt(v) + eps)

    Args:
        params: parameters or parameter groups.
        lr: learning rate (the scheduler scales it).
        betas: ``(beta1, beta2)``, decay rates of the first and second moments.
        eps: added to ``sqrt(v)``, for numerical stability.
        weight_decay: decoupled weight decay, multiplied by the current learning rate.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        if not 0.0 <= betas[0] < 1.0 or not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"betas must lie in [0, 1), got {betas}")
        if lr < 0.0 or eps < 0.0 or weight_decay < 0.0:
            raise ValueError(f"lr, eps and weight_decay must be >= 0, got {lr}, {eps}, {weight_decay}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()``'s loss when one is given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                self._update_group(group, params)
        return loss

    def _update_group(self, group: dict, params: list[torch.Tensor]) -> None:
        """One step for a group. ``_foreach`` ops: one kernel per op for all tensors, not one per tensor (on these
        small models the per-op overhead of a Python loop is a visible share of the step time)."""
        beta1, beta2 = group["betas"]
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        grads = [p.grad for p in params]
        states = [self._state_of(p) for p in params]
        exp_avgs, exp_avg_sqs = [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states]
        # One step count for the group, so that one scalar step size serves every tensor of the foreach update.
        # A parameter that missed a step (no gradient) takes the group's count: its bias correction is then slightly
        # off, which matters only for parameters that are sometimes unused (none in Podium's workloads).
        t = max(s["step"] for s in states) + 1
        for s in states:
            s["step"] = t
        if weight_decay:
            torch._foreach_mul_(params, 1.0 - lr * weight_decay)
        torch._foreach_lerp_(exp_avgs, grads, 1.0 - beta1)
        torch._foreach_mul_(exp_avg_sqs, beta2)
        torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1.0 - beta2)
        # The Nesterov look-ahead, beta1 * m_t + (1 - beta1) * g_t: the only difference from AdamW.
        lookahead = torch._foreach_lerp(exp_avgs, grads, 1.0 - beta1)
        denom = torch._foreach_sqrt(exp_avg_sqs)
        torch._foreach_add_(denom, eps)
        step_size = lr * math.sqrt(1.0 - beta2**t) / (1.0 - beta1**t)
        torch._foreach_addcdiv_(params, lookahead, denom, value=-step_size)

    def _state_of(self, param: torch.Tensor) -> dict:
        state = self.state[param]
        if not state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        return state


def get_batch_size(workload_name: str) -> int:
    # Variants use their base workload's batch size.
    for name, size in BATCH_SIZES.items():
        if workload_name == name or workload_name.startswith(name + "_"):
            return size
    raise ValueError(f"Unsupported workload name: {workload_name}.")


def warmup_cosine(optimizer: torch.optim.Optimizer, step_hint: int, warmup_factor: float) -> LambdaLR:
    """Linear warmup over ``warmup_factor * step_hint`` steps, then cosine decay to zero at ``step_hint``.

    The factor stays at zero past ``step_hint`` (``CosineAnnealingLR`` would climb back up: it is periodic).
    """
    warmup_steps = max(int(warmup_factor * step_hint), 1)
    decay_steps = max(step_hint - warmup_steps, 1)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min((step - warmup_steps) / decay_steps, 1.0)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return LambdaLR(optimizer, factor)


def init_optimizer_state(workload: spec.Workload, model_params: spec.ParameterContainer,
                         model_state: spec.ModelAuxiliaryState, hyperparameters: spec.Hyperparameters,
                         rng: spec.RandomState) -> spec.OptimizerState:
    del model_state, rng
    optimizer = NAdamW(model_params.parameters(), lr=hyperparameters.learning_rate,
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
