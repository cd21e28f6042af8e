"""Layer-wise second-order pruning with weight reconstruction: SparseGPT (E. Frantar, D. Alistarh, "SparseGPT: Massive
Language Models Can Be Accurately Pruned in One-Shot", ICML 2023, arXiv:2301.00774), written out here, after
Optimal Brain Surgeon (Hassibi & Stork, NeurIPS 1992) and its layer-wise form, Optimal Brain Compression (Frantar,
Singh, Alistarh, NeurIPS 2022).

Each layer is pruned on its own, to minimise the change of its output on the calibration inputs,
``|| W X - W' X ||^2``, whose Hessian in each row of ``W`` is ``H = 2 X X^T``: one matrix for every row. Removing
weight ``w_j`` of a row costs ``w_j^2 / [H^-1]_jj`` (OBS's saliency), and the rest of the row best absorbs its loss
by the update ``delta = -(w_j / [H^-1]_jj) H^-1[:, j]``. SparseGPT makes this tractable for every row at once by
visiting the columns left to right: after column ``j`` is settled (pruned weights zeroed, the kept ones left), the
error it leaves is spread over the columns to its right only, using the rows of the upper Cholesky factor of
``H^-1``, which hold the inverse Hessians of the remaining columns in sequence. The mask is chosen a block of
``block_size`` columns at a time (SparseGPT's adaptive mask selection): in each block the ``sparsity`` share of
weights with the smallest ``w^2 / [chol(H^-1)]_jj^2`` across all rows is pruned, using the weights as already
updated by the columns before it. ``H`` is damped by ``dampening`` times its mean diagonal (SparseGPT's 1%); an input
that is zero on every calibration sample (a zero diagonal) gets its weights zeroed and a unit diagonal.

What is pruned: every ``nn.Linear`` to the same ``sparsity``, except the classifier (the last ``nn.Linear`` to run in
a forward pass, found by running it, as SparseGPT leaves a language model's head dense). Convolutions are left dense
unless ``prune_convolutions`` is set; then every ungrouped ``nn.Conv2d`` is pruned too, its input unfolded into
patches (``F.unfold``) so that it is a linear layer over ``in_channels * kh * kw`` columns, each spatial position one
more calibration sample. Off by default: on the transfer CNN the convolutions hold 2% of the weights, and a uniform
per-layer sparsity costs the first one (nine columns, one input channel) much more than it saves. Layers are pruned
one at a time in the order they run, each on the activations that reach it through the layers already pruned
(SparseGPT's sequential scheme, here layer by layer rather than block by block), with the model in eval mode.

Data: the calibration inputs only (no labels, no training queue, no fine-tuning). The zeros are stored densely in
float32, so the artifact shrinks as far as deflate squeezes them out, and inference runs dense kernels.
"""

from __future__ import annotations

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


class _Reached(Exception):
    """Raised by a Hessian hook to end a forward pass at the layer it needs (nothing after it is used)."""


@torch.no_grad()
def layers_in_order(model: nn.Module, inputs: Any, convolutions: bool) -> list[tuple[nn.Module, bool]]:
    """The ``nn.Linear`` layers (and ungrouped ``nn.Conv2d`` ones if ``convolutions``) in the order a forward pass of
    ``inputs`` first runs them, the classifier (the last ``nn.Linear`` to run) left out; each with whether it ran
    exactly once in that pass (then a forward pass may stop at it: see :func:`hessian`)."""
    ran: list[nn.Module] = []
    calls: dict[int, int] = {}

    def record(module: nn.Module, _inputs: Any, _output: Any) -> None:
        calls[id(module)] = calls.get(id(module), 0) + 1
        if all(module is not seen for seen in ran):
            ran.append(module)

    handles = [module.register_forward_hook(record) for module in model.modules()
               if isinstance(module, nn.Linear) or (isinstance(module, nn.Conv2d) and module.groups == 1)]
    try:
        _logits(model, inputs)
    finally:
        for handle in handles:
            handle.remove()
    classifier = next((m for m in reversed(ran) if isinstance(m, nn.Linear)), None)
    return [(m, calls[id(m)] == 1) for m in ran if m is not classifier and (convolutions or isinstance(m, nn.Linear))]


def input_rows(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The layer's input as rows of its weight matrix's columns: ``(samples, in)``, a convolution's patches
    (``(B * positions, in_channels * kh * kw)``, in ``weight.flatten(1)``'s column order)."""
    if isinstance(layer, nn.Conv2d):
        if isinstance(layer.padding, str):
            raise ValueError(f"string padding {layer.padding!r} is not unfolded here")
        patches = F.unfold(x, layer.kernel_size, dilation=layer.dilation, padding=layer.padding, stride=layer.stride)
        return patches.transpose(1, 2).flatten(0, 1)
    return x.flatten(0, -2)


@torch.no_grad()
def hessian(model: nn.Module, layer: nn.Module, inputs: Sequence[Any], stop_at_layer: bool = False) -> torch.Tensor:
    """``2 X X^T / n`` (float64) over the calibration inputs as they reach ``layer`` in the model as it is now. With
    ``stop_at_layer`` (for a layer that runs once per pass) each forward pass ends as the layer's input arrives: the
    layers after it do not run, which halves the passes' cost over a deep model (the result is the same)."""
    columns = layer.weight[0].numel()
    total = torch.zeros(columns, columns, dtype=torch.float64, device=layer.weight.device)
    count = 0

    def accumulate(_module: nn.Module, args: tuple) -> None:
        nonlocal total, count
        rows = input_rows(layer, args[0]).double()
        total += rows.T @ rows
        count += rows.shape[0]
        if stop_at_layer:
            raise _Reached

    handle = layer.register_forward_pre_hook(accumulate)
    try:
        for x in inputs:
            try:
                _logits(model, x)
            except _Reached:
                pass
    finally:
        handle.remove()
    return 2.0 * total / max(count, 1)


@torch.no_grad()
def sparsegpt(weight: torch.Tensor, hessian_matrix: torch.Tensor, sparsity: float, block_size: int,
              dampening: float) -> torch.Tensor:
    """SparseGPT's pruning of one ``(rows, columns)`` weight matrix (float64 throughout): the matrix with a
    ``sparsity`` share of each column block zeroed and the kept weights updated to compensate."""
    w = weight.double().clone()
    h = hessian_matrix.clone()
    dead = torch.diag(h) == 0
    h[dead, dead] = 1.0
    w[:, dead] = 0.0
    eye = torch.eye(len(h), dtype=h.dtype, device=h.device)
    h += dampening * torch.mean(torch.diag(h)) * eye
    # H^-1 by solving against the identity (torch.cholesky_inverse is ~8x slower on CPU), then its upper Cholesky
    # factor: row j holds the inverse Hessian of columns j.. once the columns before j are settled
    h_inv = torch.linalg.cholesky(torch.cholesky_solve(eye, torch.linalg.cholesky(h)), upper=True)
    columns = w.shape[1]
    for start in range(0, columns, block_size):
        end = min(start + block_size, columns)
        block, block_inv = w[:, start:end].clone(), h_inv[start:end, start:end]
        errors = torch.zeros_like(block)
        scores = block ** 2 / torch.diag(block_inv)[None, :] ** 2
        pruned = torch.zeros_like(block, dtype=torch.bool)
        pruned.view(-1)[torch.topk(scores.flatten(), int(sparsity * scores.numel()), largest=False).indices] = True
        for j in range(end - start):
            column = block[:, j]
            kept = torch.where(pruned[:, j], torch.zeros_like(column), column)
            error = (column - kept) / block_inv[j, j]
            block[:, j:] -= error[:, None] * block_inv[j, j:][None, :]  # OBS update of the columns to the right
            block[:, j] = kept  # exactly zero where pruned (the update above leaves round-off there)
            errors[:, j] = error
        w[:, start:end] = block
        w[:, end:] -= errors @ h_inv[start:end, end:]  # the block's error, spread over the later blocks at once
    return w.to(weight.dtype)


def compress(model: nn.Module, workload: Any, calibration_batches: Sequence[Any], train_queue: Iterator[Any],
             hyperparameters: Any, rng: np.ndarray) -> nn.Module:
    del workload, train_queue, rng  # one-shot and deterministic, from the calibration inputs alone
    sparsity = float(getattr(hyperparameters, "sparsity", 0.5))
    block_size = int(getattr(hyperparameters, "block_size", 128))
    dampening = float(getattr(hyperparameters, "dampening", 0.01))
    prune_convolutions = bool(getattr(hyperparameters, "prune_convolutions", False))
    device = next(model.parameters()).device
    inputs = [_to(batch["inputs"], device) for batch in calibration_batches]
    model.eval()
    layers = layers_in_order(model, inputs[0], prune_convolutions)
    if not layers:
        raise ValueError("the model has no layer to prune besides its classifier")
    for layer, once in layers:
        pruned = sparsegpt(layer.weight.flatten(1), hessian(model, layer, inputs, stop_at_layer=once), sparsity,
                           block_size, dampening)
        with torch.no_grad():
            layer.weight.copy_(pruned.view_as(layer.weight))
    return model
