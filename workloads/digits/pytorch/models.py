"""The digits MLP and its builder."""

from __future__ import annotations

import torch
from torch import nn

from workloads.common.pytorch import Evaluator, TorchWorkload, build as build_workload
from workloads.digits.data import load_splits
from workloads.spec import WorkloadSpec

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}


class MLP(nn.Module):
    def __init__(self, sizes: tuple[int, ...], activation: str) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1]):
            layers += [nn.Linear(fan_in, fan_out), ACTIVATIONS[activation]()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(sizes[-2], sizes[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, D) -> (B, n_classes)
        return self.head(self.body(x.flatten(1)))


def build(spec: WorkloadSpec, hardware_class: str, device: torch.device,
          activation: str = "relu") -> tuple[TorchWorkload, Evaluator]:
    return build_workload(spec, hardware_class, load_splits(), lambda: MLP((64, 128, 128, 10), activation),
                          device, input_shape=(64,))
