"""PyTorch glue for classification workloads: the object a submission receives, and the harness-side evaluator.

:class:`TorchWorkload` offers AlgoPerf's workload interface as submissions use it (``model_fn``, ``loss_fn``,
``step_hint``, ``param_shapes``, ``model_params_types``, ``metrics_logger``, targets, split sizes...; the README
lists what is left out and why). It holds the training data only. Validation and test data live in
:class:`Evaluator`, which the trial worker keeps to itself.

Dropout belongs to the model (:class:`DropoutModel`): ``dropout_rate`` and ``aux_dropout_rate`` are set by
``init_model_fn`` (AlgoPerf v0.5 passed them there), and ``model_fn(dropout_rate=...)`` overrides the first for one
call (AlgoPerf today). At rate 0 a dropout site does nothing at all, so runs without dropout are unchanged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from harness.tracks.training import ForwardPassMode, LossType, ParameterType
from workloads.common.data import Splits
from workloads.common.interface import SpecAttributes
from workloads.spec import WorkloadSpec


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """``F.dropout``, skipped when it would be the identity (so a rate of 0 draws no random numbers)."""
    return F.dropout(x, p, training=True) if training and p > 0 else x


class DropoutModel(nn.Module):
    """A model with dropout sites: ``dropout_rate`` (AlgoPerf's main rate) and ``aux_dropout_rate`` (its second
    rate, used by AlgoPerf's speech models for input dropout and applied the same way here). Both start at 0;
    each model documents where its sites are and accepts ``forward(x, dropout_rate=None)``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.dropout_rate = 0.0
        self.aux_dropout_rate = 0.0

    def rate(self, dropout_rate: float | None) -> float:
        """The main rate for this call: the one given, else the model's own."""
        return self.dropout_rate if dropout_rate is None else float(dropout_rate)


class SplitMetrics(dict):
    """One split's metrics (``{"accuracy": ..., "loss": ...}``), also readable under AlgoPerf's keys
    (``"validation/accuracy"``), so that submissions that read ``eval_results`` the AlgoPerf way work unchanged.

    >>> m = SplitMetrics("validation", {"accuracy": 0.9})
    >>> m["validation/accuracy"], "validation/accuracy" in m, m.get("validation/loss"), dict(m)
    (0.9, True, None, {'accuracy': 0.9})
    """

    def __init__(self, split: str, values: dict[str, float]) -> None:
        super().__init__(values)
        self.split = split

    def _plain(self, key: Any) -> Any:
        prefix = f"{self.split}/"
        return key[len(prefix):] if isinstance(key, str) and key.startswith(prefix) else None

    def __missing__(self, key: Any) -> float:
        plain = self._plain(key)
        if plain is not None and dict.__contains__(self, plain):
            return self[plain]
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or dict.__contains__(self, self._plain(key))

    def get(self, key: Any, default: Any = None) -> Any:
        return self[key] if key in self else default


class MetricsLogger:
    """Collects scalars a submission logs (``append_scalar_metrics``); the worker stores them with each evaluation."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, dict[str, float]]] = []

    def append_scalar_metrics(self, metrics: dict[str, float], global_step: int, **_: Any) -> None:
        self.rows.append((int(global_step), {k: float(v) for k, v in metrics.items()}))

    def drain(self) -> list[tuple[int, dict[str, float]]]:
        rows, self.rows = self.rows, []
        return rows


def parameter_type(name: str, param: torch.Tensor, module: nn.Module) -> ParameterType:
    """Map a parameter to AlgoPerf's ParameterType from the module that owns it."""
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return ParameterType.BATCH_NORM_SCALE if name.endswith("weight") else ParameterType.BATCH_NORM_BIAS
    if isinstance(module, nn.LayerNorm):
        return ParameterType.LAYER_NORM_SCALE if name.endswith("weight") else ParameterType.LAYER_NORM_BIAS
    if name.endswith("bias"):
        return ParameterType.BIAS
    return ParameterType.CONV_WEIGHT if isinstance(module, nn.Conv2d) else ParameterType.WEIGHT


@contextlib.contextmanager
def frozen_batch_norm_stats(model: nn.Module) -> Iterator[None]:
    """Normalize with batch statistics but leave running statistics untouched (AlgoPerf's update_batch_norm=False)."""
    saved = []
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            saved.append((module, module.momentum))
            module.momentum = 0.0
    try:
        yield
    finally:
        for module, momentum in saved:
            module.momentum = momentum


class LossOutput(dict):
    """AlgoPerf's loss dict whose ``per_example`` entry is computed on first use.

    It behaves as the plain dict ``{"summed", "n_valid_examples", "per_example"}`` would: indexing, ``get``, ``in``,
    iteration, ``keys``/``items``/``values``, ``len``, copies and ``repr`` all see ``per_example`` (computing it).

    Example:
        >>> out = LossOutput(1.0, 2, lambda: [0.25, 0.75])
        >>> dict.__contains__(out, "per_example"), "per_example" in out, len(out)
        (False, True, 3)
        >>> out["per_example"], sorted(out)
        ([0.25, 0.75], ['n_valid_examples', 'per_example', 'summed'])
    """

    KEY = "per_example"

    def __init__(self, summed: Any, n_valid: Any, per_example: Callable[[], Any]) -> None:
        super().__init__(summed=summed, n_valid_examples=n_valid)
        self._per_example = per_example

    def _full(self) -> LossOutput:
        if not dict.__contains__(self, self.KEY):
            dict.__setitem__(self, self.KEY, self._per_example())
        return self

    def __missing__(self, key: str) -> Any:
        if key == self.KEY:
            return dict.__getitem__(self._full(), key)
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return key == self.KEY or dict.__contains__(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default

    def __iter__(self) -> Iterator[str]:
        return dict.__iter__(self._full())

    def __len__(self) -> int:
        return dict.__len__(self._full())

    def keys(self):  # noqa: ANN201 - dict's own views
        return dict.keys(self._full())

    def values(self):  # noqa: ANN201
        return dict.values(self._full())

    def items(self):  # noqa: ANN201
        return dict.items(self._full())

    def copy(self) -> dict[str, Any]:
        return dict(self.items())

    def __repr__(self) -> str:
        return dict.__repr__(self._full())

    def __eq__(self, other: object) -> bool:
        return dict.__eq__(self._full(), other)

    __hash__ = None  # type: ignore[assignment]


class TorchWorkload(SpecAttributes):
    """The workload as a submission sees it. Only training data is reachable from here."""

    loss_type = LossType.SOFTMAX_CROSS_ENTROPY

    def __init__(self, spec: WorkloadSpec, hardware_class: str, train_x: torch.Tensor, train_y: torch.Tensor,
                 model_factory: Callable[[], nn.Module], device: torch.device,
                 held_out_sizes: dict[str, int] | None = None, eval_batch_size: int = 512) -> None:
        self.spec = spec
        self._held_out_sizes = dict(held_out_sizes or {})
        self.eval_batch_size = eval_batch_size
        self.hardware_class = hardware_class
        self._train_x, self._train_y = train_x.to(device), train_y.to(device)
        self._model_factory = model_factory
        self.device = device
        self.metrics_logger = MetricsLogger()
        self._param_shapes: dict[str, tuple[int, ...]] | None = None
        self._param_types: dict[str, ParameterType] | None = None
        self._counts: dict[tuple, torch.Tensor] = {}

    # ---- AlgoPerf attributes (the rest: SpecAttributes) -------------------------------------------------------
    def is_output_params(self, param_key: str) -> bool:
        return param_key.startswith("head.")

    @property
    def train_mean(self) -> float:
        """Mean of the training inputs, as the submission receives them."""
        return float(self._train_x.mean())

    @property
    def train_stddev(self) -> float:
        """Standard deviation of the training inputs, as the submission receives them."""
        return float(self._train_x.std())

    def output_activation_fn(self, logits_batch: torch.Tensor, framework: str = "pytorch") -> torch.Tensor:
        """Probabilities from logits (softmax: every Podium workload is a classification)."""
        if framework != "pytorch":
            raise ValueError(f"Podium's workloads are PyTorch only; got framework={framework!r}")
        return F.softmax(logits_batch, dim=-1)

    # ---- model, loss --------------------------------------------------------------------------------------------
    def init_model_fn(self, rng: np.ndarray, dropout_rate: float | None = None,
                      aux_dropout_rate: float | None = None) -> tuple[nn.Module, None]:
        """Build the model with weights drawn from ``rng`` (two uint32 words). Model state is None (BN stats live
        in the module, as in AlgoPerf's PyTorch workloads). The dropout rates (None: 0) are the model's from now
        on; a model without dropout sites refuses a non-zero rate rather than ignore it."""
        torch.manual_seed(int(np.asarray(rng, dtype=np.uint64)[0]))
        model = self._model_factory().to(self.device)
        rates = {"dropout_rate": dropout_rate or 0.0, "aux_dropout_rate": aux_dropout_rate or 0.0}
        if isinstance(model, DropoutModel):
            for name, value in rates.items():
                setattr(model, name, float(value))
        elif any(rates.values()):
            raise ValueError(f"{self.name}'s model has no dropout; got {rates}")
        self.describe_parameters(model)
        return model, None

    def describe_parameters(self, model: nn.Module) -> None:
        """Set ``param_shapes`` and ``model_params_types`` from ``model`` (again after a PEFT method wraps it)."""
        owners = {f"{m_name}.{p_name}" if m_name else p_name: (p_name, module)
                  for m_name, module in model.named_modules() for p_name, _ in module.named_parameters(recurse=False)}
        self._param_shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
        self._param_types = {name: parameter_type(owners[name][0], p, owners[name][1])
                             for name, p in model.named_parameters()}

    def model_fn(self, params: nn.Module, augmented_and_preprocessed_input_batch: dict[str, torch.Tensor],
                 model_state: Any, mode: ForwardPassMode, rng: Any, update_batch_norm: bool,
                 dropout_rate: float | None = None) -> tuple[torch.Tensor, Any]:
        """Forward pass. ``dropout_rate`` (AlgoPerf's) overrides the model's main dropout rate for this call."""
        del rng
        model = params
        train = mode == ForwardPassMode.TRAIN
        if model.training != train:  # Module.train() walks every submodule: skip it when nothing changes
            model.train(train)
        inputs = augmented_and_preprocessed_input_batch["inputs"]
        if update_batch_norm or not train:
            if torch.is_grad_enabled() == train:  # the usual case: no context to enter (a few us a step, cold)
                return self._forward(model, inputs, dropout_rate), model_state
            with torch.set_grad_enabled(train):
                return self._forward(model, inputs, dropout_rate), model_state
        with frozen_batch_norm_stats(model), torch.set_grad_enabled(train):
            return self._forward(model, inputs, dropout_rate), model_state

    @staticmethod
    def _forward(model: nn.Module, inputs: torch.Tensor, dropout_rate: float | None) -> torch.Tensor:
        return model(inputs) if dropout_rate is None else model(inputs, dropout_rate=dropout_rate)  # (B, C)

    def loss_fn(self, label_batch: torch.Tensor, logits_batch: torch.Tensor, mask_batch: torch.Tensor | None = None,
                label_smoothing: float = 0.0) -> dict[str, torch.Tensor]:
        """Softmax cross-entropy. Returns ``summed``, ``n_valid_examples`` and ``per_example`` losses (AlgoPerf).

        Without a mask, ``summed`` is one fused sum-reduced cross-entropy and ``per_example`` is computed only when
        a submission reads it (:class:`LossOutput`): most read only ``summed``, and the per-example graph cost a
        small model's step about 5%. The gradient through ``summed`` is bit for bit the one through
        ``per_example.sum()``; the loss value may differ in its last bits (summation order).
        """
        if mask_batch is not None:
            per_example = F.cross_entropy(logits_batch, label_batch, reduction="none",
                                          label_smoothing=label_smoothing) * mask_batch
            summed = per_example.sum()
            self.last_summed_loss = summed  # the worker checks it for NaN/inf outside the clock
            return {"summed": summed, "n_valid_examples": mask_batch.sum(), "per_example": per_example}
        summed = F.cross_entropy(logits_batch, label_batch, reduction="sum", label_smoothing=label_smoothing)
        self.last_summed_loss = summed
        return LossOutput(summed, self._count(len(label_batch), summed), lambda: F.cross_entropy(
            logits_batch, label_batch, reduction="none", label_smoothing=label_smoothing))

    def _count(self, n: int, like: torch.Tensor) -> torch.Tensor:
        """``n`` as a 0-d tensor, made once per (n, dtype, device): a fresh tensor every step costs a few percent
        of a small model's step."""
        key = (n, like.dtype, like.device)
        cached = self._counts.get(key)
        if cached is None:
            cached = self._counts[key] = torch.tensor(n, dtype=like.dtype, device=like.device)
        return cached

    # ---- data ---------------------------------------------------------------------------------------------------
    def input_queue(self, batch_size: int, seed: int) -> Iterator[dict[str, torch.Tensor]]:
        """Infinite, shuffled-per-epoch batches (the last partial batch of an epoch is dropped)."""
        if batch_size < 1 or batch_size > self.num_train_examples:
            raise ValueError(f"batch size {batch_size} is outside [1, {self.num_train_examples}] for {self.name}")
        generator = torch.Generator().manual_seed(seed)
        n = self.num_train_examples
        while True:
            order = torch.randperm(n, generator=generator).to(self.device)
            for start in range(0, n - batch_size + 1, batch_size):
                idx = order[start:start + batch_size]
                yield {"inputs": self._train_x[idx], "targets": self._train_y[idx]}


class EvaluationError(RuntimeError):
    """The parameters handed back by a submission cannot be evaluated (wrong type, names or shapes)."""


class Evaluator:
    """Harness-side evaluation on held-out splits. Never handed to a submission.

    Evaluation runs on the evaluator's *own* model instance, built by the workload's factory, into which the
    submission's parameters and buffers are copied. So no submission code can run during the untimed evaluation
    (hooks, overridden ``forward``), and evaluation cannot touch the model being trained.
    """

    #: 512 examples a forward pass: the CNN's activations then stay in cache (one validation pass ~0.24 s against
    #: ~0.29 s with 2048, measured with benchmarks/trial_start.py's evaluation costs); the MLPs do not care.
    def __init__(self, workload: TorchWorkload, splits: dict[str, tuple[torch.Tensor, torch.Tensor]],
                 batch_size: int = 512) -> None:
        self._workload = workload
        self._splits = {k: (x.to(workload.device), y.to(workload.device)) for k, (x, y) in splits.items()}
        self._batch_size = batch_size
        self._model = workload._model_factory().to(workload.device)

    def _load(self, params: Any) -> nn.Module:
        """``params``: the submission's model, or its ``state_dict`` (what the evaluation server receives)."""
        if isinstance(params, nn.Module):
            params = params.state_dict()
        if not isinstance(params, Mapping):
            raise EvaluationError(f"the parameters to evaluate are a {type(params).__name__}, not the workload's "
                                  "torch.nn.Module")
        try:
            self._model.load_state_dict(params, strict=True)
        except RuntimeError as exc:
            raise EvaluationError(f"the submission's parameters do not fit the workload's model: {exc}") from None
        return self._model

    @torch.no_grad()
    def evaluate(self, params: Any, model_state: Any, split: str) -> SplitMetrics:
        """Mean loss and accuracy on ``split`` ("validation" or "test"), also under ``"<split>/<metric>"``."""
        model = self._load(params)
        model.eval()
        x, y = self._splits[split]
        total_loss, correct = 0.0, 0
        for start in range(0, len(y), self._batch_size):
            logits = model(x[start:start + self._batch_size])  # (B, n_classes)
            targets = y[start:start + self._batch_size]
            total_loss += float(F.cross_entropy(logits, targets, reduction="sum"))
            correct += int((logits.argmax(dim=-1) == targets).sum())
        return SplitMetrics(split, {"loss": total_loss / len(y), "accuracy": correct / len(y)})


def build(spec: WorkloadSpec, hardware_class: str, splits: Splits, model_factory: Callable[[], nn.Module],
          device: torch.device, input_shape: tuple[int, ...]) -> tuple[TorchWorkload, Evaluator]:
    """Turn numpy splits into a (workload, evaluator) pair; inputs are reshaped to ``(N, *input_shape)``."""

    def tensors(x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return (torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).reshape(len(y), *input_shape),
                torch.from_numpy(y.astype(np.int64)))

    train = tensors(splits.train_x, splits.train_y)
    sizes = {k: v for k, v in splits.sizes().items() if k != "train"}
    workload = TorchWorkload(spec, hardware_class, *train, model_factory=model_factory, device=device,
                             held_out_sizes=sizes)
    evaluator = Evaluator(workload, {"validation": tensors(splits.validation_x, splits.validation_y),
                                     "test": tensors(splits.test_x, splits.test_y)}, workload.eval_batch_size)
    return workload, evaluator
