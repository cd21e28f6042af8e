"""AlgoPerf's public submission API as ``harness.algoperf`` offers it, and the workload attributes submissions read.

The names below are the ones PyTorch submissions in mlcommons/algorithmic-efficiency and
mlcommons/submissions_algorithms use (surveyed with grep; the README lists what is left out and why).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from harness.algoperf import param_utils, pytorch_utils, spec
from harness.tracks.training import ForwardPassMode, TrainingComplete
from workloads import get_spec
from workloads.common.pytorch import SplitMetrics, TorchWorkload
from workloads.digits.pytorch.models import build as build_digits
from workloads.fashion_mnist.pytorch.models import CNN

SPEC_NAMES_SUBMISSIONS_USE = [
    "Hyperparameters", "ParameterContainer", "Workload", "RandomState", "OptimizerState", "ModelAuxiliaryState",
    "Tensor", "UpdateReturn", "ParameterTypeTree", "LossType", "ForwardPassMode", "TrainingCompleteError",
    # the rest of AlgoPerf's spec that is not a stub function:
    "ParameterType", "ShapeTuple", "Shape", "ParameterShapeTree", "ParameterKey", "Timing", "Steps",
    "ModelInitState", "InitOptimizerFn", "UpdateParamsFn", "PrepareForEvalFn", "DataSelectionFn",
]


@pytest.mark.parametrize("name", SPEC_NAMES_SUBMISSIONS_USE)
def test_spec_offers_every_name_submissions_use(name: str) -> None:
    assert hasattr(spec, name)
    assert name in spec.__all__


def test_training_complete_error_is_the_contracts_exception() -> None:
    assert spec.TrainingCompleteError is spec.TrainingComplete is TrainingComplete
    with pytest.raises(spec.TrainingComplete):
        raise spec.TrainingCompleteError("done")


def test_parameter_types_match_algoperfs_numbering() -> None:
    assert spec.ParameterType.EMBEDDING.value == 7 and spec.ParameterType.ATTENTION_BIAS.value == 14


def test_pytorch_setup_outside_a_trial_is_single_process() -> None:
    use_ddp, rank, device, n_gpus = pytorch_utils.pytorch_setup()
    assert (use_ddp, rank) == (False, 0)
    assert device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert n_gpus == torch.cuda.device_count()
    pytorch_utils.pytorch_init(use_ddp, rank, None)  # the worker has done the set-up: nothing to do
    assert pytorch_utils.sync_ddp_time(1.5, device) == 1.5


def test_update_batch_norm_fn_freezes_and_restores_momentum() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    model.apply(lambda m: pytorch_utils.update_batch_norm_fn(m, update_batch_norm=False))
    assert model[1].momentum == 0.0
    model.apply(lambda m: pytorch_utils.update_batch_norm_fn(m, update_batch_norm=True))
    assert model[1].momentum == 0.1


def test_sequential_with_dropout_passes_the_rate_to_dropout_layers() -> None:
    layers = pytorch_utils.SequentialWithDropout(nn.Identity(), pytorch_utils.CustomDropout())
    x = torch.ones(1000)
    assert torch.equal(layers.eval()(x, 0.5), x)
    dropped = layers.train()(x, 0.5)
    assert 300 < int((dropped == 0).sum()) < 700


def test_param_utils_shapes_and_types() -> None:
    model = CNN()
    shapes = param_utils.pytorch_param_shapes(model)
    assert shapes["head.weight"] == spec.ShapeTuple((10, 64))
    types = param_utils.pytorch_param_types(shapes)
    assert types["head.bias"] is spec.ParameterType.BIAS and types["body.1.weight"] is spec.ParameterType.WEIGHT


# --- The workload object. ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    return build_digits(get_spec("digits_mlp"), "cpu-2core", torch.device("cpu"))


def test_workload_attributes_submissions_read(digits) -> None:
    workload, _ = digits
    assert workload.target_metric_name == "accuracy"
    assert workload.step_hint > 0 and workload.max_allowed_runtime_sec > 0 and workload.eval_period_time_sec > 0
    assert (workload.num_train_examples, workload.num_validation_examples, workload.num_test_examples) == (
        838, 600, 359)
    assert workload.train_stddev > 0 and isinstance(workload.train_mean, float)
    target = workload.validation_target_value
    assert workload.has_reached_validation_target({"validation/accuracy": target})
    assert not workload.has_reached_validation_target({"validation/accuracy": target - 0.01})
    probabilities = workload.output_activation_fn(torch.zeros(2, 10), "pytorch")
    assert torch.allclose(probabilities.sum(dim=-1), torch.ones(2))


def test_evaluation_results_read_the_algoperf_way(digits) -> None:
    workload, evaluator = digits
    model, _ = workload.init_model_fn(np.array([0, 0], dtype=np.uint32))
    metrics = evaluator.evaluate(model, None, "validation")
    assert isinstance(metrics, SplitMetrics)
    assert metrics["validation/accuracy"] == metrics["accuracy"]
    assert set(metrics) == {"accuracy", "loss"}  # stored records keep Podium's keys
    assert workload.has_reached_validation_target(metrics) == (metrics["accuracy"] >= workload.validation_target_value)


def forward(workload, model, batch, **kwargs) -> torch.Tensor:
    torch.manual_seed(0)
    return workload.model_fn(model, batch, None, ForwardPassMode.TRAIN, None, True, **kwargs)[0]


def test_dropout_applies_only_when_asked_and_never_in_evaluation(digits) -> None:
    workload, _ = digits
    batch = next(workload.input_queue(32, seed=0))
    rng = np.array([3, 0], dtype=np.uint32)
    plain, _ = workload.init_model_fn(rng)
    no_dropout = plain.head(plain.body(batch["inputs"]))  # the network without any dropout site
    assert torch.equal(forward(workload, plain, batch), no_dropout)  # default: unchanged, bit for bit
    assert torch.equal(forward(workload, plain, batch, dropout_rate=0.0), no_dropout)
    assert not torch.allclose(forward(workload, plain, batch, dropout_rate=0.5), no_dropout)  # AlgoPerf today
    dropped, _ = workload.init_model_fn(rng, dropout_rate=0.5, aux_dropout_rate=0.2)  # AlgoPerf v0.5
    assert (dropped.dropout_rate, dropped.aux_dropout_rate) == (0.5, 0.2)
    assert not torch.allclose(forward(workload, dropped, batch), no_dropout)
    evaluated = workload.model_fn(dropped, batch, None, ForwardPassMode.EVAL, None, False)[0]
    assert torch.equal(evaluated, no_dropout)


def test_cnn_dropout_sites() -> None:
    torch.manual_seed(0)
    model = CNN().train()
    x = torch.randn(4, 1, 28, 28)
    reference = model(x)
    model.aux_dropout_rate = 0.3
    assert not torch.allclose(model(x), reference)
    model.aux_dropout_rate = 0.0
    assert not torch.allclose(model(x, dropout_rate=0.5), reference)
    assert torch.equal(model.eval()(x, dropout_rate=0.5), model(x))


@pytest.mark.parametrize("rate", ["dropout_rate", "aux_dropout_rate"])
def test_a_model_without_dropout_sites_refuses_a_rate_rather_than_ignore_it(rate: str) -> None:
    workload = TorchWorkload(get_spec("digits_mlp"), "cpu-2core", torch.zeros(4, 64), torch.zeros(4).long(),
                             model_factory=lambda: nn.Linear(64, 10), device=torch.device("cpu"))
    workload.init_model_fn(np.zeros(2, dtype=np.uint32), **{rate: 0.0})  # a rate of 0 asks for nothing
    with pytest.raises(ValueError, match="has no dropout"):
        workload.init_model_fn(np.zeros(2, dtype=np.uint32), **{rate: 0.1})
