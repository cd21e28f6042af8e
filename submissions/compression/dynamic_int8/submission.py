"""Dynamic int8 quantization with PyTorch's own ``torch.ao.quantization.quantize_dynamic`` (Jacob et al., CVPR 2018,
for the integer arithmetic; the PyTorch dynamic quantization tutorial for the recipe).

Every ``nn.Linear`` becomes a dynamically quantized linear layer: its weight is stored as int8 (one scale per
tensor, symmetric, zero point 0), its bias stays float32, and at inference each batch's activations are quantized to
uint8 on the fly with a range read from the batch itself, so no calibration data is needed. Convolutions and every
other module stay float32 (dynamic quantization covers linear and recurrent layers only). No training: the call takes
well under a second.

``torch.ao.quantization`` announces its deprecation in favour of ``torchao`` (with a ``DeprecationWarning`` and a
``UserWarning`` about creating quantized tensors) each time it runs; those two messages are silenced around the one
call that raises them, and nothing else is.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

#: the two messages with which torch.ao.quantization announces its own deprecation (torch 2.13)
DEPRECATION_MESSAGES = (r"torch\.ao\.quantization is deprecated", r"torch\.quantize_per_tensor.* are deprecated")


def quantize_linear_layers(model: nn.Module) -> nn.Module:
    """``model`` with every ``nn.Linear`` replaced by its dynamically quantized int8 version."""
    with warnings.catch_warnings():
        for message in DEPRECATION_MESSAGES:
            warnings.filterwarnings("ignore", message=message)
        return torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)


def compress(model: nn.Module, workload: Any, calibration_batches: Sequence[Any], train_queue: Iterator[Any],
             hyperparameters: Any, rng: np.ndarray) -> nn.Module:
    del workload, calibration_batches, train_queue, hyperparameters, rng  # data-free and deterministic
    return quantize_linear_layers(model.eval())
