"""The AlgoPerf workload attributes both frameworks' workload objects share: what a submission reads of the spec, the
hardware class, the training data's size and the parameters' structure (:class:`SpecAttributes`).

:class:`workloads.common.pytorch.TorchWorkload` and :class:`workloads.common.jax.JaxWorkload` derive from it; each
sets ``spec``, ``hardware_class``, ``_train_y`` (the training labels), ``_held_out_sizes`` (the validation and test
splits' sizes: the data itself stays with the evaluator) and, once ``init_model_fn`` has run, ``_param_shapes`` and
``_param_types`` (a dict by name in PyTorch, a pytree in JAX).
"""

from __future__ import annotations

from typing import Any

from workloads.spec import WorkloadSpec


class SpecAttributes:
    """AlgoPerf's read-only workload attributes, from the spec and the hardware class."""

    spec: WorkloadSpec
    hardware_class: str
    _train_y: Any
    _held_out_sizes: dict[str, int]
    _param_shapes: Any = None
    _param_types: Any = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def step_hint(self) -> int:
        return self.spec.step_hint

    @property
    def target_metric_name(self) -> str:
        return self.spec.metric

    @property
    def validation_target_value(self) -> float:
        return self.spec.targets_for(self.hardware_class).validation

    @property
    def test_target_value(self) -> float:
        return self.spec.targets_for(self.hardware_class).test

    @property
    def max_allowed_runtime_sec(self) -> float:
        return self.spec.budget_for(self.hardware_class)

    @property
    def eval_period_time_sec(self) -> float:
        return self.spec.eval_period_s

    @property
    def num_train_examples(self) -> int:
        return len(self._train_y)

    @property
    def num_validation_examples(self) -> int:
        return self._held_out_sizes["validation"]

    @property
    def num_test_examples(self) -> int:
        return self._held_out_sizes["test"]

    @property
    def param_shapes(self) -> Any:
        """The parameters' shapes (by name in PyTorch; a pytree of ``spec.ShapeTuple`` leaves in JAX), known after
        ``init_model_fn``."""
        if self._param_shapes is None:
            raise RuntimeError("param_shapes is known once the model is initialised (init_model_fn)")
        return self._param_shapes

    @property
    def model_params_types(self) -> Any:
        """A :class:`ParameterType` per parameter (by name in PyTorch; a pytree in JAX), known after
        ``init_model_fn``."""
        if self._param_types is None:
            raise RuntimeError("model_params_types is known once the model is initialised (init_model_fn)")
        return self._param_types

    def has_reached_validation_target(self, eval_result: dict[str, float]) -> bool:
        """Whether ``eval_result`` (an entry of ``eval_results``, or AlgoPerf's flat dict) meets the target."""
        return self.spec.meets(eval_result[f"validation/{self.spec.metric}"], self.validation_target_value)

    def has_reached_test_target(self, eval_result: dict[str, float]) -> bool:
        """Whether ``eval_result``'s ``test/<metric>`` meets the test target (submissions never see test results)."""
        return self.spec.meets(eval_result[f"test/{self.spec.metric}"], self.test_target_value)
