"""Global magnitude pruning with a gradual schedule and recovery fine-tuning (Han, Pool, Tran, Dally, NeurIPS 2015;
the schedule after Zhu & Gupta, ICLR 2018 workshop).

Every weight matrix and kernel of the model's ``nn.Linear`` and ``nn.Conv2d`` layers (the classifier included;
biases and every other parameter kept) is ranked by magnitude *globally*, across layers, and the smallest share is
set to zero: one threshold for the whole model, so a layer with many small weights (a wide fully connected layer)
loses more than a small layer of large ones (the first convolution). The target ``sparsity`` is reached in
``stages`` steps on Zhu & Gupta's cubic schedule, ``s_k = s (1 - (1 - k / stages)^3)``, each followed by its share
of ``recovery_steps`` AdamW updates on the training queue (cross-entropy on the labels, every parameter trained, a
fresh optimizer and a cosine learning-rate decay in each stage); after every update the mask is written into the
weights again, so a pruned weight stays exactly zero.

The returned model is the same module, its zeros stored densely in float32: the saved artifact shrinks only as far
as deflate squeezes the zeros out, and inference runs dense kernels (no latency gain).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

PRUNABLE = (nn.Linear, nn.Conv2d)


def _logits(model: nn.Module, inputs: Any) -> torch.Tensor:
    """The model's logits for a batch's inputs: a tensor, or keyword tensors (a Hugging Face model's output has
    ``.logits``)."""
    output = model(**inputs) if isinstance(inputs, Mapping) else model(inputs)
    return getattr(output, "logits", output)


def _to(inputs: Any, device: torch.device) -> Any:
    if isinstance(inputs, Mapping):
        return {name: value.to(device) for name, value in inputs.items()}
    return inputs.to(device)


def prunable_weights(model: nn.Module) -> list[nn.Parameter]:
    return [module.weight for module in model.modules() if isinstance(module, PRUNABLE)]


def global_masks(weights: Sequence[torch.Tensor], sparsity: float) -> list[torch.Tensor]:
    """Keep-masks that zero the ``sparsity`` share of smallest-magnitude elements of all ``weights`` taken together
    (ties at the threshold are pruned too, so the share can come out a hair above ``sparsity``)."""
    magnitudes = torch.cat([w.detach().abs().flatten() for w in weights])
    k = int(sparsity * magnitudes.numel())
    if k == 0:
        return [torch.ones_like(w, dtype=torch.bool) for w in weights]
    threshold = torch.kthvalue(magnitudes, k).values
    return [w.detach().abs() > threshold for w in weights]


def stage_sparsities(sparsity: float, stages: int) -> list[float]:
    """Zhu & Gupta's cubic schedule: large steps first, while the network has redundancy to spare."""
    return [sparsity * (1.0 - (1.0 - k / stages) ** 3) for k in range(1, stages + 1)]


def stage_steps(total: int, stages: int) -> list[int]:
    """``total`` recovery updates shared out over the stages as evenly as they divide."""
    return [total // stages + (k < total % stages) for k in range(stages)]


@torch.no_grad()
def apply_masks(weights: Sequence[torch.Tensor], masks: Sequence[torch.Tensor]) -> None:
    for weight, mask in zip(weights, masks):
        weight.mul_(mask)


def recover(model: nn.Module, train_queue: Iterator[Any], steps: int, learning_rate: float,
            weights: Sequence[torch.Tensor], masks: Sequence[torch.Tensor]) -> None:
    """``steps`` AdamW updates of every parameter on the training queue, with the masks re-applied after each."""
    if steps <= 0:
        return
    device = next(model.parameters()).device
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 * (1.0 + math.cos(math.pi * step / steps)))
    model.train()
    for _ in range(steps):
        batch = next(train_queue)
        loss = F.cross_entropy(_logits(model, _to(batch["inputs"], device)), batch["targets"].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        apply_masks(weights, masks)
    optimizer.zero_grad(set_to_none=True)


def compress(model: nn.Module, workload: Any, calibration_batches: Sequence[Any], train_queue: Iterator[Any],
             hyperparameters: Any, rng: np.ndarray) -> nn.Module:
    del workload, calibration_batches  # magnitudes need no data; recovery reads the training queue
    sparsity = float(getattr(hyperparameters, "sparsity", 0.9))
    stages = max(1, int(getattr(hyperparameters, "stages", 3)))
    recovery_steps = int(getattr(hyperparameters, "recovery_steps", 600))
    learning_rate = float(getattr(hyperparameters, "learning_rate", 1e-3))
    weights = prunable_weights(model)
    if not weights:
        raise ValueError("the model has no nn.Linear or nn.Conv2d layer to prune")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(np.asarray(rng).ravel()[0]))  # dropout, where the model has any
        for stage_sparsity, steps in zip(stage_sparsities(sparsity, stages), stage_steps(recovery_steps, stages)):
            masks = global_masks(weights, stage_sparsity)
            apply_masks(weights, masks)
            recover(model, train_queue, steps, learning_rate, weights, masks)
    return model.eval()
