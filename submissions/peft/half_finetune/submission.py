"""Half Fine-Tuning (HFT; Hui et al., 2024): train a randomly chosen half of the pretrained layers, and choose again
every ``redraw_every`` steps.

HFT freezes half of the parameters of a pretrained model and updates the other half, choosing *within each
transformer block* which of its weight matrices are updated (the paper draws per category: half of the attention
projections, half of the feed-forward matrices), and draws a new half for each new round of training. Here, for
any PEFT workload:

* a **layer** is a module that owns parameters directly (a linear or convolution layer, a normalisation layer, an
  embedding table), outside the workload's head modules;
* layers are grouped by **block**: the deepest ancestor whose name ends in an index (``bert.encoder.layer.3`` for
  ``bert.encoder.layer.3.attention.self.query``), else the top-level module (``features`` for ``features.0``,
  ``bert`` for the embeddings and the pooler);
* every draw trains exactly half of each block's layers *of each kind* (the module's class: a block's linear
  layers, its normalisation layers... are halved separately, the nearest generic stand-in for the paper's
  categories; a group with an odd count gets its extra layer with probability 1/2), from the run's seeded random
  generators (``adapt``'s and ``on_step``'s ``rng``); the head always trains;
* a new half is drawn every ``redraw_every`` updates (hyperparameter; 0 keeps the first draw), in :func:`on_step`.

**The optimizer.** AdamW is built over *every* parameter (:func:`init_optimizer_state`), not only those trainable
when training starts, so a layer can join later. A frozen layer gets no gradient (``requires_grad`` is off and
gradients are cleared to ``None`` before each update), and ``torch.optim.AdamW`` skips a parameter without a
gradient entirely: no step, no weight decay, and its moment estimates and step count are kept as they were. When
the layer is drawn again, it resumes from its own, paused, moments (bias correction uses its own step count). This
is the choice the paper's description implies (the optimizer is not restarted between draws) and costs no extra
memory beyond full fine-tuning's optimizer state.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import torch

from harness.tracks import peft

_INDEXED = re.compile(r"^(.*\.\d+)\.")  # the deepest proper ancestor whose name ends in an index


def _block(name: str) -> str:
    match = _INDEXED.match(name)
    return match.group(1) if match else name.split(".")[0]


def _is_head(name: str, heads: tuple[str, ...]) -> bool:
    return any(name == h or name.startswith(f"{h}.") for h in heads)


def layer_groups(model: torch.nn.Module, heads: tuple[str, ...]) -> dict[tuple[str, str], list[torch.nn.Module]]:
    """(block, kind of layer) -> the layers (modules owning parameters directly) of that block of that kind (class
    name: ``Linear``, ``LayerNorm``...), outside the head, in the model's order."""
    groups: dict[tuple[str, str], list[torch.nn.Module]] = {}
    for name, module in model.named_modules():
        if not _is_head(name, heads) and next(module.parameters(recurse=False), None) is not None:
            groups.setdefault((_block(name), type(module).__name__), []).append(module)
    return groups


def draw_half(model: torch.nn.Module, heads: tuple[str, ...], rng: Any) -> None:
    """Freeze every layer, then make half of each block's layers (and the head) trainable."""
    generator = np.random.default_rng([int(v) for v in np.asarray(rng).ravel()])
    for _, layers in sorted(layer_groups(model, heads).items()):
        half = len(layers) // 2 + (int(generator.integers(2)) if len(layers) % 2 else 0)
        chosen = set(generator.permutation(len(layers))[:half].tolist())
        for i, layer in enumerate(layers):
            for parameter in layer.parameters(recurse=False):
                parameter.requires_grad_(i in chosen)
    modules = dict(model.named_modules())
    for name in heads:
        modules[name].requires_grad_(True)


def adapt(model: Any, workload: Any, hyperparameters: Any, rng: Any) -> Any:
    del hyperparameters
    draw_half(model, tuple(workload.head_modules), rng)
    return model


def init_optimizer_state(workload: Any, model_params: Any, model_state: Any, hyperparameters: Any,
                         rng: Any) -> Any:
    """The track's default AdamW, over every parameter (frozen ones included: they may be drawn later)."""
    trainable = {id(p) for p in model_params.parameters() if p.requires_grad}
    model_params.requires_grad_(True)
    try:
        return peft.init_optimizer_state(workload=workload, model_params=model_params, model_state=model_state,
                                         hyperparameters=hyperparameters, rng=rng)
    finally:
        for p in model_params.parameters():
            p.requires_grad_(id(p) in trainable)


def on_step(model: Any, optimizer_state: Any, workload: Any, hyperparameters: Any, global_step: int,
            rng: Any) -> None:
    """After update ``global_step`` (from 0): every ``redraw_every`` updates, a new half."""
    every = int(getattr(hyperparameters, "redraw_every", 0))
    if every > 0 and (global_step + 1) % every == 0:
        draw_half(model, tuple(workload.head_modules), rng)
