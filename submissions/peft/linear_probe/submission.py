"""Linear probing: the pretrained model is frozen and only the new task head (``workload.head_modules``) trains.

The PEFT track's lower reference: the fewest trainable parameters and an unchanged backbone (no forgetting), at the
cost of whatever the frozen features cannot express. The update rule is the track's default (AdamW over the
parameters that require gradients, :mod:`harness.tracks.peft`).
"""

from __future__ import annotations

from typing import Any


def adapt(model: Any, workload: Any, hyperparameters: Any, rng: Any) -> Any:
    del hyperparameters, rng
    heads = tuple(workload.head_modules)
    if not heads:
        raise ValueError(f"{workload.name} names no head module: a linear probe has nothing to train")
    model.requires_grad_(False)
    modules = dict(model.named_modules())
    for name in heads:
        modules[name].requires_grad_(True)
    return model
