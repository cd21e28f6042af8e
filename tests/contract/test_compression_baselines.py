"""The compression track's reference baselines (``submissions/compression``): each passes the static check and has a
search space; each returns a model that runs, survives ``torch.save`` / ``torch.load`` in a fresh process, leaves no
hook behind, and whose saved state is what the method claims (int8 weights, zeros, fewer elements, fewer layers).

The in-process tests build ``fashion_cnn_compress`` once (its builder, as a trial does) and call ``compress`` the
way the worker does, with the first search-space point cut short (a few recovery or distillation updates), so each
takes seconds; the accuracy checks run only the data-free baselines at their first point. The generic baselines also
run on a tiny random BERT (``transformers``), the MiniLM workload's architecture.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import io
import itertools
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from harness.check import SEARCH_SPACE_FILE, check_submission, format_report
from harness.tracks import compression
from harness.tracks.training import as_hyperparameters
from harness.tuning.search_space import load_search_space

ROOT = Path(__file__).resolve().parents[2]
BASELINES = ROOT / "submissions" / "compression"
FOLDERS = sorted(p for p in BASELINES.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
EXPECTED = {"magnitude_prune", "dynamic_int8", "prune_int8", "low_rank", "layer_drop_distill", "obs_prune",
            "structured_prune"}
#: the first point's updates cut to a few, so that a test takes seconds
SHORT = {"recovery_steps": 10, "distill_steps": 10}
SEED = 0


def test_there_are_baselines() -> None:
    assert EXPECTED <= {folder.name for folder in FOLDERS}


@pytest.mark.parametrize("folder", FOLDERS, ids=[folder.name for folder in FOLDERS])
def test_baseline_passes_the_static_check(folder: Path) -> None:
    report = check_submission(folder)
    assert report.ok, format_report(report)
    assert report.track == compression.TRACK
    assert (folder / "README.md").is_file()


@pytest.mark.parametrize("folder", FOLDERS, ids=[folder.name for folder in FOLDERS])
def test_baseline_search_space_is_a_list_of_fixed_points(folder: Path) -> None:
    space = load_search_space(folder / SEARCH_SPACE_FILE)
    assert space.fixed_points, "a list of fixed points, the first the default"
    names = set(inspect.signature(compression.Compressor.compress).parameters) - {"self"}
    assert set(inspect.signature(_module(folder.name).compress).parameters) == names


# --- In-process runs on fashion_cnn_compress. ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def fashion() -> Any:
    import torch

    from workloads import get_spec
    from workloads.common.data import DatasetMissingError

    spec = get_spec("fashion_cnn_compress")
    module, function = spec.builder.split(":")
    try:
        workload, _ = getattr(importlib.import_module(module), function)(spec, "cpu-2core", torch.device("cpu"),
                                                                         **spec.builder_kwargs)
    except DatasetMissingError:
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    return workload


@pytest.fixture(scope="module")
def validation(fashion: Any) -> tuple[Any, Any]:
    """The first 1,000 validation images and labels (for the tests' accuracy checks; never given to a baseline)."""
    import torch

    from workloads.common.data import splits_from
    from workloads.fashion_mnist.data import load_splits

    splits = splits_from(load_splits)
    return (torch.from_numpy(splits.validation_x[:1000]).reshape(-1, 1, 28, 28),
            torch.from_numpy(splits.validation_y[:1000]))


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"compression_baseline_{name}", BASELINES / name / "submission.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _first_point(name: str, **overrides: Any) -> dict[str, Any]:
    point = load_search_space(BASELINES / name / SEARCH_SPACE_FILE).fixed_points[0]
    return {**point, **{k: v for k, v in overrides.items() if k in point}}


def _compress(name: str, workload: Any, **overrides: Any) -> tuple[Any, Any]:
    """(dense model, compressed model): ``compress`` called as the worker calls it, the first point overridden."""
    dense, _ = workload.init_model_fn(np.array([SEED, 0], dtype=np.uint32))
    model, _ = workload.init_model_fn(np.array([SEED, 0], dtype=np.uint32))
    compressed = _module(name).compress(
        model=model, workload=workload, calibration_batches=workload.calibration_batches(SEED),
        train_queue=workload.input_queue(32, SEED), hyperparameters=as_hyperparameters(_first_point(name, **overrides)),
        rng=np.array([SEED, 1], dtype=np.uint32))
    return dense.eval(), compressed


def _accuracy(model: Any, validation: tuple[Any, Any]) -> float:
    import torch

    x, y = validation
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(-1) == y).float().mean())


def _deflated(model: Any) -> int:
    return compression.deflated_bytes(compression.artifact(model))


def _weights_of(model: Any, kinds: tuple[type, ...]) -> dict[str, Any]:
    return {name: module.weight for name, module in model.named_modules() if isinstance(module, kinds)}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_baseline_returns_a_model_that_runs_and_reloads_in_a_fresh_process(name: str, fashion: Any,
                                                                           tmp_path: Path) -> None:
    import torch

    _, compressed = _compress(name, fashion, **SHORT)
    assert isinstance(compressed, torch.nn.Module)
    x = fashion.calibration_batches(SEED)[0]["inputs"][:4]
    compressed.eval()
    with torch.no_grad():
        logits = compressed(x)
    assert logits.shape == (4, 10) and bool(torch.isfinite(logits).all())
    assert not any(m._forward_hooks or m._forward_pre_hooks or m._backward_hooks for m in compressed.modules())
    assert not any(name.endswith(("_orig", "_mask")) or "parametrizations" in name
                   for name in compressed.state_dict()), "a pruning reparametrisation was left in place"
    torch.save(compressed, tmp_path / "model.pt")
    torch.save(x, tmp_path / "x.pt")
    reload = f"""
import importlib.util, sys, torch
spec = importlib.util.spec_from_file_location("podium_submission", {str(BASELINES / name / "submission.py")!r})
module = importlib.util.module_from_spec(spec)
sys.modules["podium_submission"] = module
spec.loader.exec_module(module)
model = torch.load({str(tmp_path / "model.pt")!r}, weights_only=False).eval()
with torch.no_grad():
    torch.save(model(torch.load({str(tmp_path / "x.pt")!r})), {str(tmp_path / "logits.pt")!r})
"""
    done = subprocess.run([sys.executable, "-c", reload], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert torch.allclose(torch.load(tmp_path / "logits.pt"), logits, atol=1e-5)


def test_dynamic_int8_stores_the_linear_weights_in_eight_bits(fashion: Any, validation: tuple[Any, Any]) -> None:
    import torch

    dense, compressed = _compress("dynamic_int8", fashion)
    facts = compression.tensor_facts(compressed)
    linear = sum(w.numel() for w in _weights_of(dense, (torch.nn.Linear,)).values())
    assert facts.dtypes["qint8"] == linear  # every linear weight, nothing else
    assert 8.0 <= facts.bits_per_weight < 9.0  # the float32 biases and convolutions are ~2% of the elements
    assert _deflated(compressed) < 0.3 * _deflated(dense)
    assert _accuracy(compressed, validation) >= _accuracy(dense, validation) - 0.01


@pytest.mark.parametrize("name", ["magnitude_prune", "prune_int8"])
def test_magnitude_pruning_reaches_its_sparsity_and_deflates_smaller(name: str, fashion: Any) -> None:
    import torch

    dense, compressed = _compress(name, fashion, **SHORT)
    target = _first_point(name)["sparsity"]
    kinds = (torch.nn.Linear, torch.nn.Conv2d, torch.ao.nn.quantized.dynamic.Linear)
    weights = [w() if callable(w) else w for w in _weights_of(compressed, kinds).values()]
    weights = [w.dequantize() if w.is_quantized else w for w in weights]
    zeros = sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights)
    assert target <= zeros < target + 0.005
    biases = [m.bias() if callable(m.bias) else m.bias for m in compressed.modules() if isinstance(m, kinds)]
    assert all(bool((b != 0).any()) for b in biases), "biases are kept"
    assert _deflated(compressed) < (0.3 if name == "magnitude_prune" else 0.1) * _deflated(dense)
    if name == "prune_int8":
        assert compression.tensor_facts(compressed).dtypes["qint8"] == sum(
            w.numel() for w in _weights_of(dense, (torch.nn.Linear,)).values())


def test_obs_prune_sparsifies_each_linear_layer_but_the_classifier(fashion: Any,
                                                                    validation: tuple[Any, Any]) -> None:
    import torch

    dense, compressed = _compress("obs_prune", fashion)
    target = _first_point("obs_prune")["sparsity"]
    shares = {name: float((w == 0).float().mean())
              for name, w in _weights_of(compressed, (torch.nn.Linear, torch.nn.Conv2d)).items()}
    assert shares["body.1"] == pytest.approx(target, abs=1e-3) and shares["body.3"] == pytest.approx(target, abs=1e-3)
    assert shares["head"] == shares["features.0"] == shares["features.3"] == 0.0
    assert _deflated(compressed) < 0.5 * _deflated(dense)
    assert _accuracy(compressed, validation) >= _accuracy(dense, validation) - 0.015


def test_obs_update_reconstructs_a_layer_better_than_magnitude_pruning() -> None:
    """The OBS update earns its keep: on strongly correlated inputs, SparseGPT's pruned layer reproduces the dense
    layer's outputs much more closely than zeroing the same share of smallest weights (0.44 of the error here); at
    sparsity 0 it changes nothing."""
    import torch

    sparsegpt = _module("obs_prune").sparsegpt
    generator = torch.Generator().manual_seed(0)
    x = (torch.randn(512, 8, generator=generator) @ torch.randn(8, 64, generator=generator)  # correlated columns
         + 0.1 * torch.randn(512, 64, generator=generator))
    w = torch.randn(32, 64, generator=generator)
    h = 2.0 * x.T.double() @ x.double() / len(x)
    pruned = sparsegpt(w, h, 0.5, 16, 0.01)
    assert float((pruned == 0).float().mean()) == 0.5
    threshold = w.abs().flatten().kthvalue(w.numel() // 2).values
    magnitude = w * (w.abs() > threshold)
    error = float((x @ (pruned - w).T).norm())
    assert error < 0.6 * float((x @ (magnitude - w).T).norm())
    assert torch.allclose(sparsegpt(w, h, 0.0, 16, 0.01), w, atol=1e-5)


def test_low_rank_saves_fewer_elements_and_keeps_the_classifier(fashion: Any) -> None:
    import torch

    dense, compressed = _compress("low_rank", fashion, **SHORT)
    fraction = _first_point("low_rank")["rank_fraction"]
    rank = int(np.ceil(fraction * 128))
    first, second = compressed.body[1]
    assert (first.weight.shape, second.weight.shape) == ((rank, 1568), (128, rank))
    assert isinstance(compressed.head, torch.nn.Linear) and compressed.head.weight.shape == (10, 128)
    assert compression.tensor_facts(compressed).elements < 0.3 * compression.tensor_facts(dense).elements


def test_low_rank_factors_at_full_rank_reproduce_the_layer() -> None:
    import torch

    torch.manual_seed(0)
    layer = torch.nn.Linear(24, 16)
    factors = _module("low_rank").factorize(layer, 16)
    x = torch.randn(5, 24)
    assert torch.allclose(factors(x), layer(x), atol=1e-5)


def test_layer_drop_drops_the_only_shape_preserving_block(fashion: Any) -> None:
    import torch

    dense, compressed = _compress("layer_drop_distill", fashion, **SHORT)
    assert isinstance(compressed.body[3], torch.nn.Identity) and isinstance(compressed.body[4], torch.nn.Identity)
    dropped = dense.body[3].weight.numel() + dense.body[3].bias.numel()
    assert compression.tensor_facts(compressed).elements == compression.tensor_facts(dense).elements - dropped
    assert _deflated(compressed) < _deflated(dense)


# --- A tiny random BERT: the MiniLM workload's architecture. ------------------------------------------------------


def _tiny_bert() -> Any:
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=4, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=32, num_labels=2)
    return BertForSequenceClassification(config)


def _token_batches() -> Any:
    import torch

    generator = torch.Generator().manual_seed(0)
    for _ in itertools.count():
        ids = torch.randint(0, 100, (8, 12), generator=generator)
        yield {"inputs": {"input_ids": ids, "attention_mask": torch.ones_like(ids),
                          "token_type_ids": torch.zeros_like(ids)}, "targets": ids[:, 0] % 2}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_baseline_runs_on_a_tiny_bert(name: str) -> None:
    import torch

    queue = _token_batches()
    calibration = list(itertools.islice(queue, 4))
    model = _tiny_bert()
    point = {**_first_point(name, **SHORT), "min_elements": 0}  # low_rank: the tiny layers are all under 16,384
    compressed = _module(name).compress(model=model, workload=None, calibration_batches=calibration,
                                        train_queue=queue, hyperparameters=as_hyperparameters(point),
                                        rng=np.array([SEED, 1], dtype=np.uint32))
    compressed.eval()
    with torch.no_grad():
        logits = compressed(**calibration[0]["inputs"]).logits
    assert logits.shape == (8, 2) and bool(torch.isfinite(logits).all())
    buffer = io.BytesIO()
    torch.save(compressed, buffer)
    buffer.seek(0)
    with torch.no_grad():
        assert torch.equal(torch.load(buffer, weights_only=False).eval()(**calibration[0]["inputs"]).logits, logits)


def test_layer_drop_keeps_every_other_layer_of_a_bert_encoder() -> None:
    import torch

    queue = _token_batches()
    model = _tiny_bert()
    original = [layer.attention.self.query.weight.detach().clone() for layer in model.bert.encoder.layer]
    point = {**_first_point("layer_drop_distill"), "distill_steps": 0}
    compressed = _module("layer_drop_distill").compress(
        model=model, workload=None, calibration_batches=list(itertools.islice(queue, 2)), train_queue=queue,
        hyperparameters=as_hyperparameters(point), rng=np.array([SEED, 1], dtype=np.uint32))
    kept = compressed.bert.encoder.layer
    assert len(kept) == compressed.config.num_hidden_layers == 2
    assert all(torch.equal(layer.attention.self.query.weight, original[i]) for layer, i in zip(kept, (1, 3)))


# --- structured_prune: removed channels, neurons and heads. ---------------------------------------------------------


def test_structured_prune_removes_channels_and_neurons_but_no_class(fashion: Any) -> None:
    import torch

    dense, compressed = _compress("structured_prune", fashion, **SHORT)
    point = _first_point("structured_prune")
    c1, c2, hidden = (max(1, round(point["keep"] * 16)), max(1, round(point["keep"] * 32)),
                      max(1, round(point["keep_linear"] * 128)))
    shapes = {name: tuple(w.shape) for name, w in _weights_of(compressed, (torch.nn.Linear, torch.nn.Conv2d)).items()}
    assert shapes == {"features.0": (c1, 1, 3, 3), "features.3": (c2, c1, 3, 3), "body.1": (hidden, c2 * 7 * 7),
                      "body.3": (hidden, hidden), "head": (10, hidden)}
    assert (compressed.features[3].in_channels, compressed.body[1].in_features) == (c1, c2 * 49)
    assert compression.tensor_facts(compressed).elements < 0.4 * compression.tensor_facts(dense).elements
    assert _deflated(compressed) < 0.4 * _deflated(dense)
    x = fashion.calibration_batches(SEED)[0]["inputs"][:4]
    with torch.no_grad():
        assert compressed.eval()(x).shape == (4, 10)


def test_structured_prune_at_keep_one_reproduces_the_dense_model(fashion: Any) -> None:
    import torch

    dense, compressed = _compress("structured_prune", fashion, keep=1.0, keep_linear=1.0, recovery_steps=0)
    assert compression.tensor_facts(compressed).elements == compression.tensor_facts(dense).elements
    x = fashion.calibration_batches(SEED)[0]["inputs"]
    with torch.no_grad():
        assert torch.equal(compressed.eval()(x), dense(x))


def test_structured_prune_without_recovery_equals_the_dense_model_with_the_units_zeroed(fashion: Any) -> None:
    """The slicing is right (the flattened features of a removed channel included): before recovery, the pruned
    model computes what the dense model computes with the removed filters and neurons set to zero."""
    import torch

    dense, compressed = _compress("structured_prune", fashion, recovery_steps=0)
    with torch.no_grad():
        for name in ("features.0", "features.3", "body.1", "body.3"):
            full, kept = dense.get_submodule(name), compressed.get_submodule(name)
            rows = [int((full.bias == b).nonzero()[0]) for b in kept.bias]  # the copied biases name the kept units
            assert rows == sorted(rows) and len(rows) < len(full.bias)
            removed = [i for i in range(len(full.bias)) if i not in rows]
            full.weight[removed] = 0.0
            full.bias[removed] = 0.0
        x = fashion.calibration_batches(SEED)[0]["inputs"]
        assert torch.allclose(compressed.eval()(x), dense(x), atol=1e-5)


def _small_bert() -> Any:
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=100, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=128, max_position_embeddings=32, num_labels=2)
    return BertForSequenceClassification(config)


def _structured_prune_bert(**overrides: Any) -> tuple[Any, Any, list[Any]]:
    """(dense BERT, pruned BERT, calibration batches)."""
    queue = _token_batches()
    calibration = list(itertools.islice(queue, 4))
    dense, model = _small_bert().eval(), _small_bert()
    point = {**_first_point("structured_prune"), **overrides}
    compressed = _module("structured_prune").compress(
        model=model, workload=None, calibration_batches=calibration, train_queue=queue,
        hyperparameters=as_hyperparameters(point), rng=np.array([SEED, 1], dtype=np.uint32))
    return dense, compressed.eval(), calibration


def test_structured_prune_removes_heads_and_ffn_neurons_of_a_bert() -> None:
    import torch

    dense, compressed, calibration = _structured_prune_bert(keep_heads=0.5, keep_ffn=0.25, recovery_steps=5)
    for layer in compressed.bert.encoder.layer:
        attention = layer.attention.self
        assert (attention.num_attention_heads, attention.all_head_size, attention.attention_head_size) == (2, 32, 16)
        assert all(p.weight.shape == (32, 64) for p in (attention.query, attention.key, attention.value))
        assert layer.attention.output.dense.weight.shape == (64, 32)
        assert layer.intermediate.dense.weight.shape == (32, 64) and layer.output.dense.weight.shape == (64, 32)
    assert sum(p.numel() for p in compressed.parameters()) < sum(p.numel() for p in dense.parameters())
    with torch.no_grad():
        logits = compressed(**calibration[0]["inputs"]).logits
        mask = calibration[0]["inputs"]["attention_mask"].clone()
        mask[:, 6:] = 0  # padding: the pruned attention still masks
        assert bool(torch.isfinite(compressed(**{**calibration[0]["inputs"], "attention_mask": mask}).logits).all())
    assert logits.shape == (8, 2) and bool(torch.isfinite(logits).all())


def test_structured_prune_of_a_bert_at_keep_one_reproduces_the_dense_model() -> None:
    import torch

    dense, compressed, calibration = _structured_prune_bert(keep_heads=1.0, keep_ffn=1.0, recovery_steps=0)
    assert compressed.bert.encoder.layer[0].attention.self.num_attention_heads == 4
    with torch.no_grad():
        for batch in calibration:
            assert torch.equal(compressed(**batch["inputs"]).logits, dense(**batch["inputs"]).logits)


def test_structured_prune_ranks_heads_by_their_effect_on_the_loss() -> None:
    """A head that the classifier cannot see (its value projection zeroed) scores 0 and is the first removed."""
    import torch

    module = _module("structured_prune")
    model = _small_bert().eval()
    with torch.no_grad():
        for layer in model.bert.encoder.layer:
            layer.attention.self.value.weight[16:32] = 0.0  # head 1 outputs 0 whatever it attends to
            layer.attention.self.value.bias[16:32] = 0.0
    calibration = list(itertools.islice(_token_batches(), 2))
    groups = module.removable_groups(model, calibration[0]["inputs"])
    assert [g.kind for g in groups] == ["head", "ffn", "head", "ffn"]
    scores = module.taylor_scores(model, groups, calibration)
    for group, score in zip(groups, scores):
        if group.kind == "head":
            assert score[1] == 0.0 and bool((score[[0, 2, 3]] > 0).all())
    module.prune(model, calibration, [3, 128, 3, 128], "taylor")
    for layer in model.bert.encoder.layer:
        value = layer.attention.self.value.weight.reshape(3, 16, 64)
        assert bool((value != 0).any(-1).any(-1).all()), "the silent head is the one removed"
