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

Writes are atomic, and a lock per recipe makes concurrent trials wait for one pretraining instead of running several
(:mod:`workloads.common.made`, shared with the compression track's dense models).

Command line (``python -m workloads.fashion_transfer.pytorch.pretrained 0,1,2,3,4``): make sure the cache holds the
recipe's verified weights; ``--dry-run`` pretrains in memory and prints the hash and accuracy without touching the
cache (how a new recipe's hash is found before it is recorded).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from workloads.common.data import Splits, splits_from
from workloads.common.made import (MadeCacheWarning, MadeMismatchError, cache_dir, cached, deterministic_cpu,
                                   sha256_bytes, verified_weights)
from workloads.fashion_mnist.data import CONTENT_SHA256, load_splits
from workloads.fashion_transfer.recipe import Recipe, recipe_for, recorded_sha256



class PretrainedMismatchError(MadeMismatchError):
    """Pretraining did not reproduce the recorded weights bit for bit."""


class PretrainedCacheWarning(MadeCacheWarning):
    """A cached weights file was rejected (its hash is not the recorded one) and is being rebuilt."""


def weights_path(recipe: Recipe, folder: Path | None = None) -> Path:
    return (folder or cache_dir()) / f"{recipe.name}.safetensors"


def sidecar_path(recipe: Recipe, folder: Path | None = None) -> Path:
    return weights_path(recipe, folder).with_suffix(".json")


# ------------------------------------------------------------------------------------------------------ pretraining


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


def cached_weights(recipe: Recipe, expected_sha256: str | None = None,
                   folder: Path | None = None) -> dict[str, np.ndarray] | None:
    """The recipe's weights when the cache holds a file with the expected hash (default: the recorded one), else
    None. Builds nothing and warns of nothing."""
    return cached(weights_path(recipe, folder), expected_sha256 or recorded_sha256(recipe))


def pretrained_weights(recipe: Recipe, expected_sha256: str | None = None, folder: Path | None = None,
                       splits: Splits | None = None) -> dict[str, np.ndarray]:
    """The recipe's weights (numpy arrays by state-dict key), verified against ``expected_sha256`` (default: the
    recorded hash); pretrained and cached first when the cache lacks them or holds a file with another hash.

    Raises:
        PretrainedMismatchError: pretraining did not reproduce the expected hash (no file is left behind).
    """
    sidecar = dict(recipe_name=recipe.name, seed=recipe.seed, recipe=recipe.as_dict(),
                   data={"dataset": "Fashion-MNIST", "content_sha256": CONTENT_SHA256})
    return verified_weights(weights_path(recipe, folder), expected_sha256 or recorded_sha256(recipe),
                            lambda: pretrain(recipe, splits), sidecar, "pretrained weights",
                            PretrainedMismatchError, PretrainedCacheWarning)


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
