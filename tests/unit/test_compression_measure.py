"""The compression track's measurement (harness/tracks/compression.py): bytes are what is saved, after deflate;
sparsity and bit-widths are read from the tensors; latency is measured interleaved with the dense reference."""

from __future__ import annotations

import copy
import os
import time

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from harness.tracks import compression

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


@pytest.fixture()
def dense() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 10))


def magnitude_pruned(model: nn.Module, amount: float = 0.9) -> nn.Module:
    """Each Linear's smallest-magnitude weights set to zero, stored densely (no reparametrization left)."""
    pruned = copy.deepcopy(model)
    for module in pruned:
        if isinstance(module, nn.Linear):
            prune.l1_unstructured(module, "weight", amount)
            prune.remove(module, "weight")
    return pruned


def quantized(model: nn.Module) -> nn.Module:
    return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), {nn.Linear}, dtype=torch.qint8)


def sizes(model: nn.Module) -> tuple[int, int]:
    raw = compression.artifact(model)
    return len(raw), compression.deflated_bytes(raw)


def test_zeros_stored_densely_shrink_only_as_far_as_deflate_squeezes_them(dense: nn.Module) -> None:
    pruned = magnitude_pruned(dense)
    (dense_raw, dense_deflated), (pruned_raw, pruned_deflated) = sizes(dense), sizes(pruned)
    assert pruned_raw == pytest.approx(dense_raw, rel=1e-3)  # the same dense storage (the pickle's names aside)
    assert pruned_deflated < dense_deflated / 3  # ... until a lossless compressor squeezes the zeros out
    assert dense_deflated > 0.85 * dense_raw  # random float32 weights barely deflate
    facts = compression.tensor_facts(pruned)
    assert facts.sparsity == pytest.approx(0.9, abs=0.01) and facts.bits_per_weight == 32.0


def test_a_pruning_mask_left_in_place_makes_the_model_larger_not_smaller(dense: nn.Module) -> None:
    masked = copy.deepcopy(dense)
    for module in masked:
        if isinstance(module, nn.Linear):
            prune.l1_unstructured(module, "weight", 0.9)  # weight_orig + weight_mask saved; weight is computed
    assert sizes(masked)[1] > sizes(dense)[1]
    assert sizes(masked)[0] > 1.9 * sizes(dense)[0]


@pytest.mark.parametrize(("amount", "low", "high"), [(0.5, 1.4, 1.7), (0.9, 1.1, 1.3)])
def test_a_masked_model_file_holds_more_than_its_state_dict_within_the_check(
        dense: nn.Module, tmp_path, amount: float, low: float, high: float) -> None:
    """The saved file of a model with its pruning masks in place also holds ``weight`` (a plain attribute the
    state_dict leaves out): more than the state_dict's bytes, but well inside the factor 2 the measurement allows."""
    masked = copy.deepcopy(dense)
    for module in masked:
        if isinstance(module, nn.Linear):
            prune.l1_unstructured(module, "weight", amount)
    torch.save(masked, tmp_path / "masked.pt")
    ratio = compression.saved_bytes(tmp_path / "masked.pt") / sizes(masked)[1]
    assert low < ratio < high < 1 / compression.STATE_SHARE
    compression.check_saved_bytes({"bytes": sizes(masked)[1]}, compression.saved_bytes(tmp_path / "masked.pt"))
    with pytest.raises(compression.MeasurementError, match="leaves out more than half"):
        compression.check_saved_bytes({"bytes": sizes(masked)[1] / 3}, compression.saved_bytes(tmp_path / "masked.pt"))


def test_what_a_model_says_about_itself_is_not_read(dense: nn.Module) -> None:
    dense.sparsity, dense.bits_per_weight, dense.nbytes = 0.99, 1, 10  # claims, in attributes and methods' names
    facts = compression.tensor_facts(dense)
    assert facts.sparsity == 0.0 and facts.bits_per_weight == 32.0
    assert sizes(dense)[0] > 500_000


def test_an_int8_model_saves_one_byte_a_weight(dense: nn.Module) -> None:
    q = quantized(dense)
    (dense_raw, _), (q_raw, q_deflated) = sizes(dense), sizes(q)
    assert 0.24 < q_raw / dense_raw < 0.30  # int8 weights, float32 biases and scales, the pickle's framing
    facts = compression.tensor_facts(q)
    assert facts.dtypes["qint8"] == sum(m.weight.numel() for m in dense if isinstance(m, nn.Linear))
    assert 8.0 <= facts.bits_per_weight < 8.2
    assert compression.tensor_facts(quantized(magnitude_pruned(dense))).sparsity == pytest.approx(0.9, abs=0.01)
    assert q_deflated <= q_raw


def test_latency_is_measured_interleaved_in_alternating_order_on_different_inputs(dense: nn.Module) -> None:
    seen: list[tuple[str, int, int]] = []
    q = quantized(dense)  # in eval mode, as quantize_dynamic returns it
    names = {id(dense): "dense", id(q): "int8"}

    def forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        assert not torch.is_grad_enabled() and not model.training
        seen.append((names[id(model)], x.shape[0], int(x[0, 0])))
        return model(x)

    def single(i: int) -> torch.Tensor:
        return torch.full((1, 256), float(i))

    def batch(i: int) -> torch.Tensor:
        return torch.full((compression.THROUGHPUT_BATCH, 256), float(i))

    every, rounds = compression.THROUGHPUT_EVERY, 1 + 2 * compression.THROUGHPUT_EVERY  # one warm-up round
    out = compression.compare_latency({"dense": dense, "int8": q}, single, batch, forward, runs=2 * every, warmup=1,
                                      attempts=2)
    # round i: both models on input i, dense first on even rounds and int8 first on odd ones; two batch-1 attempts,
    # then the batch passes (1 warm-up round + runs / THROUGHPUT_EVERY)
    order = [("dense", "int8"), ("int8", "dense")]
    single_rounds = [(name, 1, i) for i in range(rounds) for name in order[i % 2]]
    batch_rounds = [(name, compression.THROUGHPUT_BATCH, i) for i in range(3) for name in order[i % 2]]
    assert seen == single_rounds + single_rounds + batch_rounds
    for latency in out.values():
        assert 0 < latency.p50_ms <= latency.p90_ms and latency.throughput > 0 and latency.spread >= 1.0
    assert dense.training and not q.training  # each model's mode restored


def test_the_quickest_attempt_is_kept() -> None:
    """A machine that slows the first attempt down: its passes are not the ones reported."""
    calls = iter(range(10**6))

    def forward(model: str, x: int) -> None:
        if next(calls) < 2 * 11:  # the first attempt's rounds: one warm-up, ten timed, two models each
            time.sleep(0.002)

    models = {"a": nn.Identity(), "b": nn.Identity()}
    out = compression.compare_latency(models, lambda i: i, lambda i: i, forward, runs=10, warmup=1, attempts=2)
    assert out["a"].p50_ms < 1.0 and out["b"].p50_ms < 1.0 and out["a"].spread > 2.0


def test_pinning_refuses_cores_it_cannot_have() -> None:
    allowed = sorted(os.sched_getaffinity(0))
    with pytest.raises(ValueError, match="may use cores"):
        compression.pinned(len(allowed) + 1)
    with pytest.raises(ValueError, match="may use cores"):
        compression.pinned(1, cores=[max(allowed) + 1])


@pytest.mark.slow
def test_the_dense_model_measured_twice_in_one_run_agrees(dense: nn.Module) -> None:
    """The same model twice, interleaved: the p50s agree within 10% (the bench reports the noise itself)."""
    inputs = [torch.randn(1, 256) for _ in range(64)]
    batches = [torch.randn(compression.THROUGHPUT_BATCH, 256) for _ in range(64)]
    out = compression.compare_latency({"a": dense, "b": copy.deepcopy(dense)}, lambda i: inputs[i % 64],
                                      lambda i: batches[i % 64], lambda m, x: m(x), runs=200)
    assert out["a"].p50_ms == pytest.approx(out["b"].p50_ms, rel=0.10)
