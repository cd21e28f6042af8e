"""The Fashion-MNIST compression workloads' builder (trial process) and held-out data (measurement process).

The dense model is :class:`~workloads.fashion_transfer.pytorch.models.TransferCNN` with ten outputs, trained by
:func:`~workloads.fashion_transfer.pytorch.pretrained.pretrained_weights` from the recipe in
:data:`~workloads.fashion_transfer.recipe.DENSE_RECIPES` (cached, rejected and rebuilt on a hash mismatch). Splits are
Fashion-MNIST's as in :mod:`workloads.fashion_mnist.data` (55,000 / 5,000 / 10,000), inputs ``(N, 1, 28, 28)``.

:func:`build` keeps only the training split: the decoded validation and test arrays are dropped before it returns,
and :func:`warm` (a fork server's preload) keeps the training split alone, so a trial forked from it holds no held-out
example either.
"""

from __future__ import annotations

import numpy as np
import torch

from workloads.common.compression import CompressionWorkload, HeldOut
from workloads.common.data import preload, splits_from
from workloads.common.made import made_in_child
from workloads.fashion_mnist.data import load_splits
from workloads.fashion_transfer.pytorch.models import TransferCNN
from workloads.fashion_transfer.pytorch.pretrained import cached_weights
from workloads.fashion_transfer.recipe import DENSE_RECIPES
from workloads.spec import WorkloadSpec

RECIPE = DENSE_RECIPES[tuple(range(10))]
SHAPE = (1, 28, 28)

#: what :func:`warm` loaded ahead of the trials: the dense weights and the training split only
_preloaded: dict[str, object] = {}


def _images(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).reshape(-1, *SHAPE)


def _labels(y: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(y.astype(np.int64))


def _training_split() -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """The training images and labels (numpy), and the held-out splits' sizes (their examples are not kept)."""
    if "train" in _preloaded:
        return _preloaded["train"]  # type: ignore[return-value]
    # decoded and verified (or the training-only export a container mounts); the held-out arrays go out of scope
    splits = splits_from(load_splits)
    sizes = splits.sizes()
    return splits.train_x, splits.train_y, {"validation": sizes["validation"], "test": sizes["test"]}


def dense_weights() -> dict[str, np.ndarray]:
    """The verified dense weights; when the cache lacks them, made first by the pretraining command in a child
    process (about 45 s on one core), so that the held-out splits its report reads stay out of this process."""
    preloaded = _preloaded.get("weights")
    if preloaded is not None:
        return preloaded  # type: ignore[return-value]
    return made_in_child(lambda: cached_weights(RECIPE), "workloads.fashion_transfer.pytorch.pretrained",
                         (",".join(map(str, RECIPE.source_classes)),), f"dense CNN ({RECIPE.name})", 1800)


def ensure_made() -> None:
    """Make the dense CNN in this machine's cache when it lacks it (the Docker executor calls this on the host before
    a trial: a container mounts the cache read-only)."""
    dense_weights()


def _dense_factory() -> torch.nn.Module:
    weights = dense_weights()
    model = TransferCNN(n_classes=10)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})  # type: ignore[union-attr]
    return model


def warm() -> None:
    """For a fork server: the verified dense weights and the training split, decoded once as numpy arrays (no
    held-out data; no torch operation, which a server must not run before it forks)."""
    weights = cached_weights(RECIPE)
    if weights is not None:  # a missing cache is built by the first trial (pretraining runs torch: not in a server)
        _preloaded["weights"] = weights
    _preloaded["train"] = _training_split()


def warm_splits() -> None:
    """Preload the dataset's splits (:func:`workloads.common.data.preload`): what the Docker executor exports, as
    training-only splits, for a container that mounts no dataset folder
    (:func:`harness.executors.container.training_splits`)."""
    preload(load_splits)


def build(spec: WorkloadSpec, hardware_class: str, device: torch.device) -> tuple[CompressionWorkload, None]:
    """The trial process's workload: the dense CNN and the training split; no evaluator (see the module docstring)."""
    train_x, train_y, sizes = _training_split()
    return CompressionWorkload(spec, hardware_class, _images(train_x), _labels(train_y), _dense_factory, device,
                               sizes), None


def dense(spec: WorkloadSpec, device: torch.device) -> torch.nn.Module:
    """The dense CNN alone, in eval mode (a measuring process given the held-out inputs in a file loads no data)."""
    return _dense_factory().to(device).eval()


def held_out(spec: WorkloadSpec, device: torch.device) -> HeldOut:
    """The measurement process's data: the dense CNN and the validation and test splits."""
    splits = load_splits()
    return HeldOut(dense=_dense_factory().to(device).eval(),
                   splits={"validation": (_images(splits.validation_x).to(device), _labels(splits.validation_y)),
                           "test": (_images(splits.test_x).to(device), _labels(splits.test_y))})
