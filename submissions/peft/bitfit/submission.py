"""BitFit (Ben Zaken, Goldberg, Ravfogel, ACL 2022): train only the bias terms of the pretrained model, and the new
task head.

Every parameter named ``bias`` (in any module: linear and convolution layers, normalisation layers, ...) and every
parameter of the workload's head modules requires gradients; everything else is frozen. Found by name, not by
model, so it applies to any PEFT workload. The update rule is the track's default (AdamW over the parameters that
require gradients, :mod:`harness.tracks.peft`).
"""

from __future__ import annotations

from typing import Any


def adapt(model: Any, workload: Any, hyperparameters: Any, rng: Any) -> Any:
    del hyperparameters, rng
    model.requires_grad_(False)
    for name, parameter in model.named_parameters():
        if name == "bias" or name.endswith(".bias"):
            parameter.requires_grad_(True)
    modules = dict(model.named_modules())
    for name in workload.head_modules:
        modules[name].requires_grad_(True)
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError(f"{workload.name}'s model has no bias and no head module: BitFit has nothing to train")
    return model
