"""The workload's loss_fn: the lazy per-example entry behaves as AlgoPerf's plain dict, and the gradient through
``summed`` is bit for bit the one through ``per_example.sum()``."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from workloads.common.pytorch import LossOutput
from workloads import get_spec


def _workload():
    spec = get_spec("digits_mlp")
    from workloads.digits.pytorch.models import build

    return build(spec, "cpu-2core", torch.device("cpu"), **spec.builder_kwargs)[0]


def test_per_example_is_there_for_every_way_of_reading_a_dict() -> None:
    workload = _workload()
    logits, labels = torch.randn(8, 10), torch.randint(0, 10, (8,))
    expected = F.cross_entropy(logits, labels, reduction="none")
    for read in (lambda d: d["per_example"], lambda d: d.get("per_example"), lambda d: dict(d)["per_example"],
                 lambda d: {**d}["per_example"], lambda d: dict(d.items())["per_example"],
                 lambda d: list(d.values())[list(d.keys()).index("per_example")], lambda d: d.copy()["per_example"]):
        out = workload.loss_fn(labels, logits)
        assert isinstance(out, LossOutput) and "per_example" in out and len(out) == 3
        assert torch.equal(read(out), expected)
    out = workload.loss_fn(labels, logits)
    assert set(out) == {"summed", "n_valid_examples", "per_example"} and "nope" not in out
    assert out.get("nope", 7) == 7
    assert abs(float(out["summed"]) - float(expected.sum())) < 1e-5


def test_the_gradient_through_summed_is_unchanged() -> None:
    workload = _workload()
    torch.manual_seed(0)
    for _ in range(20):
        x = torch.randn(64, 10, requires_grad=True)
        y = torch.randint(0, 10, (64,))
        new, = torch.autograd.grad(workload.loss_fn(y, x)["summed"] / 64, x)
        old, = torch.autograd.grad(F.cross_entropy(x, y, reduction="none").sum() / 64, x)
        assert torch.equal(new, old)


def test_a_mask_and_label_smoothing_still_apply() -> None:
    workload = _workload()
    logits, labels = torch.randn(6, 10), torch.randint(0, 10, (6,))
    mask = torch.tensor([1.0, 1.0, 0.0, 1.0, 0.0, 1.0])
    out = workload.loss_fn(labels, logits, mask_batch=mask, label_smoothing=0.1)
    per = F.cross_entropy(logits, labels, reduction="none", label_smoothing=0.1) * mask
    assert torch.equal(out["per_example"], per) and float(out["n_valid_examples"]) == 4.0
    smooth = workload.loss_fn(labels, logits, label_smoothing=0.1)
    assert torch.allclose(smooth["summed"], F.cross_entropy(logits, labels, reduction="none",
                                                            label_smoothing=0.1).sum())
