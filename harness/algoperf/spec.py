"""AlgoPerf's ``spec`` module names, re-exported from Podium's training contract (the single source of truth)."""

from harness.tracks.training import (  # noqa: F401  (re-exports)
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
    UpdateReturn,
    Workload,
)

ParameterShapeTree = dict
ParameterKey = str
Params = ParameterContainer
Steps = int
Seconds = float
LossFnType = object
ModelInitState = tuple
EvalMetrics = dict
