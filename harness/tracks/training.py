"""The training track's contract: what a submission defines, what it receives, and the rules that affect its score.

A training submission is an *update rule* in the sense of MLCommons AlgoPerf. The names and meaning below are
AlgoPerf's, so an AlgoPerf author ports a PyTorch submission by changing its imports (``podium port-algoperf`` does
it mechanically). Each signature is declared exactly once, in :class:`TrainingAlgorithm`; the harness's checker reads
the parameter lists from it, so the documentation and the validation cannot drift apart.

Rules that affect scoring:

* **The clock.** Submission time is the sum of the time spent inside ``data_selection``, ``update_params`` and
  ``prepare_for_eval`` (any compilation they trigger included), each measured with a device sync. Model and
  optimizer initialisation and evaluation are not counted, but are recorded. The clock belongs to the harness:
  replacing ``time.perf_counter`` or any other function of the ``time`` module does not change it, and the
  supervisor cross-checks the worker's accounting against its own wall clock.
* **Time-to-result** is the submission time at the first evaluation whose validation metric meets the workload's
  validation target. Evaluations happen whenever ``eval_period_s`` of submission time has passed since the last one.
* **Ending early.** A submission that considers itself done raises :class:`TrainingComplete` from ``update_params``
  or ``data_selection``. The harness then evaluates once more; if the validation target is not met the trial is a
  *miss* (it scores infinity). Claiming completion never helps a score.
* **Budget.** A trial ends as *missed* when its submission time exceeds the workload's budget. Submission code that
  keeps running well past the budget (a hang) is killed from outside and the trial is *timed_out*.
* **Failures** (an exception, a non-finite loss, ``sys.exit``, a crash, too much memory or output) make the trial
  *failed* with a recorded reason; they never stop the run.
* ``train_state`` (read-only) is passed to ``update_params`` only when the function declares that parameter.
* **Dropout** is the workload's, tuned by the submission. A point's ``dropout_rate`` and ``aux_dropout_rate`` (see
  :data:`WORKLOAD_HYPERPARAMETERS`) are handed to ``workload.init_model_fn`` (AlgoPerf v0.5), and a
  ``dropout_rate`` given to ``workload.model_fn`` overrides it for that call (AlgoPerf today). Each workload says
  where its dropout sits; without these hyperparameters there is none.

This module imports no framework: tensors and parameters are opaque here.
"""

from __future__ import annotations

import enum
import inspect
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Protocol, runtime_checkable

TRACK = "training"

# --- Type aliases (AlgoPerf's names). Opaque on purpose: the contract is framework-free. -----------------------------
Tensor = Any
Batch = dict[str, Tensor]  # keys: "inputs", "targets", and "weights" when some examples are padding
ParameterContainer = Any  # for PyTorch workloads: the torch.nn.Module itself
ParameterTypeTree = Any  # mapping parameter name -> ParameterType
ModelAuxiliaryState = Any  # e.g. batch-norm statistics; None for PyTorch workloads (they live in the module)
OptimizerState = Any  # whatever init_optimizer_state returns; the harness never looks inside
Hyperparameters = Any  # read as attributes: hyperparameters.learning_rate
RandomState = Any  # a numpy uint32 array of shape (2,), like AlgoPerf's PyTorch PRNG keys
UpdateReturn = tuple[OptimizerState, ParameterContainer, ModelAuxiliaryState]
Workload = Any  # harness.workloads.base.TorchWorkload; see that class for the interface a submission may use
EvalResults = list[tuple[int, dict[str, float]]]  # (global_step, metrics) of the evaluations so far


class ForwardPassMode(enum.Enum):
    TRAIN = 0
    EVAL = 1


class LossType(enum.Enum):
    SOFTMAX_CROSS_ENTROPY = 0
    SIGMOID_CROSS_ENTROPY = 1
    MEAN_SQUARED_ERROR = 2
    CTC_LOSS = 3
    MEAN_ABSOLUTE_ERROR = 4


class ParameterType(enum.Enum):
    WEIGHT = 0
    BIAS = 1
    CONV_WEIGHT = 2
    BATCH_NORM_SCALE = 3
    BATCH_NORM_BIAS = 4
    LAYER_NORM_SCALE = 5
    LAYER_NORM_BIAS = 6
    EMBEDDING = 7
    ATTENTION_Q = 8
    ATTENTION_K = 9
    ATTENTION_V = 10
    ATTENTION_OUT = 11
    ATTENTION_QKV = 12  # fused query/key/value projections
    ATTENTION_KV = 13  # fused key/value projections
    ATTENTION_BIAS = 14


class TrainingComplete(Exception):
    """Raise from ``update_params`` or ``data_selection`` to end training early.

    The harness evaluates once more; a trial that has not met the validation target then is a miss (infinity).
    AlgoPerf calls the same exception ``TrainingCompleteError``; both names are this one class.
    """


TrainingCompleteError = TrainingComplete


@dataclass(frozen=True)
class TrainState:
    """Read-only facts about the running trial, passed to ``update_params`` if it declares ``train_state``.

    Attributes:
        submission_time_s: submission time accumulated before this call.
        global_step: number of completed updates.
        budget_s: the workload's runtime budget for this hardware class (and ruleset).
        eval_period_s: submission time between evaluations.
    """

    submission_time_s: float
    global_step: int
    budget_s: float
    eval_period_s: float

    @property
    def is_time_remaining(self) -> bool:
        return self.submission_time_s < self.budget_s

    # AlgoPerf passes a dict; submissions written for it index train_state['...'] with these keys.
    _ALGOPERF_KEYS = {"accumulated_submission_time": "submission_time_s", "is_time_remaining": "is_time_remaining",
                      "global_step": "global_step", "max_allowed_runtime_sec": "budget_s",
                      "training_complete": None}

    def __getitem__(self, key: str) -> Any:
        if key == "training_complete":
            return False  # the harness stops calling update_params once training is complete
        name = self._ALGOPERF_KEYS.get(key, key)
        try:
            return getattr(self, name)
        except AttributeError:
            raise KeyError(f"train_state has no {key!r}; available: {sorted(self._ALGOPERF_KEYS)}") from None


def as_hyperparameters(values: Mapping[str, Any]) -> Hyperparameters:
    """Wrap a hyperparameter point so that a submission reads ``hyperparameters.learning_rate``.

    A :class:`types.SimpleNamespace`, as in AlgoPerf, so ``hasattr(hyperparameters, "label_smoothing")`` works.

    >>> as_hyperparameters({"learning_rate": 0.1}).learning_rate
    0.1
    """
    return SimpleNamespace(**dict(values))


#: Hyperparameters the workload applies, not the submission: AlgoPerf's runner passes them to ``init_model_fn``.
WORKLOAD_HYPERPARAMETERS = ("dropout_rate", "aux_dropout_rate")


def init_model_kwargs(values: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of ``workload.init_model_fn`` taken from a hyperparameter point.

    >>> init_model_kwargs({"learning_rate": 0.1, "dropout_rate": 0.1})
    {'dropout_rate': 0.1}
    """
    return {name: values[name] for name in WORKLOAD_HYPERPARAMETERS if name in values}


@runtime_checkable
class TrainingAlgorithm(Protocol):
    """The functions a training submission module defines. Signatures are matched by parameter *name*."""

    def get_batch_size(self, workload_name: str) -> int:
        """Global batch size for ``workload_name``; raise ``ValueError`` for a workload the submission does not know."""

    def init_optimizer_state(
        self,
        workload: Workload,
        model_params: ParameterContainer,
        model_state: ModelAuxiliaryState,
        hyperparameters: Hyperparameters,
        rng: RandomState,
    ) -> OptimizerState:
        """Create the optimizer state. Untimed, but recorded (``init_time_s``)."""

    def update_params(
        self,
        workload: Workload,
        current_param_container: ParameterContainer,
        current_params_types: ParameterTypeTree,
        model_state: ModelAuxiliaryState,
        hyperparameters: Hyperparameters,
        batch: Batch,
        loss_type: LossType,
        optimizer_state: OptimizerState,
        eval_results: EvalResults,
        global_step: int,
        rng: RandomState,
        train_state: TrainState | None = None,
    ) -> UpdateReturn:
        """One update. Timed. Returns ``(optimizer_state, params, model_state)``.

        The harness calls it with keyword arguments, so the order of parameters is free (AlgoPerf itself has two
        orders in the wild); ``train_state`` is passed only if it is declared.
        """

    def data_selection(
        self,
        workload: Workload,
        input_queue: Iterator[Batch],
        optimizer_state: OptimizerState,
        current_param_container: ParameterContainer,
        model_state: ModelAuxiliaryState,
        hyperparameters: Hyperparameters,
        global_step: int,
        rng: RandomState,
    ) -> Batch:
        """Choose the next batch, usually ``next(input_queue)``. Timed."""


class OptionalHooks(Protocol):
    """Functions a submission may define; :func:`default_prepare_for_eval` stands in when it does not."""

    def prepare_for_eval(
        self,
        workload: Workload,
        current_param_container: ParameterContainer,
        current_params_types: ParameterTypeTree,
        model_state: ModelAuxiliaryState,
        hyperparameters: Hyperparameters,
        loss_type: LossType,
        optimizer_state: OptimizerState,
        eval_results: EvalResults,
        global_step: int,
        rng: RandomState,
    ) -> UpdateReturn:
        """Runs before every evaluation (e.g. to swap in averaged weights). Timed: it is submission work."""


def default_prepare_for_eval(
    workload: Workload,
    current_param_container: ParameterContainer,
    current_params_types: ParameterTypeTree,
    model_state: ModelAuxiliaryState,
    hyperparameters: Hyperparameters,
    loss_type: LossType,
    optimizer_state: OptimizerState,
    eval_results: EvalResults,
    global_step: int,
    rng: RandomState,
) -> UpdateReturn:
    """What runs when a submission defines no ``prepare_for_eval``: nothing changes."""
    return optimizer_state, current_param_container, model_state


def _parameters(protocol: type, name: str) -> tuple[inspect.Parameter, ...]:
    params = tuple(inspect.signature(getattr(protocol, name)).parameters.values())
    return params[1:]  # drop ``self``


#: function name -> its parameters, as declared above (the checker compares submissions against these).
REQUIRED_FUNCTIONS: dict[str, tuple[inspect.Parameter, ...]] = {
    name: _parameters(TrainingAlgorithm, name)
    for name in ("get_batch_size", "init_optimizer_state", "update_params", "data_selection")
}
OPTIONAL_FUNCTIONS: dict[str, tuple[inspect.Parameter, ...]] = {
    "prepare_for_eval": _parameters(OptionalHooks, "prepare_for_eval"),
}
#: parameters a submission may leave out; the harness then does not pass them.
OMITTABLE_PARAMETERS: frozenset[str] = frozenset({"train_state"})


# --- Which framework a submission is written in. ----------------------------------------------------------------------

#: top-level modules whose import makes a submission a JAX one, and a PyTorch one
JAX_MODULES = frozenset({"jax", "flax", "optax", "jaxlib", "chex"})
TORCH_MODULES = frozenset({"torch"})
FRAMEWORKS = ("pytorch", "jax")


class FrameworkError(ValueError):
    """A submission folder's framework cannot be told (the message says how to declare it)."""


#: CPython 3.11's ast.parse is not safe in two threads at once (its depth count is the interpreter's): target-setting
#: curves and a run's trials tell frameworks from threads, and one cluster run failed with "AST constructor recursion
#: depth mismatch" (python/cpython#106905)
_PARSE_LOCK = threading.Lock()


def framework_of(folder: Any) -> str:
    """``"pytorch"`` or ``"jax"``: what ``folder``'s Python files import (read, not run), unless ``submission.py``
    declares it with a module-level ``FRAMEWORK = "jax"`` (or ``"pytorch"``), which wins. A folder that imports
    both must declare it (:class:`FrameworkError` says so); one that imports neither is PyTorch's, the default.

    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "submission.py").write_text("import optax\\nfrom jax import numpy as jnp\\n")
    >>> framework_of(folder)
    'jax'
    """
    import ast
    from pathlib import Path

    folder = Path(folder)
    found: set[str] = set()
    for path in sorted(folder.rglob("*.py")):
        try:
            with _PARSE_LOCK:
                tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"), filename=str(path))
        except SyntaxError:
            continue  # the checker reports it; the framework may still be told from the other files
        for node in ast.walk(tree):
            if path.name == "submission.py" and path.parent == folder and isinstance(node, ast.Assign) \
                    and any(isinstance(t, ast.Name) and t.id == "FRAMEWORK" for t in node.targets):
                value = node.value.value if isinstance(node.value, ast.Constant) else None
                if value not in FRAMEWORKS:
                    raise FrameworkError(f"{path}: FRAMEWORK = {ast.unparse(node.value)}; expected one of "
                                         f"{', '.join(map(repr, FRAMEWORKS))}")
                return value
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    jax, torch = bool(found & JAX_MODULES), bool(found & TORCH_MODULES)
    if jax and torch:
        raise FrameworkError(f"{folder} imports both JAX and PyTorch, so its framework cannot be told; declare it in "
                             f"submission.py with a line FRAMEWORK = \"jax\" (or \"pytorch\")")
    return "jax" if jax else "pytorch"


def submission_framework(spec: Any, folder: Any) -> str:
    """The framework a trial of ``folder`` on the workload ``spec`` runs in: :func:`framework_of` on the training
    track (PyTorch elsewhere: the PEFT and compression tracks are PyTorch's)."""
    return framework_of(folder) if spec.track == TRACK else "pytorch"
