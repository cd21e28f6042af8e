"""Fashion-MNIST models and their builders."""

from __future__ import annotations

import torch
from torch import nn

from workloads.common.data import preload, splits_from
from workloads.common.pytorch import DropoutModel, Evaluator, TorchWorkload, build as build_workload, dropout
from workloads.digits.pytorch.models import MLP
from workloads.fashion_mnist.data import load_splits
from workloads.spec import WorkloadSpec


def xavier_normal_(model: nn.Module) -> nn.Module:
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.xavier_normal_(module.weight)
            nn.init.zeros_(module.bias)
    return model


class CNN(DropoutModel):
    """Two conv blocks and a fully connected layer. Dropout (off unless a rate is set): ``dropout_rate`` after the
    fully connected hidden layer, ``aux_dropout_rate`` on the input image."""

    def __init__(self, norm: str | None = None) -> None:
        super().__init__()

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            norm_layer = [nn.BatchNorm2d(c_out)] if norm == "batch" else []
            return [nn.Conv2d(c_in, c_out, 3, padding=1), *norm_layer, nn.ReLU(), nn.MaxPool2d(2)]

        # 8/16 channels and a 64-unit layer: ~0.33 M multiply-adds per image, a quarter of a 16/32/128 net, so that
        # the lite suite's 10-seed target setting and its 3-seed demo fit a 2-core machine.
        self.features = nn.Sequential(*block(1, 8), *block(8, 16))  # (B,1,28,28) -> (B,16,7,7)
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(16 * 7 * 7, 64), nn.ReLU())  # (B, 64)
        self.head = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor, dropout_rate: float | None = None) -> torch.Tensor:  # (B,1,28,28) -> (B,10)
        h = self.body(self.features(dropout(x, self.aux_dropout_rate, self.training)))  # (B, 64)
        return self.head(dropout(h, self.rate(dropout_rate), self.training))


def build_mlp(spec: WorkloadSpec, hardware_class: str, device: torch.device,
              init: str = "default") -> tuple[TorchWorkload, Evaluator]:
    def factory() -> nn.Module:
        model = MLP((784, 256, 128, 10), "relu")
        return xavier_normal_(model) if init == "xavier_normal" else model

    return build_workload(spec, hardware_class, splits_from(load_splits), factory, device, input_shape=(784,))


def build_cnn(spec: WorkloadSpec, hardware_class: str, device: torch.device,
              norm: str | None = None) -> tuple[TorchWorkload, Evaluator]:
    return build_workload(spec, hardware_class, splits_from(load_splits), lambda: CNN(norm), device, input_shape=(1, 28, 28))


def warm() -> None:
    """Decode and verify Fashion-MNIST once in a fork server (~1 s); the trials it forks reuse the arrays."""
    preload(load_splits)
