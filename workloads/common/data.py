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
    #: set on splits whose held-out examples were withheld (:func:`withhold_held_out`): how many there are
    withheld: dict[str, int] | None = None
    #: with ``withheld``: each held-out split's examples per class (integer labels), so that a builder can size a
    #: workload made of some classes without the examples (:meth:`count`)
    withheld_labels: dict[str, np.ndarray] | None = None

    def sizes(self) -> dict[str, int]:
        if self.withheld is not None:
            return {"train": len(self.train_y), **self.withheld}
        return {"train": len(self.train_y), "validation": len(self.validation_y), "test": len(self.test_y)}

    def count(self, split: str, classes: tuple[int, ...] | None = None) -> int:
        """How many examples ``split`` has (of ``classes`` only, when given), whether or not they are held here."""
        if self.withheld is None or split == "train":
            y = getattr(self, f"{split}_y")
            return len(y) if classes is None else int(np.isin(y, classes).sum())
        if classes is None:
            return self.withheld[split]
        if self.withheld_labels is None:
            raise ValueError(f"these splits do not say how many {split} examples each class has")
        per_class = self.withheld_labels[split]
        return int(sum(per_class[c] for c in classes if c < len(per_class)))

    def training_only(self) -> Splits:
        """These splits without their validation and test examples (empty arrays of the same dtypes and example
        shapes), keeping their sizes: what a process that runs submission code may hold."""
        if self.withheld is not None and not len(self.validation_y) and not len(self.test_y):
            return self
        withheld = self.withheld or {"validation": len(self.validation_y), "test": len(self.test_y)}
        labels = self.withheld_labels
        if labels is None and all(np.issubdtype(y.dtype, np.integer) and y.ndim == 1  # class labels, not tokens
                                  for y in (self.validation_y, self.test_y)):
            labels = {name: np.bincount(np.asarray(y, dtype=np.int64), minlength=1)
                      for name, y in (("validation", self.validation_y), ("test", self.test_y))}
        return Splits(self.train_x, self.train_y, self.validation_x[:0].copy(), self.validation_y[:0].copy(),
                      self.test_x[:0].copy(), self.test_y[:0].copy(), withheld=dict(withheld),
                      withheld_labels=labels)

    def with_reference(self, rows: np.ndarray) -> Splits:
        """The training split and, of the validation split, only ``rows`` (in their order); the held-out sizes
        kept. What a PEFT trial's container gets: its builder takes the forgetting reference sample from the
        validation split's rows that no split of its own workload scores (:func:`export_splits`)."""
        only = self.training_only()
        return Splits(self.train_x, self.train_y, self.validation_x[rows], self.validation_y[rows], only.test_x,
                      only.test_y, withheld=only.withheld, withheld_labels=only.withheld_labels)


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


#: whether this process may hold held-out examples (see :func:`withhold_held_out`)
_held_out_withheld = False
#: what else drops held-out examples when they are withheld: the caches of loaders that keep their own (tokenized
#: text), registered by :func:`on_withhold`
_withholders: list[Callable[[], None]] = []


def on_withhold(drop: Callable[[], None]) -> Callable[[], None]:
    """Register ``drop``, which removes the held-out examples from a module's own cache, to run when this process
    withholds them (at once if it already does). Usable as a decorator."""
    _withholders.append(drop)
    if _held_out_withheld:
        drop()
    return drop


def withhold_held_out() -> None:
    """From now on this process holds no validation or test examples: :func:`splits_from` returns training-only
    splits (:meth:`Splits.training_only`), and splits already preloaded here lose theirs.

    Called by the trial worker before it builds a training workload whose evaluation runs in the evaluation server
    (:mod:`harness.runner.evaluator`), and right after it builds a PEFT workload (whose reference sample its
    builder takes from the loaders): nothing a submission can reach from Python (the workload object, the garbage
    collector, module globals) then holds a held-out example or label. The loaders still read the whole dataset
    file and drop the held-out part at once; what the file itself holds is the executor's business (README,
    "What each executor guarantees").
    """
    global _held_out_withheld
    _held_out_withheld = True
    for loader, splits in list(_preloaded.items()):
        _preloaded[loader] = splits.training_only()
    for drop in _withholders:
        drop()


#: a folder of training-only splits exported by the host (:func:`export_training_splits`): a container trial reads its
#: training data from there, and its mounts hold no dataset file with a held-out split in it
SPLITS_ENV = "PODIUM_SPLITS_DIR"


def loader_key(loader: Callable[[], Splits]) -> str:
    return f"{loader.__module__}.{loader.__qualname__}"


def export_training_splits(warm: Callable[[], None], folder: Path) -> list[Path]:
    """Run a builder module's ``warm()`` (which preloads its loaders' splits) and write each newly preloaded loader's
    training-only splits (:meth:`Splits.training_only`) to ``folder/<loader key>.npz``; the preloaded splits are then
    dropped again. Returns the files written."""
    before = set(_preloaded)
    warm()
    return [export_splits(loader, _preloaded.pop(loader).training_only(), folder)
            for loader in [k for k in _preloaded if k not in before]]


def export_splits(loader: Callable[[], Splits], splits: Splits, folder: Path) -> Path:
    """Write ``splits`` (training-only, or with a reference sample: :meth:`Splits.with_reference`) as what
    ``loader`` returns in a process given ``folder`` in :data:`SPLITS_ENV`; returns the file."""
    if splits.withheld is None:
        raise ValueError(f"refusing to export {loader_key(loader)}'s splits with their held-out examples")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{loader_key(loader)}.npz"
    labels = {f"{name}_per_class": counts for name, counts in (splits.withheld_labels or {}).items()}
    np.savez(path, train_x=splits.train_x, train_y=splits.train_y, validation_x=splits.validation_x,
             validation_y=splits.validation_y, test_x=splits.test_x, test_y=splits.test_y,
             n_validation=splits.withheld["validation"], n_test=splits.withheld["test"], **labels)
    return path


def _exported(loader: Callable[[], Splits]) -> Splits | None:
    """The training-only splits the host exported for ``loader`` (None: this process reads the dataset itself)."""
    root = os.environ.get(SPLITS_ENV)
    if not root:
        return None
    path = Path(root) / f"{loader_key(loader)}.npz"
    if not path.is_file():
        raise DatasetMissingError(f"{SPLITS_ENV}={root} has no training splits for {loader_key(loader)} ({path.name})")
    with np.load(path) as z:
        arrays = [z[k] for k in ("train_x", "train_y", "validation_x", "validation_y", "test_x", "test_y")]
        labels = ({name: z[f"{name}_per_class"] for name in ("validation", "test")}
                  if "validation_per_class" in z.files else None)
        return Splits(*arrays, withheld={"validation": int(z["n_validation"]), "test": int(z["n_test"])},
                      withheld_labels=labels)


def preload(loader: Callable[[], Splits]) -> None:
    """Load (and verify) ``loader``'s splits now and keep them for :func:`splits_from` in this process."""
    _preloaded[loader] = loader()


def splits_from(loader: Callable[[], Splits]) -> Splits:
    """The preloaded splits of ``loader`` when this process has them, else ``loader()`` now; training-only in a
    process that withholds held-out data (:func:`withhold_held_out`)."""
    splits = _preloaded[loader] if loader in _preloaded else _exported(loader) or loader()
    return splits.training_only() if _held_out_withheld else splits
