"""AlgoPerf's ``spec`` module: every name AlgoPerf submissions use, re-exported from Podium's training contract.

The contract (:mod:`harness.tracks.training`) is the single source of truth; this module only adds AlgoPerf's
spellings. Two kinds of AlgoPerf ``spec`` names are not here, on purpose:

* the stub functions ``spec.init_optimizer_state``, ``spec.update_params``, ``spec.prepare_for_eval``,
  ``spec.data_selection`` and ``spec.get_batch_size``: they declare the signatures a second time (and in AlgoPerf
  have drifted from the ``Callable`` aliases); Podium declares each once, in ``TrainingAlgorithm``;
* ``spec.Workload`` is a name for annotations only: AlgoPerf's abstract base class is replaced by Podium's
  workload object (:class:`workloads.common.pytorch.TorchWorkload`), so ``isinstance(x, spec.Workload)`` is not
  offered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.tracks.training import (
    Batch,
    EvalResults,
    ForwardPassMode,
    Hyperparameters,
    LossType,
    ModelAuxiliaryState,
    OptimizerState,
    ParameterContainer,
    ParameterType,
    ParameterTypeTree,
    RandomState,
    Tensor,
    TrainingComplete,
    TrainingCompleteError,
    UpdateReturn,
    Workload,
)

__all__ = [
    "Batch", "DataSelectionFn", "EvalMetrics", "EvalResults", "ForwardPassMode", "Hyperparameters",
    "InitOptimizerFn", "LossFnType", "LossType", "ModelAuxiliaryState", "ModelInitState", "OptimizerState",
    "ParameterContainer", "ParameterKey", "ParameterShapeTree", "ParameterType", "ParameterTypeTree", "Params",
    "PrepareForEvalFn", "RandomState", "Seconds", "Shape", "ShapeTuple", "Steps", "Tensor", "Timing",
    "TrainingComplete", "TrainingCompleteError", "UpdateParamsFn", "UpdateReturn", "Workload",
]


@dataclass(frozen=True)
class ShapeTuple:
    """A parameter's shape, wrapped so that tree utilities treat it as one leaf (AlgoPerf's ``spec.ShapeTuple``).

    >>> ShapeTuple((3, 4)).shape_tuple
    (3, 4)
    """

    shape_tuple: tuple[int, ...]


Shape = tuple[int, ...] | ShapeTuple
ParameterKey = str
ParameterShapeTree = dict[str, Any]
ModelInitState = tuple[ParameterContainer, ModelAuxiliaryState]
Params = ParameterContainer
Timing = int
Steps = int
Seconds = float
EvalMetrics = dict[str, float]
LossFnType = Callable[..., dict[str, Tensor]]

# AlgoPerf's names for the submission functions' types. The parameters are declared once, in
# harness.tracks.training.TrainingAlgorithm; these aliases give only the return types.
InitOptimizerFn = Callable[..., OptimizerState]
UpdateParamsFn = Callable[..., UpdateReturn]
PrepareForEvalFn = Callable[..., UpdateReturn]
DataSelectionFn = Callable[..., Batch]
