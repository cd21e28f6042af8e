"""ResNet-18 for CIFAR-10 and its builder.

**Model** (:class:`ResNet18`): He et al.'s ResNet-18 in the form used for 32x32 images: a 3x3 stride-1 stem
convolution and no max-pool (ImageNet's 7x7 stride-2 stem and pool would shrink a 32x32 image to 8x8 before the
first block), then four stages of two basic blocks (two 3x3 convolutions each, a 1x1 projection on the shortcut where
the shape changes) with ``width``, 2, 4 and 8 x ``width`` channels (64 to 512), stride 2 at the start of each stage
after the first, global average pooling and a linear head. 11.2 M parameters at width 64. Convolutions have no bias
(a normalisation follows each); weights are initialised as torchvision's ResNets are (Kaiming-normal, fan-out, for
the convolutions; normalisation scales 1 and shifts 0; PyTorch's default for the head).

``norm``: ``"batch"`` (batch normalisation, the base workload) or ``"group"`` (group normalisation, 32 groups, the
variant: no running statistics, each example normalised on its own). Group-norm scales and shifts are typed
``WEIGHT`` and ``BIAS`` (AlgoPerf's parameter types have no group-norm kind).

Dropout sites (off unless ``init_model_fn`` sets a rate): ``dropout_rate`` on the pooled features before the head,
``aux_dropout_rate`` on the input image, as in the Fashion-MNIST CNN.

**Data** (:mod:`workloads.cifar10.data`): uint8 images normalised a batch at a time; training batches are augmented
with a random shift of up to :data:`AUGMENT_PAD` pixels and a left-right flip (:mod:`workloads.common.images`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from workloads.cifar10.data import MEAN, STD, load_splits
from workloads.common.data import preload, splits_from
from workloads.common.images import ImageEvaluator, ImageWorkload, build_images
from workloads.common.pytorch import DropoutModel, dropout
from workloads.spec import WorkloadSpec

#: pixels of zero padding around a training image before the random 32x32 crop (AlgoPerf's CIFAR-10 pipeline: 4)
AUGMENT_PAD = 4
N_CLASSES = 10


def norm_layer(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(math.gcd(32, channels), channels)  # 32 groups (fewer for a narrow test model)
    raise ValueError(f"unknown norm {kind!r}: use 'batch' or 'group'")


class BasicBlock(nn.Module):
    """``relu(norm(conv(relu(norm(conv(x))))) + shortcut(x))``; the shortcut projects (1x1 conv + norm) where the
    stride or the width changes."""

    def __init__(self, c_in: int, c_out: int, stride: int, norm: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.norm1 = norm_layer(norm, c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.norm2 = norm_layer(norm, c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), norm_layer(norm, c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C_in, H, W) -> (B, C_out, H / stride, W / stride)
        h = torch.relu(self.norm1(self.conv1(x)))
        return torch.relu(self.norm2(self.conv2(h)) + self.shortcut(x))


class ResNet18(DropoutModel):
    """ResNet-18 with a CIFAR stem (see the module docstring); ``forward`` maps ``(B, 3, 32, 32)`` to ``(B, 10)``."""

    def __init__(self, width: int = 64, norm: str = "batch", n_classes: int = N_CLASSES) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, padding=1, bias=False), norm_layer(norm, width), nn.ReLU())
        blocks, c_in = [], width
        for stage, c_out in enumerate((width, 2 * width, 4 * width, 8 * width)):
            blocks += [BasicBlock(c_in, c_out, 1 if stage == 0 else 2, norm), BasicBlock(c_out, c_out, 1, norm)]
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(8 * width, n_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor, dropout_rate: float | None = None) -> torch.Tensor:  # (B,3,32,32) -> (B,10)
        h = self.blocks(self.stem(dropout(x, self.aux_dropout_rate, self.training)))  # (B, 8w, 4, 4)
        h = torch.flatten(nn.functional.adaptive_avg_pool2d(h, 1), 1)  # (B, 8w)
        return self.head(dropout(h, self.rate(dropout_rate), self.training))


def build(spec: WorkloadSpec, hardware_class: str, device: torch.device, width: int = 64,
          norm: str = "batch") -> tuple[ImageWorkload, ImageEvaluator]:
    return build_images(spec, hardware_class, splits_from(load_splits), lambda: ResNet18(width, norm), device, MEAN,
                        STD, pad=AUGMENT_PAD)


def warm() -> None:
    """Load and decode CIFAR-10 once in a fork server; the trials it forks reuse the arrays."""
    preload(load_splits)
