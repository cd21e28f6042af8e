"""Load Fashion-MNIST from local IDX files (Debian's ``dataset-fashion-mnist``) or, when online, from the hub.

Where the data is looked for, in order:

1. ``$PODIUM_FASHION_MNIST_DIR``: a folder with the four ``*-ubyte.gz`` files;
2. ``/usr/share/datasets/fashion-mnist`` (``apt-get install dataset-fashion-mnist``);
3. the Hugging Face hub (``zalando-datasets/fashion_mnist``) through ``datasets``, unless ``HF_HUB_OFFLINE=1``.

Local files are verified by their sha256; whatever the source, the decoded arrays are verified against one
content hash (:func:`workloads.common.data.content_hash`), so a hub copy must hold exactly the same pixels.
Validation: 5,000 examples carved out of the 60,000 training images with a fixed seed; the official 10,000-image test
set is the test split. Pixels are scaled to [0, 1] and standardised with the training-set mean and std.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from workloads.common.data import (
    DatasetMissingError, Splits, carve_validation, content_hash, verify_content, verify_file,
)

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
HUB_DATASET = "zalando-datasets/fashion_mnist"
FILES = {  # name -> sha256 of the gzip file as published by Zalando Research (and shipped by Debian)
    "train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
}
#: content_hash(train_images, train_labels, test_images, test_labels) of the decoded uint8 arrays.
CONTENT_SHA256 = "51bad0352284eacba9865b8317af0b9281dae4f52f7f667217f2ee65f7069790"
N_VALIDATION, VALIDATION_SEED = 5_000, 20_251_125
MEAN, STD = 0.2860, 0.3530  # of the 60,000 training images scaled to [0, 1]

MISSING_MESSAGE = (
    "Fashion-MNIST was not found. Get it one of these ways:\n"
    "  * Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist   (files land in /usr/share/datasets/fashion-mnist)\n"
    "  * any machine: put the four *-ubyte.gz files from github.com/zalandoresearch/fashion-mnist in a folder and\n"
    "    set PODIUM_FASHION_MNIST_DIR to it\n"
    "  * online: unset HF_HUB_OFFLINE so Podium can load zalando-datasets/fashion_mnist through `datasets`"
)


def read_idx(path: Path) -> np.ndarray:
    """Decode a gzipped IDX file (big-endian header: magic, then one uint32 per dimension)."""
    with gzip.open(path, "rb") as fh:
        data = fh.read()
    n_dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(n_dims))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * n_dims).reshape(shape)


def local_dir() -> Path | None:
    env = os.environ.get("PODIUM_FASHION_MNIST_DIR")
    if env:
        return Path(env)
    return DEBIAN_DIR if DEBIAN_DIR.exists() else None


def load_raw_local(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    missing = [name for name in FILES if not (folder / name).exists()]
    if missing:
        raise DatasetMissingError(f"{folder} lacks {', '.join(missing)}.\n{MISSING_MESSAGE}")
    for name, sha in FILES.items():
        verify_file(folder / name, sha)
    return tuple(read_idx(folder / name) for name in FILES)  # type: ignore[return-value]


def load_raw_hub(source: str = HUB_DATASET) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load through ``datasets`` from the hub or from a local copy (``source`` may be a folder of parquet files)."""
    import datasets

    loaded = datasets.load_dataset(source)
    out = []
    for split in ("train", "test"):
        table = loaded[split].with_format("numpy")
        images = np.stack([np.asarray(img, dtype=np.uint8) for img in loaded[split]["image"]])
        out += [images.reshape(-1, 28, 28), np.asarray(table["label"], dtype=np.uint8)]
    return tuple(out)  # type: ignore[return-value]


def load_raw() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    folder = local_dir()
    if folder is not None:
        arrays = load_raw_local(folder)
    elif os.environ.get("HF_HUB_OFFLINE") == "1":
        raise DatasetMissingError(MISSING_MESSAGE)
    else:
        try:
            arrays = load_raw_hub()
        except Exception as exc:  # no network, hub down, package missing: one message saying how to get the data
            raise DatasetMissingError(f"{MISSING_MESSAGE}\n(loading from the hub failed: {exc})") from None
    verify_content("Fashion-MNIST", CONTENT_SHA256, *arrays)
    return arrays


def to_splits(train_images: np.ndarray, train_labels: np.ndarray, test_images: np.ndarray,
              test_labels: np.ndarray) -> Splits:
    def scale(images: np.ndarray) -> np.ndarray:
        return ((images.astype(np.float32) / 255.0 - MEAN) / STD).reshape(len(images), -1)  # (N, 784)

    train_x, train_y, val_x, val_y = carve_validation(scale(train_images), train_labels.astype(np.int64),
                                                      N_VALIDATION, VALIDATION_SEED)
    return Splits(train_x, train_y, val_x, val_y, scale(test_images), test_labels.astype(np.int64))


def load_splits() -> Splits:
    return to_splits(*load_raw())


__all__ = ["load_splits", "load_raw", "content_hash", "MISSING_MESSAGE"]
