"""The digits MLP and its builder."""

from __future__ import annotations

import torch
from torch import nn

from workloads.common.data import preload, splits_from
from workloads.common.pytorch import DropoutModel, Evaluator, TorchWorkload, build as build_workload, dropout
from workloads.digits.data import load_splits
from workloads.spec import WorkloadSpec

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}


class MLP(DropoutModel):
    """Fully connected layers of ``sizes``. Dropout (off unless a rate is set): ``dropout_rate`` after every hidden
    activation, ``aux_dropout_rate`` on the input."""

    def __init__(self, sizes: tuple[int, ...], activation: str) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1]):
            layers += [nn.Linear(fan_in, fan_out), ACTIVATIONS[activation]()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(sizes[-2], sizes[-1])

    def forward(self, x: torch.Tensor, dropout_rate: float | None = None) -> torch.Tensor:  # (B, D) -> (B, C)
        p = self.rate(dropout_rate)
        h = dropout(x.flatten(1), self.aux_dropout_rate, self.training)
        for layer in self.body:
            h = layer(h)
            if not isinstance(layer, nn.Linear):  # after each activation
                h = dropout(h, p, self.training)
        return self.head(h)


def build(spec: WorkloadSpec, hardware_class: str, device: torch.device,
          activation: str = "relu") -> tuple[TorchWorkload, Evaluator]:
    return build_workload(spec, hardware_class, splits_from(load_splits), lambda: MLP((64, 128, 128, 10), activation),
                          device, input_shape=(64,))


def warm() -> None:
    """Read and verify the digits once in a fork server; the trials it forks reuse them."""
    preload(load_splits)
