"""Magnitude pruning with recovery fine-tuning, then dynamic int8 quantization: the two baselines
``magnitude_prune`` and ``dynamic_int8`` in sequence (Han, Mao, Dally, *Deep Compression*, ICLR 2016, prunes and then
quantizes the same way; here the quantizer is PyTorch's ``quantize_dynamic`` rather than the paper's weight sharing).

Pruning: every weight matrix and kernel of the model's ``nn.Linear`` and ``nn.Conv2d`` layers (the classifier
included; biases kept) is ranked by magnitude globally, across layers, and the smallest share is set to zero. The
target ``sparsity`` is reached in ``stages`` steps on Zhu & Gupta's cubic schedule (ICLR 2018 workshop),
``s_k = s (1 - (1 - k / stages)^3)``, each followed by its share of ``recovery_steps`` AdamW updates on the training
queue (cross-entropy on the labels, every parameter trained, a fresh optimizer and a cosine learning-rate decay in each
stage), with the mask written into the weights again after every update.

Quantization: every ``nn.Linear`` then becomes ``torch.ao``'s dynamically quantized linear layer: int8 weight with one
symmetric scale per tensor (zero point 0, so a pruned weight stays exactly zero), float32 bias, activations quantized
per batch at run time. Convolutions stay float32, pruned. ``torch.ao.quantization``'s two deprecation messages are
silenced around the one call that raises them.

The zeros are stored densely (int8 in the linear layers, float32 in the convolutions): the artifact shrinks by the
4x of int8 times what deflate squeezes out of the zeros; inference runs dense kernels.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

PRUNABLE = (nn.Linear, nn.Conv2d)
#: the two messages with which torch.ao.quantization announces its own deprecation (torch 2.13)
DEPRECATION_MESSAGES = (r"torch\.ao\.quantization is deprecated", r"torch\.quantize_per_tensor.* are deprecated")


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


def quantize_linear_layers(model: nn.Module) -> nn.Module:
    """``model`` with every ``nn.Linear`` replaced by its dynamically quantized int8 version."""
    with warnings.catch_warnings():
        for message in DEPRECATION_MESSAGES:
            warnings.filterwarnings("ignore", message=message)
        return torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)


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
    return quantize_linear_layers(model.eval())
