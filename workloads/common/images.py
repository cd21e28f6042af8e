"""PyTorch glue for image classification workloads whose images are held as uint8 and normalised a batch at a time.

Splits keep images as RGB uint8 ``(N, H, W, 3)``, a quarter of float32's bytes: CIFAR-10's 45,000 training images
are 138 MB so, Imagenette's 8,469 at 128 px 416 MB. The workload (:class:`ImageWorkload`) and the evaluator
(:class:`ImageEvaluator`) move them to the device as they are and hand the model float32 ``(B, 3, H, W)`` batches,
normalised per channel (``(x / 255 - mean) / std``): the model and a submission see what a float32 dataset would
give them, and the device holds a quarter of the bytes.

**Augmentation** (training batches only, ``pad > 0``): each image is shifted by a random offset of up to ``pad``
pixels in each direction, zeros (black) filling what comes in from outside the image, and flipped left to right with
probability 1/2: the random crop of a zero-padded image and the horizontal flip that AlgoPerf's CIFAR-10 pipeline and
the usual ResNet recipes use. It runs on the device, a few gathers a batch, and draws its random numbers from a
generator seeded by the queue's seed, so a queue's batches are reproducible. Evaluation batches are not augmented.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from workloads.common.data import Splits
from workloads.common.pytorch import Evaluator, TorchWorkload
from workloads.spec import WorkloadSpec


class ImageWorkload(TorchWorkload):
    """A :class:`TorchWorkload` over uint8 ``(N, H, W, 3)`` images whose batches are normalised float32
    ``(B, 3, H, W)``, training batches augmented (see the module docstring)."""

    def __init__(self, spec: WorkloadSpec, hardware_class: str, train_x: torch.Tensor, train_y: torch.Tensor,
                 model_factory: Callable[[], nn.Module], device: torch.device, mean: Sequence[float],
                 std: Sequence[float], pad: int = 0, held_out_sizes: dict[str, int] | None = None,
                 eval_batch_size: int = 512) -> None:
        if train_x.dtype != torch.uint8 or train_x.dim() != 4 or train_x.shape[-1] != 3:
            raise ValueError(f"expected uint8 images (N, H, W, 3), got {train_x.dtype} {tuple(train_x.shape)}")
        super().__init__(spec, hardware_class, train_x, train_y, model_factory, device, held_out_sizes,
                         eval_batch_size)
        self.pad = pad
        self._scale = (255.0 * torch.tensor(std, dtype=torch.float32, device=device)).view(1, 3, 1, 1)
        self._shift = (255.0 * torch.tensor(mean, dtype=torch.float32, device=device)).view(1, 3, 1, 1)
        self._moments: tuple[float, float] | None = None

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 ``(B, H, W, 3)`` -> float32 ``(B, 3, H, W)``, ``(x / 255 - mean) / std`` per channel."""
        return ((images.permute(0, 3, 1, 2).float() - self._shift) / self._scale).contiguous()

    def augment(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """A random shift of up to ``pad`` pixels (zeros filling in) and a left-right flip with probability 1/2 per
        image, uint8 ``(B, H, W, 3)`` in and out."""
        b, h, w, _ = images.shape
        offsets = torch.randint(0, 2 * self.pad + 1, (b, 2), generator=generator).to(images.device)
        flips = (torch.rand(b, generator=generator) < 0.5).to(images.device)
        padded = nn.functional.pad(images, (0, 0, self.pad, self.pad, self.pad, self.pad))  # (B, H+2p, W+2p, 3)
        rows = offsets[:, :1] + torch.arange(h, device=images.device)  # (B, H)
        cols = offsets[:, 1:] + torch.arange(w, device=images.device)  # (B, W)
        cols = torch.where(flips[:, None], cols.flip(1), cols)
        batch = torch.arange(b, device=images.device)[:, None, None]
        return padded[batch, rows[:, :, None], cols[:, None, :]]  # (B, H, W, 3)

    def input_queue(self, batch_size: int, seed: int) -> Iterator[dict[str, torch.Tensor]]:
        """:meth:`TorchWorkload.input_queue`'s batches (the same order for the same seed), augmented and
        normalised."""
        generator = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, 1]).generate_state(1)[0]))
        for batch in super().input_queue(batch_size, seed):
            images = self.augment(batch["inputs"], generator) if self.pad else batch["inputs"]
            yield {"inputs": self.normalise(images), "targets": batch["targets"]}

    def _input_moments(self) -> tuple[float, float]:
        """Mean and standard deviation of the normalised, unaugmented training inputs (float64 sums, in chunks)."""
        if self._moments is None:
            total, squares, count = 0.0, 0.0, 0
            for start in range(0, len(self._train_x), 1024):
                x = self.normalise(self._train_x[start:start + 1024]).double()
                total, squares, count = total + float(x.sum()), squares + float((x * x).sum()), count + x.numel()
            mean = total / count
            self._moments = (mean, max(squares / count - mean * mean, 0.0) ** 0.5 * (count / (count - 1)) ** 0.5)
        return self._moments

    @property
    def train_mean(self) -> float:
        """Mean of the training inputs as the submission receives them (normalised, before augmentation)."""
        return self._input_moments()[0]

    @property
    def train_stddev(self) -> float:
        """Standard deviation of the training inputs as the submission receives them (normalised, before
        augmentation)."""
        return self._input_moments()[1]


class _Normalising(nn.Module):
    """The evaluator's model behind the workload's normalisation: uint8 batches in, logits out."""

    def __init__(self, model: nn.Module, normalise: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.model = model
        self._normalise = normalise

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(self._normalise(images))


class ImageEvaluator(Evaluator):
    """:class:`Evaluator` over uint8 held-out images: the same loss and accuracy, each batch normalised as the
    training batches are (never augmented)."""

    def __init__(self, workload: ImageWorkload, splits: dict[str, tuple[torch.Tensor, torch.Tensor]],
                 batch_size: int = 512) -> None:
        super().__init__(workload, splits, batch_size)
        self._normalising = _Normalising(self._model, workload.normalise)

    def _load(self, params: Any) -> nn.Module:
        super()._load(params)
        return self._normalising


def build_images(spec: WorkloadSpec, hardware_class: str, splits: Splits, model_factory: Callable[[], nn.Module],
                 device: torch.device, mean: Sequence[float], std: Sequence[float], pad: int = 0,
                 workload_class: type[ImageWorkload] = ImageWorkload,
                 eval_batch_size: int = 512) -> tuple[ImageWorkload, ImageEvaluator]:
    """Turn uint8 image splits ``(N, H, W, 3)`` into a (workload, evaluator) pair."""

    def tensors(x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.uint8)), torch.from_numpy(y.astype(np.int64))

    workload = workload_class(spec, hardware_class, *tensors(splits.train_x, splits.train_y), model_factory, device,
                              mean, std, pad, held_out_sizes={k: v for k, v in splits.sizes().items() if k != "train"},
                              eval_batch_size=eval_batch_size)
    evaluator = ImageEvaluator(workload, {"validation": tensors(splits.validation_x, splits.validation_y),
                                          "test": tensors(splits.test_x, splits.test_y)}, eval_batch_size)
    return workload, evaluator
