"""Full fine-tuning: every parameter of the pretrained model (and its new head) is trained.

The PEFT track's upper reference: it trains everything, so it costs the most parameters and adapter bytes (the
whole model differs from the base) and is what parameter-efficient methods try to match. The update rule is the
track's default (AdamW over the parameters that require gradients, :mod:`harness.tracks.peft`).
"""

from __future__ import annotations

from typing import Any


def adapt(model: Any, workload: Any, hyperparameters: Any, rng: Any) -> Any:
    del workload, hyperparameters, rng
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    return model
