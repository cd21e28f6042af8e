"""Load Imagenette through Hugging Face ``datasets``: the hub's ``frgfm/imagenette`` (config ``160px``) or a local copy
of its parquet files.

**The hub dataset.** ``frgfm/imagenette`` is a loading script (``imagenette.py``), which ``datasets`` 4 and later no
longer run; the hub keeps a parquet conversion of what it builds (branch ``refs/convert/parquet``, files
``160px/train/0000.parquet`` and ``160px/validation/0000.parquet``), which is what is loaded
(:func:`workloads.common.hub.load_hub` with ``parquet_export``). Columns ``image`` (JPEG, the shorter side resized to
160 px by fast.ai; ImageNet's images, and so these, include a few grey-scale ones, converted to RGB here) and
``label`` (``ClassLabel``, the ten classes of :data:`CLASSES` in that order), both checked; splits train (9,469
images) and validation (3,925).

Where the data is looked for: ``$PODIUM_IMAGENETTE_DIR``, a folder of those parquet files (``160px/train/*.parquet``
and ``160px/validation/*.parquet``, as ``hf download`` writes them; see :data:`MISSING_MESSAGE`); else the hub, or with
``HF_HUB_OFFLINE=1`` the ``datasets`` cache.

**Splits.** Validation: :data:`N_VALIDATION` images carved out of the hub's training split with a fixed seed
(:func:`workloads.common.data.carve_validation`); the hub's validation split, which no tuning may see, is the test
split (train 8,469 / validation 1,000 / test 3,925). 1,000 validation images put one image at 0.1% of accuracy.

**Images** are decoded once at load time, converted to RGB and cut to :data:`IMAGE_SIZE` x :data:`IMAGE_SIZE`: the
shorter side scaled to 128 px (bilinear) and the centre square kept (:func:`workloads.common.hub.decode_images`),
so that batches are fixed-size uint8 arrays (658 MB for all 13,394 images; 160 px would be 1.03 GB, and 128 px a
ViT-S/16 input of 64 patches). The workload normalises a batch at a time with ImageNet's per-channel mean and
standard deviation (:data:`MEAN`, :data:`STD`: Imagenette's images are ImageNet's) and augments training batches
(:mod:`workloads.common.images`).

The decoded arrays are checked against :data:`CONTENT_SHA256` once it is recorded, when the ``gpu-h100`` targets
are set: ``python -m workloads.imagenette.data`` loads the data (fetching it when online) and prints the hash. The
hash covers the resized images, so it also pins the resizing (Pillow's bilinear filter).
"""

from __future__ import annotations

import sys

import numpy as np

from workloads.common.data import Splits, verify_content
from workloads.common.hub import (
    check_features, decode_images, image_splits, labels, load_hub, report, require_splits,
)

HUB_DATASET, HUB_CONFIG = "frgfm/imagenette", "160px"
ENV_DIR = "PODIUM_IMAGENETTE_DIR"
CLASSES = ("tench", "English springer", "cassette player", "chain saw", "church", "French horn", "garbage truck",
           "gas pump", "golf ball", "parachute")
HUB_SPLITS = ("train", "validation")
IMAGE_SIZE = 128
#: content_hash(train_images, train_labels, test_images, test_labels) of the decoded, resized arrays (uint8 images,
#: int64 labels, the hub's order; test = the hub's validation split); None until recorded with the gpu-h100 targets
CONTENT_SHA256: str | None = None
N_VALIDATION, VALIDATION_SEED = 1_000, 20_261_203
MEAN = (0.485, 0.456, 0.406)  # ImageNet's, per channel, of images scaled to [0, 1]
STD = (0.229, 0.224, 0.225)

MISSING_MESSAGE = (
    f"Imagenette (hub dataset {HUB_DATASET}, config {HUB_CONFIG}) was not found. Get it one of these ways:\n"
    "  * online: unset HF_HUB_OFFLINE and run `python -m workloads.imagenette.data`: it loads the dataset's parquet\n"
    "    conversion through `datasets`, whose cache later runs read, offline too\n"
    f"  * any machine: hf download {HUB_DATASET} --repo-type dataset --revision refs/convert/parquet \\\n"
    f"    --include '{HUB_CONFIG}/*/*.parquet' --local-dir DIR   (wherever the hub is reachable; then copy DIR here)\n"
    f"    and set {ENV_DIR}=DIR"
)


def load_raw() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(train_images, train_labels, test_images, test_labels)`` (test: the hub's validation split): uint8
    ``(N, 128, 128, 3)`` and int64 ``(N,)``, verified against :data:`CONTENT_SHA256` when it is recorded."""
    import datasets

    loaded = load_hub(HUB_DATASET, HUB_CONFIG, ENV_DIR, MISSING_MESSAGE, parquet_export=True)
    require_splits(loaded, HUB_SPLITS, "Imagenette")
    check_features({s: loaded[s] for s in HUB_SPLITS},
                   {"image": datasets.Image(), "label": datasets.ClassLabel(names=list(CLASSES))}, "Imagenette")
    arrays: list[np.ndarray] = []
    for split in HUB_SPLITS:
        arrays += [decode_images(loaded[split], "image", IMAGE_SIZE), labels(loaded[split])]
    if CONTENT_SHA256 is not None:
        verify_content("Imagenette", CONTENT_SHA256, *arrays)
    return tuple(arrays)  # type: ignore[return-value]


def load_splits() -> Splits:
    return image_splits(load_raw(), N_VALIDATION, VALIDATION_SEED)


if __name__ == "__main__":
    sys.exit(report(load_raw, {"dataset": f"{HUB_DATASET}/{HUB_CONFIG} (refs/convert/parquet)",
                               "image_size": IMAGE_SIZE}))
