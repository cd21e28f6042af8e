"""Pretraining the transfer CNN, and the on-disk cache of its weights.

Podium makes the pretrained model itself, deterministically, from a recipe (:mod:`workloads.fashion_transfer.recipe`):
seeded initialisation and shuffling, one CPU thread (``torch.set_num_threads(1)``, restored afterwards) and
``torch.use_deterministic_algorithms(True)`` (restored too), the global RNG left as it was (``fork_rng``). About 20 s
on one core. The weights are cached as safetensors under ``$PODIUM_CACHE_DIR/pretrained/`` (default
``~/.cache/podium/pretrained/``; the variable must be an absolute path, since trials run in their own working
folder), next to a JSON sidecar that records the recipe, its seed, the data's content hash, the weights' sha256 and
the source-task accuracy.

Trust rests on one recorded constant per recipe (:data:`~workloads.fashion_transfer.recipe.WEIGHTS_SHA256`):

* a cached file whose sha256 differs is rejected (a :class:`PretrainedCacheWarning` says so) and rebuilt;
* a rebuild whose sha256 differs from the recorded one raises :class:`PretrainedMismatchError` and leaves no file.

Bit-identity holds for the same torch build on the same kind of CPU. Another torch version, BLAS or instruction set
may round differently and then fails loudly; a weights file made where the recipe reproduces can be copied into the
cache folder of such a machine (it is accepted by its hash).

Writes are atomic (a temporary file in the same folder, then ``os.replace``), and an exclusive ``fcntl`` lock per
recipe makes concurrent trials wait for one pretraining instead of running several.

Command line (``python -m workloads.fashion_transfer.pytorch.pretrained 0,1,2,3,4``): make sure the cache holds the
recipe's verified weights; ``--dry-run`` pretrains in memory and prints the hash and accuracy without touching the
cache (how a new recipe's hash is found before it is recorded).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from workloads.common.data import Splits, cache_root, splits_from
from workloads.fashion_mnist.data import CONTENT_SHA256, load_splits
from workloads.fashion_transfer.recipe import Recipe, recipe_for, recorded_sha256



class PretrainedMismatchError(RuntimeError):
    """Pretraining did not reproduce the recorded weights bit for bit."""


class PretrainedCacheWarning(UserWarning):
    """A cached weights file was rejected (its hash is not the recorded one) and is being rebuilt."""


def cache_dir() -> Path:
    """``$PODIUM_CACHE_DIR/pretrained`` (default ``~/.cache/podium/pretrained``), absolute."""
    return cache_root() / "pretrained"


def weights_path(recipe: Recipe, folder: Path | None = None) -> Path:
    return (folder or cache_dir()) / f"{recipe.name}.safetensors"


def sidecar_path(recipe: Recipe, folder: Path | None = None) -> Path:
    return weights_path(recipe, folder).with_suffix(".json")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------------------------------------------ pretraining


@contextlib.contextmanager
def deterministic_cpu() -> Iterator[None]:
    """One thread, deterministic algorithms, the global RNG untouched; every setting restored afterwards."""
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        with torch.random.fork_rng(devices=[]):
            yield
    finally:
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        torch.set_num_threads(threads)


@torch.no_grad()
def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> float:
    was_training = model.training
    model.eval()
    correct = sum(int((model(x[i:i + batch_size]).argmax(-1) == y[i:i + batch_size]).sum())
                  for i in range(0, len(y), batch_size))
    model.train(was_training)
    return correct / len(y)


def pretrain(recipe: Recipe, splits: Splits | None = None) -> tuple[bytes, dict[str, Any]]:
    """Run ``recipe`` on CPU; returns the safetensors file's bytes and a report (accuracies, steps, seconds)."""
    from safetensors.torch import save

    from workloads.fashion_transfer.pytorch.models import TransferCNN, class_subset

    splits = splits if splits is not None else splits_from(load_splits)
    x, y = class_subset(splits.train_x, splits.train_y, recipe.source_classes)
    started = time.perf_counter()
    with deterministic_cpu():
        torch.manual_seed(recipe.seed)
        model = TransferCNN(n_classes=len(recipe.source_classes))
        optimizer = torch.optim.Adam(model.parameters(), lr=recipe.learning_rate, foreach=False)
        generator = torch.Generator().manual_seed(recipe.seed)
        steps = 0
        model.train()
        for _ in range(recipe.epochs):
            order = torch.randperm(len(y), generator=generator)
            for start in range(0, len(y) - recipe.batch_size + 1, recipe.batch_size):
                if recipe.max_steps is not None and steps >= recipe.max_steps:
                    break
                idx = order[start:start + recipe.batch_size]
                loss = F.cross_entropy(model(x[idx]), y[idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                steps += 1
        seconds = time.perf_counter() - started
        state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
        data = save(state, metadata={"recipe": recipe.name})
        report = dict(
            steps=steps, pretraining_seconds=round(seconds, 2), final_train_loss=round(loss.item(), 6),
            source_validation_accuracy=accuracy(model, *class_subset(splits.validation_x, splits.validation_y,
                                                                        recipe.source_classes)),
            source_test_accuracy=accuracy(model, *class_subset(splits.test_x, splits.test_y,
                                                                recipe.source_classes)),
        )
    return data, report


# ------------------------------------------------------------------------------------------------------------ cache


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o644)  # mkstemp's 0600 would hide a shared cache from other users
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _read(path: Path) -> tuple[bytes | None, str | None]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, None
    return data, sha256_bytes(data)


def _tensors(data: bytes) -> dict[str, np.ndarray]:
    from safetensors.numpy import load

    return {k: np.array(v) for k, v in load(data).items()}  # writable copies


def cached_weights(recipe: Recipe, expected_sha256: str | None = None,
                   folder: Path | None = None) -> dict[str, np.ndarray] | None:
    """The recipe's weights when the cache holds a file with the expected hash (default: the recorded one), else
    None. Builds nothing and warns of nothing."""
    data, actual = _read(weights_path(recipe, folder))
    return _tensors(data) if actual == (expected_sha256 or recorded_sha256(recipe)) else None


def pretrained_weights(recipe: Recipe, expected_sha256: str | None = None, folder: Path | None = None,
                       splits: Splits | None = None) -> dict[str, np.ndarray]:
    """The recipe's weights (numpy arrays by state-dict key), verified against ``expected_sha256`` (default: the
    recorded hash); pretrained and cached first when the cache lacks them or holds a file with another hash.

    Raises:
        PretrainedMismatchError: pretraining did not reproduce the expected hash (no file is left behind).
    """
    expected = expected_sha256 or recorded_sha256(recipe)
    path = weights_path(recipe, folder)
    data, actual = _read(path)
    if actual == expected:
        return _tensors(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path.with_suffix(".lock")):
        data, actual = _read(path)  # another process may have built it while we waited
        if actual == expected:
            return _tensors(data)
        if data is not None:
            warnings.warn(f"rejected the cached pretrained weights {path}: sha256 {actual} is not the recorded "
                          f"{expected} (corrupted or stale); pretraining {recipe.name} again (about 20 s)",
                          PretrainedCacheWarning, stacklevel=2)
        data, report = pretrain(recipe, splits)
        actual = sha256_bytes(data)
        if actual != expected:
            raise PretrainedMismatchError(
                f"pretraining {recipe.name} (seed {recipe.seed}) produced weights with sha256 {actual}, not the "
                f"recorded {expected}. The recipe does not reproduce bit for bit on this machine (torch "
                f"{torch.__version__}, {platform.machine()} {platform.processor() or ''}; the hash was recorded with "
                "torch 2.13 CPU on x86-64): a different torch, BLAS or CPU instruction set rounds differently. "
                f"Copy {path.name} from a machine where it reproduces into {path.parent}, or, if the recipe or "
                "torch changed on purpose, record the new hash in workloads/fashion_transfer/recipe.py.")
        _atomic_write(path, data)
        sidecar = dict(
            recipe_name=recipe.name, seed=recipe.seed, recipe=recipe.as_dict(),
            data={"dataset": "Fashion-MNIST", "content_sha256": CONTENT_SHA256},
            weights_file=path.name, weights_sha256=actual, **report,
            torch=torch.__version__, machine=platform.machine(), python=platform.python_version(),
            created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        )
        _atomic_write(sidecar_path(recipe, folder), (json.dumps(sidecar, indent=2) + "\n").encode())
    return _tensors(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source_classes", help="comma-separated, e.g. 0,1,2,3,4")
    parser.add_argument("--dry-run", action="store_true", help="pretrain in memory and print; leave the cache alone")
    args = parser.parse_args(argv)
    recipe = recipe_for(tuple(int(c) for c in args.source_classes.split(",")))
    if args.dry_run:
        data, report = pretrain(recipe)
        print(json.dumps(dict(recipe_name=recipe.name, weights_sha256=sha256_bytes(data), **report), indent=2))
        return 0
    pretrained_weights(recipe)
    print(sidecar_path(recipe).read_text() if sidecar_path(recipe).exists() else weights_path(recipe))
    return 0


if __name__ == "__main__":
    sys.exit(main())
