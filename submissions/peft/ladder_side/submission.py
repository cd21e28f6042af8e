"""Ladder Side-Tuning, simplified (after Sung, Cho, Bansal, NeurIPS 2022): a small side network reads the frozen
backbone's intermediate activations and makes the prediction; no gradient flows through the backbone.

What is kept from LST: the backbone is frozen and run without building a graph (``torch.no_grad``), so training
stores no backbone activations and back-propagates only through the side network; the side network is narrow (its
width is the widest tapped activation divided by ``reduction_factor``, 8 by default, as in the paper); it climbs a
"ladder" of the backbone's blocks, mixing each block's activation into its running state through a learned gate
``mu_i = sigmoid(alpha_i / T)`` (``T = 0.1``, ``alpha_i`` initialised to 0, as in the paper); and it ends in its own
classifier.

What is simplified, so that it applies to any PEFT workload: each tapped activation is *pooled* to one vector per
example before it enters the side network (the mean over spatial positions of a convolution's output, the
attention-masked mean over tokens of a transformer layer's output), so the side network is a gated residual MLP over
pooled features rather than a narrow transformer over tokens; and it is initialised at random, not from a pruned
copy of the backbone.

Which activations: the outputs of the backbone's *blocks*, found by structure rather than by name: the children of
its ``nn.Sequential`` / ``nn.ModuleList`` containers that hold parameters (the outermost such, outside the
workload's head modules), in the order they run. For MiniLM that is the six ``bert.encoder.layer.N`` transformer
layers; for the transfer CNN the two convolutions (``features.0``, ``features.3``) and the two fully connected
layers (``body.1``, ``body.3``). A backbone without such containers is tapped at every module that owns parameters.
Shapes (and the number of classes) are read from one forward pass of the frozen backbone on two rows of
``workload.reference``, used only as a shape probe.

The returned model wraps the backbone: ``forward`` takes the backbone's inputs (a tensor, or keyword tensors such as
``input_ids`` / ``attention_mask``), runs the backbone unchanged (its own head included, so measurements that look
at the backbone see it intact) and returns the side network's ``(B, C)`` logits (for a Hugging Face backbone, its
output object with ``logits`` replaced).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

TEMPERATURE = 0.1


def _first_tensor(output: Any) -> torch.Tensor | None:
    """A block's activation: its output tensor, or the first tensor of a tuple / model output."""
    if isinstance(output, torch.Tensor):
        return output
    values = output.values() if isinstance(output, Mapping) else output if isinstance(output, (tuple, list)) else ()
    return next((v for v in values if isinstance(v, torch.Tensor)), None)


def pool(activation: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
    """One vector per example: ``(B, C, H, W)`` -> mean over positions; ``(B, T, H)`` -> mean over the tokens the
    attention mask keeps (all tokens without a mask); ``(B, D)`` as it is; anything else flattened."""
    a = activation.float()
    if a.dim() == 4:
        return a.mean(dim=(2, 3))
    if a.dim() == 3:
        if attention_mask is not None and tuple(attention_mask.shape) == tuple(a.shape[:2]):
            mask = attention_mask.to(a.dtype).unsqueeze(-1)  # (B, T, 1)
            return (a * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        return a.mean(dim=1)
    return a.flatten(1)


def _is_head(name: str, heads: tuple[str, ...]) -> bool:
    return any(name == h or name.startswith(f"{h}.") for h in heads)


def find_blocks(model: nn.Module, heads: tuple[str, ...]) -> list[str]:
    """Names of the outermost children of ``nn.Sequential`` / ``nn.ModuleList`` containers that hold parameters,
    outside the head; without any, every module that owns parameters directly."""
    blocks: list[str] = []
    for name, module in model.named_modules():
        if not isinstance(module, (nn.Sequential, nn.ModuleList)) or _is_head(name, heads):
            continue
        if any(name == b or name.startswith(f"{b}.") for b in blocks):
            continue  # inside a block already tapped
        for child_name, child in module.named_children():
            full = f"{name}.{child_name}" if name else child_name
            if not _is_head(full, heads) and any(True for _ in child.parameters()):
                blocks.append(full)
    if not blocks:
        blocks = [name for name, module in model.named_modules()
                  if name and not _is_head(name, heads) and any(True for _ in module.parameters(recurse=False))]
    return blocks


class SideBlock(nn.Module):
    """One rung of the ladder: a pre-norm residual MLP of the side network's width."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.up = nn.Linear(width, 2 * width)
        self.down = nn.Linear(2 * width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.down(nn.functional.gelu(self.up(self.norm(x))))


class SideNetwork(nn.Module):
    """Down-projections of the pooled backbone activations, gates, rungs and the side classifier."""

    def __init__(self, dims: list[int], width: int, n_classes: int) -> None:
        super().__init__()
        self.width = width
        self.down = nn.ModuleList(nn.Sequential(nn.LayerNorm(d), nn.Linear(d, width)) for d in dims)
        self.gate_logits = nn.Parameter(torch.zeros(len(dims)))  # alpha_i; mu_i = sigmoid(alpha_i / T) = 0.5
        self.rungs = nn.ModuleList(SideBlock(width) for _ in dims)
        self.output = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, n_classes))

    def forward(self, pooled: list[torch.Tensor]) -> torch.Tensor:
        gates = torch.sigmoid(self.gate_logits / TEMPERATURE)
        state = pooled[0].new_zeros(pooled[0].shape[0], self.width)
        for i, activation in enumerate(pooled):
            state = self.rungs[i](gates[i] * self.down[i](activation) + (1 - gates[i]) * state)
        return self.output(state)


class LadderSideModel(nn.Module):
    """The frozen backbone and the side network; ``forward`` returns the side network's logits."""

    def __init__(self, backbone: nn.Module, taps: list[str], side: SideNetwork) -> None:
        super().__init__()
        self.backbone = backbone
        self.side = side
        self.taps = list(taps)

    def run_backbone(self, args: tuple, kwargs: dict) -> tuple[Any, dict[str, torch.Tensor]]:
        """The backbone's own output and the tapped activations (detached), without an autograd graph."""
        captured: dict[str, torch.Tensor] = {}
        modules = dict(self.backbone.named_modules())

        def hook(name: str) -> Any:
            def store(_module: nn.Module, _inputs: Any, output: Any) -> None:
                tensor = _first_tensor(output)
                if tensor is not None:
                    captured[name] = tensor.detach()
            return store

        handles = [modules[name].register_forward_hook(hook(name)) for name in self.taps]
        try:
            with torch.no_grad():
                output = self.backbone(*args, **kwargs)
        finally:
            for handle in handles:
                handle.remove()
        return output, captured

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        output, captured = self.run_backbone(args, kwargs)
        mask = kwargs.get("attention_mask")
        logits = self.side([pool(captured[name], mask) for name in self.taps])
        if isinstance(output, torch.Tensor):
            return logits
        output.logits = logits  # a Hugging Face output: the rest (hidden states...) is the backbone's
        return output


def adapt(model: Any, workload: Any, hyperparameters: Any, rng: Any) -> Any:
    heads = tuple(workload.head_modules)
    model.requires_grad_(False)
    blocks = find_blocks(model, heads)
    if not blocks:
        raise ValueError(f"{workload.name}'s model has no module with parameters outside its head to tap")
    probe = LadderSideModel(model, blocks, nn.Module())
    was_training = model.training
    model.eval()
    order: list[str] = []
    try:
        reference = workload.reference
        sample = {k: v[:2] for k, v in reference.items()} if isinstance(reference, Mapping) else reference[:2]
        kwargs = dict(sample) if isinstance(sample, Mapping) else {}
        output, captured = probe.run_backbone(() if kwargs else (sample,), kwargs)
        order = list(captured)  # the order the blocks ran in
        n_classes = (output if isinstance(output, torch.Tensor) else output.logits).shape[-1]
        dims = [pool(captured[name], kwargs.get("attention_mask")).shape[-1] for name in order]
    finally:
        model.train(was_training)
    reduction = int(getattr(hyperparameters, "reduction_factor", 8))
    width = max(8, max(dims) // max(reduction, 1))
    parameter = next(model.parameters())
    with torch.random.fork_rng(devices=[]):
        words = [int(v) for v in np.asarray(rng).ravel()[:2]]
        torch.manual_seed(sum(w << (32 * i) for i, w in enumerate(words)) % 2**63)
        side = SideNetwork(dims, width, int(n_classes)).to(device=parameter.device)
    return LadderSideModel(model, order, side)
