"""Load CIFAR-10 through Hugging Face ``datasets``: the hub's ``uoft-cs/cifar10`` or a local copy of its parquet files.

Where the data is looked for (:func:`workloads.common.hub.load_hub`): ``$PODIUM_CIFAR10_DIR``, a folder of the hub
dataset's parquet files (``plain_text/train-00000-of-00001.parquet`` and ``plain_text/test-...``, as ``hf download``
writes them); else the hub (config ``plain_text``), or with ``HF_HUB_OFFLINE=1`` the ``datasets`` cache.

The hub dataset has two columns, ``img`` (a 32x32 RGB PNG, ``datasets.Image``) and ``label`` (``ClassLabel``, the
ten classes of :data:`CLASSES` in that order), and two splits, train (50,000) and test (10,000); both columns' types
are checked. Validation: 5,000 examples carved out of the training split with a fixed seed
(:func:`workloads.common.data.carve_validation`); the official test split is the test split.

Images stay uint8 ``(N, 32, 32, 3)`` in the splits (138 MB for the 45,000 training images, against 553 MB as
float32); the workload normalises a batch at a time with the per-channel mean and standard deviation of the training
images (:data:`MEAN`, :data:`STD`, the usual CIFAR-10 values) and augments training batches
(:mod:`workloads.common.images`).

The decoded arrays are checked against :data:`CONTENT_SHA256` once it is recorded, when the ``gpu-h100`` targets
are set: ``python -m workloads.cifar10.data`` loads the data (fetching it when online) and prints the hash.
"""

from __future__ import annotations

import sys

import numpy as np

from workloads.common.data import Splits, verify_content
from workloads.common.hub import (
    check_features, decode_images, image_splits, labels, load_hub, report, require_splits,
)

HUB_DATASET, HUB_CONFIG = "uoft-cs/cifar10", "plain_text"
ENV_DIR = "PODIUM_CIFAR10_DIR"
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
IMAGE_SHAPE = (32, 32, 3)
#: content_hash(train_images, train_labels, test_images, test_labels) of the decoded arrays (uint8 images, int64
#: labels, the hub's order); None until recorded with the gpu-h100 targets
CONTENT_SHA256: str | None = None
N_VALIDATION, VALIDATION_SEED = 5_000, 20_261_203
MEAN = (0.4914, 0.4822, 0.4465)  # per channel, of the 50,000 training images scaled to [0, 1]
STD = (0.2470, 0.2435, 0.2616)

MISSING_MESSAGE = (
    f"CIFAR-10 (hub dataset {HUB_DATASET}, config {HUB_CONFIG}) was not found. Get it one of these ways:\n"
    "  * online: unset HF_HUB_OFFLINE and run `python -m workloads.cifar10.data`: it loads the dataset through\n"
    "    `datasets`, whose cache later runs read, offline too\n"
    f"  * any machine: hf download {HUB_DATASET} --repo-type dataset --include '{HUB_CONFIG}/*' --local-dir DIR\n"
    f"    (wherever the hub is reachable; then copy DIR here) and set {ENV_DIR}=DIR"
)


def load_raw() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(train_images, train_labels, test_images, test_labels)``: uint8 ``(N, 32, 32, 3)`` and int64 ``(N,)``,
    verified against :data:`CONTENT_SHA256` when it is recorded."""
    import datasets

    loaded = load_hub(HUB_DATASET, HUB_CONFIG, ENV_DIR, MISSING_MESSAGE)
    require_splits(loaded, ("train", "test"), "CIFAR-10")
    check_features({s: loaded[s] for s in ("train", "test")},
                   {"img": datasets.Image(), "label": datasets.ClassLabel(names=list(CLASSES))}, "CIFAR-10")
    arrays: list[np.ndarray] = []
    for split in ("train", "test"):
        images = decode_images(loaded[split], "img")
        if images.shape[1:] != IMAGE_SHAPE:
            raise ValueError(f"CIFAR-10's {split} images are {images.shape[1:]}, not {IMAGE_SHAPE}")
        arrays += [images, labels(loaded[split])]
    if CONTENT_SHA256 is not None:
        verify_content("CIFAR-10", CONTENT_SHA256, *arrays)
    return tuple(arrays)  # type: ignore[return-value]


def load_splits() -> Splits:
    return image_splits(load_raw(), N_VALIDATION, VALIDATION_SEED)


if __name__ == "__main__":
    sys.exit(report(load_raw, {"dataset": f"{HUB_DATASET}/{HUB_CONFIG}"}))
