"""The Fashion-MNIST transfer workloads: the pretrained CNN's reproducibility and cache, the target task, forgetting.

The full recipe's bit-identical rebuild pretrains twice (about a minute on one core) and is marked slow; the cache's
rules (a tampered file rejected and rebuilt, a rebuild that misses the recorded hash refused) are checked by default
on a tiny recipe of a few steps. The builder's tests use random stand-in weights, so they pretrain nothing.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from workloads import get_spec
from workloads.common.data import DatasetMissingError, splits_from
from workloads.fashion_mnist.data import CONTENT_SHA256, load_splits
from workloads.fashion_transfer import recipe as recipes
from workloads.fashion_transfer.pytorch import models, pretrained
from workloads.fashion_transfer.recipe import RECIPES, WEIGHTS_SHA256, Recipe, recorded_sha256

SOURCE, TARGET = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)
TINY = Recipe(source_classes=SOURCE, seed=7, epochs=1, max_steps=3)


@pytest.fixture(scope="module")
def splits():
    try:
        return splits_from(load_splits)
    except DatasetMissingError:
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PODIUM_CACHE_DIR", str(tmp_path / "podium"))
    return tmp_path / "podium" / "pretrained"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


# ------------------------------------------------------------------------------------------------ pretrained weights


def test_specs_name_recipes_with_recorded_hashes() -> None:
    base, variant = get_spec("fashion_cnn_transfer"), get_spec("fashion_cnn_transfer_reverse")
    assert base.track == variant.track == "peft" and variant.base == base.name and base.family == "fashion_transfer"
    for spec in (base, variant):
        recipe = recipes.recipe_for(tuple(spec.builder_kwargs["source_classes"]))
        assert WEIGHTS_SHA256[recipe.name][:16] in spec.model
    assert len({recorded_sha256(r) for r in RECIPES.values()}) == len(RECIPES) == 2
    # the compression track's dense CNN (all ten classes): recorded, and not among what the transfer family warms
    dense = recipes.recipe_for(tuple(range(10)))
    assert dense is recipes.DENSE_RECIPES[tuple(range(10))] and dense not in RECIPES.values()
    assert recorded_sha256(dense) not in {recorded_sha256(r) for r in RECIPES.values()}
    with pytest.raises(recipes.UnknownRecipeError, match="no pretraining recipe"):
        recipes.recipe_for((0, 2, 4, 6, 8))


def test_cache_folder_is_absolute(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PODIUM_CACHE_DIR", str(tmp_path))
    assert pretrained.cache_dir() == tmp_path / "pretrained"
    monkeypatch.delenv("PODIUM_CACHE_DIR")
    assert pretrained.cache_dir() == Path.home() / ".cache" / "podium" / "pretrained"
    monkeypatch.setenv("PODIUM_CACHE_DIR", "relative/folder")
    with pytest.raises(ValueError, match="absolute"):
        pretrained.cache_dir()


def test_tiny_recipe_is_bit_identical_and_leaves_settings_alone(splits) -> None:
    torch.set_num_threads(2)
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    first, report = pretrained.pretrain(TINY, splits)
    assert torch.get_num_threads() == 2 and not torch.are_deterministic_algorithms_enabled()
    assert torch.equal(torch.random.get_rng_state(), state), "pretraining must not move the global RNG"
    torch.set_num_threads(1)
    try:
        second, _ = pretrained.pretrain(TINY, splits)
    finally:
        torch.set_num_threads(2)
    assert first == second and report["steps"] == 3


def test_tampered_cache_is_rejected_and_rebuilt(splits, cache: Path) -> None:
    expected = pretrained.sha256_bytes(pretrained.pretrain(TINY, splits)[0])
    weights = pretrained.pretrained_weights(TINY, expected, splits=splits)
    path = pretrained.weights_path(TINY)
    assert path.parent == cache and sha256(path) == expected
    sidecar = json.loads(pretrained.sidecar_path(TINY).read_text())
    assert sidecar["weights_sha256"] == expected and sidecar["seed"] == TINY.seed
    assert sidecar["recipe"] == TINY.as_dict() and sidecar["data"]["content_sha256"] == CONTENT_SHA256
    assert "source_validation_accuracy" in sidecar
    assert not [p for p in cache.iterdir() if p.name.endswith(".tmp")]

    flip_a_byte(path)
    assert pretrained.cached_weights(TINY, expected) is None
    with pytest.warns(pretrained.PretrainedCacheWarning, match="rejected the cached pretrained weights"):
        rebuilt = pretrained.pretrained_weights(TINY, expected, splits=splits)
    assert sha256(path) == expected
    assert weights.keys() == rebuilt.keys() and all(np.array_equal(weights[k], rebuilt[k]) for k in weights)


def test_a_rebuild_that_misses_the_recorded_hash_is_refused(splits, cache: Path) -> None:
    with pytest.raises(pretrained.PretrainedMismatchError, match="does not reproduce bit for bit"):
        pretrained.pretrained_weights(TINY, "0" * 64, splits=splits)
    assert not pretrained.weights_path(TINY).exists()


@pytest.mark.slow
def test_recorded_recipe_is_rebuilt_bit_identically(splits, cache: Path) -> None:
    """Pretrain the default recipe from its seed, tamper with the file, pretrain again: both times the recorded hash."""
    recipe = RECIPES[SOURCE]
    pretrained.pretrained_weights(recipe, splits=splits)
    path = pretrained.weights_path(recipe)
    assert sha256(path) in recorded_sha256(recipe)
    assert json.loads(pretrained.sidecar_path(recipe).read_text())["source_validation_accuracy"] > 0.85
    flip_a_byte(path)
    with pytest.warns(pretrained.PretrainedCacheWarning):
        pretrained.pretrained_weights(recipe, splits=splits)
    assert sha256(path) in recorded_sha256(recipe)


# ------------------------------------------------------------------------------------------------------ the workload


@pytest.fixture
def stand_in_weights(monkeypatch: pytest.MonkeyPatch) -> dict[str, np.ndarray]:
    """Random weights in place of the pretrained ones (the builder's logic does not depend on their values)."""
    torch.manual_seed(0)
    weights = {k: v.numpy().copy() for k, v in models.TransferCNN(5).state_dict().items()}
    monkeypatch.setattr(models, "weights_for", lambda recipe: weights)
    return weights


def build(target: tuple[int, ...] = TARGET):
    spec = get_spec("fashion_cnn_transfer")
    return models.build(spec, "cpu-2core", torch.device("cpu"), source_classes=SOURCE, target_classes=target)


def test_target_task_holds_only_target_classes_remapped(splits, stand_in_weights) -> None:
    target = (9, 5, 7, 6, 8)  # an order that is not sorted: label 9 becomes 0
    workload, evaluator = build(target)
    mask = np.isin(splits.train_y, target)
    assert workload.num_train_examples == int(mask.sum())
    assert set(workload._train_y.tolist()) == {0, 1, 2, 3, 4}
    expected = np.array([target.index(c) for c in splits.train_y[mask]])
    assert np.array_equal(workload._train_y.numpy(), expected)
    assert torch.equal(workload._train_x[0, 0].reshape(-1), torch.from_numpy(splits.train_x[mask][0]))
    assert workload.num_validation_examples == int(np.isin(splits.validation_y, target).sum())
    assert workload.num_test_examples == int(np.isin(splits.test_y, target).sum())
    for split in ("validation", "test"):
        assert set(evaluator._splits[split][1].tolist()) == {0, 1, 2, 3, 4}
    assert workload.reference.shape == (models.N_REFERENCE, 1, 28, 28)
    with pytest.raises(ValueError, match="disjoint"):
        build((4, 5, 6, 7, 8))


def test_model_is_the_pretrained_backbone_with_a_seeded_fresh_head(stand_in_weights) -> None:
    workload, _ = build()
    rng = np.array([5, 0], dtype=np.uint32)
    a, _ = workload.init_model_fn(rng)
    b, _ = workload.init_model_fn(rng)
    c, _ = workload.init_model_fn(np.array([6, 0], dtype=np.uint32))
    for key, value in a.state_dict().items():
        if not key.startswith("head."):
            assert torch.equal(value, torch.from_numpy(stand_in_weights[key])), key
    assert torch.equal(a.head.weight, b.head.weight) and not torch.equal(a.head.weight, c.head.weight)
    assert workload.head_modules == ("head",) and workload.is_output_params("head.weight")
    names = dict(a.named_modules())
    assert {"features.0", "features.3", "body.1", "body.3", "head"} <= set(names)
    assert a(workload.reference[:4], dropout_rate=0.5).shape == (4, 5)


def test_forgetting_of_the_base_against_itself_is_zero(stand_in_weights) -> None:
    import peft

    workload, _ = build()
    base, _ = workload.init_model_fn(np.array([1, 0], dtype=np.uint32))
    assert workload.forgetting(base, base) == 0.0
    probe = copy.deepcopy(base)
    torch.nn.init.normal_(probe.head.weight)  # a new target head leaves the source task as it was
    assert workload.forgetting(base, probe) == 0.0
    lora = peft.get_peft_model(copy.deepcopy(base), peft.LoraConfig(r=4, target_modules=["body.1", "body.3"],
                                                                    modules_to_save=["head"]))
    assert workload.forgetting(base, lora) == 0.0  # LoRA starts as the identity; its head is found inside peft
    broken = copy.deepcopy(base)
    torch.nn.init.zeros_(broken.body[3].weight)  # every feature constant: the source head predicts one class
    assert workload.forgetting(base, broken) == pytest.approx(
        source_accuracy_by_hand(base, workload.reference) - source_accuracy_by_hand(broken, workload.reference))


def source_accuracy_by_hand(model: torch.nn.Module, reference: torch.Tensor) -> float:
    """Source accuracy through the pretrained head, computed directly from the model's parts."""
    weights = models.weights_for(None)
    with torch.no_grad():
        model.eval()
        logits = torch.nn.functional.linear(model.embed(reference), torch.from_numpy(weights["head.weight"]),
                                            torch.from_numpy(weights["head.bias"]))
    data = splits_from(load_splits)
    labels = np.array([SOURCE.index(c) for c in data.validation_y if c in SOURCE][:models.N_REFERENCE])
    return float((logits.argmax(-1).numpy() == labels).mean())


def test_a_few_sgd_steps_reduce_the_loss(stand_in_weights) -> None:
    workload, _ = build()
    torch.manual_seed(0)
    model, _ = workload.init_model_fn(np.array([2, 0], dtype=np.uint32))
    batch = next(workload.input_queue(64, seed=0))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)

    def loss() -> torch.Tensor:
        return workload.loss_fn(batch["targets"], model(batch["inputs"]))["summed"] / 64

    first = loss().item()
    for _ in range(5):
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
    assert loss().item() < first
