"""Dataset plumbing shared by families: checksums, deterministic carve-outs, and the :class:`Splits` container.

Everything here is numpy; framework folders turn arrays into tensors.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class DatasetMissingError(RuntimeError):
    """The dataset files are not on this machine; the message says how to get them."""


class ChecksumMismatchError(RuntimeError):
    """Bytes on disk (or decoded arrays) differ from the recorded checksum: wrong or corrupted data."""


@dataclass(frozen=True)
class Splits:
    """Train / validation / test arrays. Validation is carved out of the official training set, never the test set."""

    train_x: np.ndarray
    train_y: np.ndarray
    validation_x: np.ndarray
    validation_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train_y), "validation": len(self.validation_y), "test": len(self.test_y)}


CACHE_ENV = "PODIUM_CACHE_DIR"
DEFAULT_CACHE_ROOT = "~/.cache/podium"


def cache_root() -> Path:
    """``$PODIUM_CACHE_DIR`` (default ``~/.cache/podium``), absolute: what Podium builds once and keeps (pretrained
    weights, target-setting curves). Refused when relative: trials run in their own working folder."""
    root = Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE_ROOT).expanduser()
    if not root.is_absolute():
        raise ValueError(f"{CACHE_ENV}={os.environ.get(CACHE_ENV)!r} is not an absolute path; trials run in their "
                         "own working folder, so the cache folder must be given absolutely")
    return root


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: Path, expected_sha256: str) -> None:
    """Raise :class:`ChecksumMismatchError` naming the file and both hashes when they differ."""
    actual = sha256_file(path)
    if actual != expected_sha256:
        raise ChecksumMismatchError(
            f"checksum mismatch for {path}: expected sha256 {expected_sha256}, got {actual}. "
            "The file is corrupted or is not the dataset revision this benchmark release was built on."
        )


def content_hash(*arrays: np.ndarray) -> str:
    """sha256 over the dtype, shape and bytes of decoded arrays.

    File checksums depend on the container (gzip, parquet); this hash depends only on the data, so the same
    dataset loaded from a Debian package or from a hub mirror can be checked against one recorded value.
    """
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def verify_content(name: str, expected_sha256: str, *arrays: np.ndarray) -> None:
    actual = content_hash(*arrays)
    if actual != expected_sha256:
        raise ChecksumMismatchError(
            f"checksum mismatch for the decoded {name} arrays: expected {expected_sha256}, got {actual}"
        )


def carve_validation(
    x: np.ndarray, y: np.ndarray, n_validation: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split ``n_validation`` examples off a training set, deterministically.

    The permutation comes from ``numpy.random.default_rng(seed)`` (PCG64: stable across numpy versions and
    platforms), so every machine carves out the same examples.

    Returns:
        ``(train_x, train_y, validation_x, validation_y)``.
    """
    order = np.random.default_rng(seed).permutation(len(y))
    val, train = order[:n_validation], order[n_validation:]
    return x[train], y[train], x[val], y[val]


#: Splits loaded ahead of the trials by a fork server (``harness.runner.forkserver``): every trial it forks reuses
#: them (copy-on-write), so the data is read and verified once per server, not once per trial.
_preloaded: dict[Callable[[], Splits], Splits] = {}


def preload(loader: Callable[[], Splits]) -> None:
    """Load (and verify) ``loader``'s splits now and keep them for :func:`splits_from` in this process."""
    _preloaded[loader] = loader()


def splits_from(loader: Callable[[], Splits]) -> Splits:
    """The preloaded splits of ``loader`` when this process has them, else ``loader()`` now."""
    return _preloaded[loader] if loader in _preloaded else loader()
