"""Fine-tuning the compression track's dense MiniLM sentiment classifier, and the cache of its weights.

Podium makes the dense model itself from :data:`workloads.rotten_tomatoes.recipe.DENSE` (see that module): the PEFT
workload's model (:func:`workloads.rotten_tomatoes.pytorch.models.load_model`) fully fine-tuned on the training split,
inside :func:`workloads.common.made.deterministic_cpu`. The weights are cached as safetensors under
``$PODIUM_CACHE_DIR/pretrained/`` with a JSON sidecar (recipe, hash, validation and test accuracy), verified by the
recorded sha256 (:func:`workloads.common.made.verified_weights`).

Command line (``python -m workloads.rotten_tomatoes.pytorch.finetuned``): make sure the cache holds the verified
weights; ``--dry-run`` fine-tunes in memory and prints the hash and accuracies without touching the cache (how a new
recipe's hash is found before it is recorded). A compression trial that finds the cache empty runs this command in
a child process, so that the evaluation splits the report needs never enter the trial's own process.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from workloads.common.made import (MadeMismatchError, cache_dir, cached, deterministic_cpu, made_in_child,
                                   sha256_bytes, verified_weights)
from workloads.common.peft import ModelEvaluator, forward, lengths, take, trim
from workloads.rotten_tomatoes.data import CONTENT_SHA256, SPLIT_SHA256, load_splits
from workloads.rotten_tomatoes.pytorch.models import encode, load_model
from workloads.rotten_tomatoes.recipe import DENSE, OTHER_CPU_SHA256, WEIGHTS_SHA256, FineTuneRecipe


def weights_path(recipe: FineTuneRecipe = DENSE, folder: Path | None = None) -> Path:
    return (folder or cache_dir()) / f"{recipe.name}.safetensors"


def recorded_sha256(recipe: FineTuneRecipe = DENSE) -> tuple[str, ...]:
    """The hashes a rebuild of ``recipe`` may have: the release's recorded one first, then those of the other CPU
    kernel families it was made on (:data:`~workloads.rotten_tomatoes.recipe.OTHER_CPU_SHA256`)."""
    try:
        return (WEIGHTS_SHA256[recipe.name], *OTHER_CPU_SHA256.get(recipe.name, ()))
    except KeyError:
        raise MadeMismatchError(f"recipe {recipe.name} has no recorded weights hash in "
                                "workloads/rotten_tomatoes/recipe.py:WEIGHTS_SHA256") from None


def _tensors(inputs: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(v) for k, v in inputs.items()}


def finetune(recipe: FineTuneRecipe = DENSE) -> tuple[bytes, dict[str, Any]]:
    """Run ``recipe`` on CPU; returns the safetensors file's bytes and a report (accuracies, steps, seconds)."""
    from safetensors.torch import save

    text = load_splits()
    x, y = _tensors(encode(text.train_texts)), torch.from_numpy(text.train_y)
    row_lengths = lengths(x)
    started = time.perf_counter()
    with deterministic_cpu():
        torch.manual_seed(recipe.seed)
        model = load_model()  # the head's initialisation is drawn from the seeded generator
        decay = [p for n, p in model.named_parameters() if not n.endswith("bias") and "LayerNorm" not in n]
        rest = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
        optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": recipe.weight_decay},
                                       {"params": rest, "weight_decay": 0.0}], lr=recipe.learning_rate, foreach=False)
        per_epoch = len(y) // recipe.batch_size
        total = min(recipe.epochs * per_epoch, recipe.max_steps or math.inf)
        warmup = max(1, round(recipe.warmup_fraction * total))
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: min((step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup))))
        generator = torch.Generator().manual_seed(recipe.seed)
        model.train()
        steps, loss = 0, torch.tensor(math.nan)
        while steps < total:
            order = torch.randperm(len(y), generator=generator)
            for start in range(0, per_epoch * recipe.batch_size, recipe.batch_size):
                if steps >= total:
                    break
                rows = order[start:start + recipe.batch_size]
                batch = trim(take(x, rows), max(1, int(row_lengths[rows].max())))
                loss = F.cross_entropy(forward(model, batch), y[rows])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                steps += 1
        seconds = time.perf_counter() - started
        state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
        data = save(state, metadata={"recipe": recipe.name})
        evaluator = ModelEvaluator(torch.device("cpu"), {
            "validation": (_tensors(encode(text.validation_texts)), torch.from_numpy(text.validation_y)),
            "test": (_tensors(encode(text.test_texts)), torch.from_numpy(text.test_y))})
        report = dict(steps=steps, finetuning_seconds=round(seconds, 2), final_train_loss=round(loss.item(), 6),
                      validation_accuracy=evaluator.evaluate(model, None, "validation")["accuracy"],
                      test_accuracy=evaluator.evaluate(model, None, "test")["accuracy"])
    return data, report


def finetuned_weights(recipe: FineTuneRecipe = DENSE, expected_sha256: str | None = None,
                      folder: Path | None = None) -> dict[str, np.ndarray]:
    """The recipe's verified weights (numpy arrays by state-dict key), fine-tuned and cached first when needed."""
    sidecar = dict(recipe_name=recipe.name, seed=recipe.seed, recipe=recipe.as_dict(),
                   data={"dataset": "Rotten Tomatoes snippets", "content_sha256": CONTENT_SHA256,
                         "splits_sha256": SPLIT_SHA256})
    return verified_weights(weights_path(recipe, folder), expected_sha256 or recorded_sha256(recipe),
                            lambda: finetune(recipe), sidecar, "fine-tuned MiniLM weights")


def cached_weights(recipe: FineTuneRecipe = DENSE) -> dict[str, np.ndarray] | None:
    """The recipe's weights when the cache holds the verified file, else None (nothing is built)."""
    return cached(weights_path(recipe), recorded_sha256(recipe))


def ensure_cached(recipe: FineTuneRecipe = DENSE, timeout_s: float = 3600.0) -> dict[str, np.ndarray]:
    """The verified weights; when the cache lacks them, made first by this module's command in a child process
    (about 15 minutes on one core), so that the held-out splits its report reads stay out of this process."""
    return made_in_child(lambda: cached_weights(recipe), __name__, (), f"dense MiniLM ({recipe.name})", timeout_s)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="fine-tune in memory and print; leave the cache alone")
    parser.add_argument("--max-steps", type=int, default=None, help="with --dry-run: stop after this many updates")
    args = parser.parse_args(argv)
    if args.dry_run:
        recipe = DENSE if args.max_steps is None else FineTuneRecipe(max_steps=args.max_steps)
        data, report = finetune(recipe)
        print(json.dumps(dict(recipe_name=recipe.name, weights_sha256=sha256_bytes(data), **report), indent=2))
        return 0
    finetuned_weights()
    print(weights_path().with_suffix(".json").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
