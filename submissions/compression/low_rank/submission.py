"""Low-rank factorization of the large linear layers by truncated SVD, then recovery fine-tuning (Xue, Li, Gong,
Interspeech 2013, "Restructuring of deep neural network acoustic models with singular value decomposition"; Denton
et al., NeurIPS 2014, for the same idea in vision models).

Every ``nn.Linear`` with at least ``min_elements`` weights, except the classifier, is replaced by two linear layers:
``W ~ U_r S_r V_r^T`` keeps the ``r = ceil(rank_fraction * min(in, out))`` largest singular values, and the layer
becomes ``Linear(in, r, no bias)`` with weight ``S_r^1/2 V_r^T`` followed by ``Linear(r, out)`` with weight
``U_r S_r^1/2`` and the original bias (the singular values split evenly between the two factors, so that neither is
much larger than the other when both are fine-tuned). A layer is left whole where the factors would not be smaller
(``r (in + out) >= in * out``). The classifier is the last ``nn.Linear`` to run in a forward pass of a calibration
batch (found by running it, not by name), and is never factorized: its output is the logits. Then
``recovery_steps`` AdamW updates of every parameter on the training queue (cross-entropy on the labels, cosine
learning-rate decay) win back what the truncation lost.

The model really shrinks: the saved state holds the two factors instead of the matrix, and inference does
``r (in + out)`` multiply-adds per example instead of ``in * out`` in each factorized layer. Convolutions are left
as they are.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def _logits(model: nn.Module, inputs: Any) -> torch.Tensor:
    """The model's logits for a batch's inputs: a tensor, or keyword tensors (a Hugging Face model's output has
    ``.logits``)."""
    output = model(**inputs) if isinstance(inputs, Mapping) else model(inputs)
    return getattr(output, "logits", output)


def _to(inputs: Any, device: torch.device) -> Any:
    if isinstance(inputs, Mapping):
        return {name: value.to(device) for name, value in inputs.items()}
    return inputs.to(device)


@torch.no_grad()
def classifier_name(model: nn.Module, inputs: Any) -> str:
    """The name of the last ``nn.Linear`` to run in a forward pass of ``inputs`` (eval mode)."""
    ran: list[str] = []
    handles = [module.register_forward_hook(lambda _m, _i, _o, name=name: ran.append(name))
               for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    was_training = model.training
    model.eval()
    try:
        _logits(model, inputs)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    if not ran:
        raise ValueError("no nn.Linear ran in a forward pass: the model has no classifier to keep")
    return ran[-1]


def kept_rank(linear: nn.Linear, rank_fraction: float) -> int:
    return max(1, math.ceil(rank_fraction * min(linear.in_features, linear.out_features)))


@torch.no_grad()
def factorize(linear: nn.Linear, rank: int) -> nn.Sequential:
    """``linear`` as two layers whose product is its rank-``rank`` truncated SVD."""
    u, s, vh = torch.linalg.svd(linear.weight.float(), full_matrices=False)
    root = s[:rank].sqrt()
    first = nn.Linear(linear.in_features, rank, bias=False)
    second = nn.Linear(rank, linear.out_features, bias=linear.bias is not None)
    first.weight.copy_(root[:, None] * vh[:rank])
    second.weight.copy_(u[:, :rank] * root)
    if linear.bias is not None:
        second.bias.copy_(linear.bias)
    return nn.Sequential(first, second).to(device=linear.weight.device, dtype=linear.weight.dtype)


def factorize_large_linears(model: nn.Module, rank_fraction: float, min_elements: int, keep: str) -> list[str]:
    """Replace, in place, every ``nn.Linear`` of at least ``min_elements`` weights (except ``keep``) whose factors
    would be smaller than it; returns the names replaced."""
    chosen = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear) and name != keep and module.weight.numel() >= min_elements:
            rank = kept_rank(module, rank_fraction)
            if rank * (module.in_features + module.out_features) < module.weight.numel():
                chosen.append((name, rank))
    for name, rank in chosen:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        setattr(parent, child, factorize(getattr(parent, child), rank))
    return [name for name, _ in chosen]


def recover(model: nn.Module, train_queue: Iterator[Any], steps: int, learning_rate: float) -> None:
    """``steps`` AdamW updates of every parameter on the training queue, the learning rate decaying to 0."""
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
    optimizer.zero_grad(set_to_none=True)


def compress(model: nn.Module, workload: Any, calibration_batches: Sequence[Any], train_queue: Iterator[Any],
             hyperparameters: Any, rng: np.ndarray) -> nn.Module:
    del workload
    rank_fraction = float(getattr(hyperparameters, "rank_fraction", 0.25))
    min_elements = int(getattr(hyperparameters, "min_elements", 16_384))
    recovery_steps = int(getattr(hyperparameters, "recovery_steps", 600))
    learning_rate = float(getattr(hyperparameters, "learning_rate", 1e-3))
    device = next(model.parameters()).device
    keep = classifier_name(model, _to(calibration_batches[0]["inputs"], device))
    if not factorize_large_linears(model, rank_fraction, min_elements, keep):
        raise ValueError(f"no nn.Linear of at least {min_elements} weights (other than the classifier {keep!r}) "
                         f"would shrink at rank fraction {rank_fraction}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(np.asarray(rng).ravel()[0]))  # dropout, where the model has any
        recover(model, train_queue, recovery_steps, learning_rate)
    return model.eval()
