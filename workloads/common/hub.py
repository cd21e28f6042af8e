"""Data that comes through Hugging Face ``datasets``: from the hub, from the ``datasets`` cache, or from a local copy
of the hub's parquet files. Numpy only (``datasets`` and Pillow are imported when data is loaded, never by a spec).

**Where the data is looked for** (:func:`load_hub`), in order:

1. a family's environment variable (``PODIUM_CIFAR10_DIR``...), when set: a folder of the hub dataset's parquet files
   as the hub holds them. That is the folder ``hf download <name> --repo-type dataset --local-dir DIR`` fills (the
   config's files then lie in ``DIR/<config>/``, which is used when it exists) or the config's folder itself. Its
   splits are named by the files (``train-00000-of-00001.parquet``, ``validation/0000.parquet``...), as ``datasets``
   names a hub repository's, and its column types travel in the parquet files (``datasets`` writes them into the
   schema), so a local copy loads exactly as the hub's files do. Nothing else is tried: a variable that points at
   the wrong folder is an error, not a silent download.
2. the hub, through ``datasets.load_dataset(name, config)``. With ``HF_HUB_OFFLINE=1`` ``datasets`` answers from
   its own cache (a dataset loaded once while online) and fails at once when the cache lacks it.

Whatever fails ends as one :class:`~workloads.common.data.DatasetMissingError` whose message says how to get the
data, as the other families' loaders do.

**Checks.** The columns a family reads must have the hub dataset's types (:func:`check_features`: an image column,
class labels with the dataset's class names in order, a string column), so that a folder holding some other dataset
fails loudly rather than trains on something else. A family's decoded arrays are checked against a recorded content
hash (:func:`workloads.common.data.content_hash`) once one is recorded, that is when the hardware class's targets are
set: the hub's revision cannot be pinned from a machine without a network, the decoded data can.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from workloads.common.data import DatasetMissingError, Splits, carve_validation, content_hash

#: examples decoded at a time (:func:`decode_images`): a batch of decoded Pillow images is what memory holds at once
DECODE_BATCH = 1_000


def local_folder(env_var: str, config: str | None) -> Path | None:
    """The local copy ``env_var`` names (its ``<config>/`` subfolder when it has one), None when the variable is
    unset; :class:`DatasetMissingError` when it names no folder of parquet files."""
    value = os.environ.get(env_var)
    if not value:
        return None
    root = Path(value).expanduser()
    folder = root / config if config and (root / config).is_dir() else root
    if not folder.is_dir() or not any(folder.rglob("*.parquet")):
        raise DatasetMissingError(f"{env_var}={value} is not a folder of parquet files"
                                  + (f" (nor has a {config}/ folder of them)" if config else ""))
    return folder


def load_hub(name: str, config: str | None, env_var: str, missing_message: str, parquet_export: bool = False) -> Any:
    """The ``datasets.DatasetDict`` of hub dataset ``name`` (``config``), from the local copy ``env_var`` names or
    from the hub. Raises :class:`DatasetMissingError` with ``missing_message`` when neither has it.

    ``parquet_export``: the hub repository is a loading script, which ``datasets`` 4 and later no longer runs; its
    data is then read from the hub's own parquet conversion of it (the ``refs/convert/parquet`` branch, one folder a
    config: ``<config>/<split>/0000.parquet``), whose files hold what the script built, column types included.
    """
    try:
        folder = local_folder(env_var, config)
    except DatasetMissingError as exc:
        raise DatasetMissingError(f"{exc}\n{missing_message}") from None
    import datasets

    if folder is not None:
        return datasets.load_dataset(str(folder))
    try:
        if parquet_export:
            return datasets.load_dataset(name, revision="refs/convert/parquet", data_dir=config)
        return datasets.load_dataset(name, config)
    except Exception as exc:  # offline without a cached copy, no network, hub down: say how to get the data
        raise DatasetMissingError(f"{missing_message}\n(loading {name} through `datasets` failed: "
                                  f"{type(exc).__name__}: {exc})") from None


def check_features(splits: Mapping[str, Any], expected: Mapping[str, Any], what: str) -> None:
    """Every split of ``splits`` has the ``expected`` columns (name -> ``datasets`` feature) with those types
    (other columns are ignored); :class:`DatasetMissingError` naming the first difference otherwise."""
    for split, table in splits.items():
        for column, feature in expected.items():
            found = table.features.get(column)
            if found != feature:
                raise DatasetMissingError(f"the {split} split loaded as {what} has column {column!r} of type "
                                          f"{found!r}, not {feature!r}: it is not {what} as the hub holds it")


def require_splits(loaded: Mapping[str, Any], names: Sequence[str], what: str) -> None:
    missing = [n for n in names if n not in loaded]
    if missing:
        raise DatasetMissingError(f"{what} loaded without its {', '.join(missing)} split(s); it has "
                                  f"{', '.join(loaded) or 'none'}")


def decode_images(table: Any, column: str, size: int | None = None) -> np.ndarray:
    """The images of ``column`` as RGB uint8 ``(N, H, W, 3)``, decoded ``DECODE_BATCH`` at a time.

    ``size`` None: every image must already be ``H x W`` as the first one is (CIFAR-10's 32 x 32). Otherwise each
    image is scaled so that its shorter side is ``size`` and its centre ``size x size`` square kept (Pillow's
    ``ImageOps.fit``, bilinear): done once at load time, so batches are fixed-size arrays.
    """
    from PIL import Image, ImageOps

    out: np.ndarray | None = None
    for start in range(0, len(table), DECODE_BATCH):
        for k, image in enumerate(table[start:start + DECODE_BATCH][column]):
            image = image.convert("RGB")  # a few JPEGs are grey-scale or CMYK
            if size is not None:
                image = ImageOps.fit(image, (size, size), method=Image.Resampling.BILINEAR)
            array = np.asarray(image, dtype=np.uint8)
            if out is None:
                out = np.empty((len(table), *array.shape), dtype=np.uint8)
            elif array.shape != out.shape[1:]:
                raise DatasetMissingError(f"image {start + k} of column {column!r} is {array.shape[1]} x "
                                          f"{array.shape[0]}, the first was {out.shape[2]} x {out.shape[1]}")
            out[start + k] = array
    if out is None:
        raise DatasetMissingError(f"column {column!r} has no images")
    return out


def values(table: Any, column: str) -> list:
    """A column's values as a list, read through Arrow: iterating ``table[column]`` formats row by row (reading 1.8 M
    short strings, as many as WikiText-103's training rows, took 28 s that way and 0.6 s through Arrow, on a busy
    2-core machine)."""
    return table.with_format("arrow")[column].to_pylist()


def labels(table: Any, column: str = "label") -> np.ndarray:
    """A class-label column as int64 ``(N,)``."""
    return np.asarray(values(table, column), dtype=np.int64)


def image_splits(arrays: Sequence[np.ndarray], n_validation: int, seed: int) -> Splits:
    """Train / validation / test from ``(train images, train labels, test images, test labels)``: the validation
    split carved out of the training one (:func:`workloads.common.data.carve_validation`), never out of the test."""
    train_images, train_labels, test_images, test_labels = arrays
    train_x, train_y, val_x, val_y = carve_validation(train_images, train_labels, n_validation, seed)
    return Splits(train_x, train_y, val_x, val_y, test_images, test_labels)


def report(load_raw: Callable[[], Sequence[np.ndarray]], facts: Mapping[str, Any]) -> int:
    """A family's ``python -m workloads.<family>.data``: load (online, fetch) the data and print ``facts``, the
    split sizes and the content hash to record as JSON; exit status 1 with the message when the data is missing."""
    try:
        arrays = load_raw()
    except DatasetMissingError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(json.dumps({**facts, "train": len(arrays[1]), "test": len(arrays[3]),
                      "content_sha256": content_hash(*arrays)}))
    return 0
