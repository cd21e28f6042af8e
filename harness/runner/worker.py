"""The trial worker: runs one trial in its own process. The only code in Podium that imports submission code.

Started by the supervisor as ``python -m harness.runner.worker REQUEST.json HEARTBEAT RECORDS [REPLY]``. It
reports every evaluation and the final result as JSON lines on RECORDS: a pipe's file descriptor number (a local
trial), or the path of a records file the supervisor tails (a trial in a container, where no descriptor can cross);
everything the submission prints goes to a log file the supervisor caps. The worker's account is advisory: the
supervisor decides the final status.

With REPLY (a pipe's descriptor or a FIFO: the supervisor's answers), a training- or PEFT-track trial is evaluated
outside this process (:mod:`harness.runner.evaluator`): the worker holds no held-out data (a training workload is
built without it; a PEFT workload, whose reference sample comes from its loaders, drops it right after it is
built), and each evaluation is a request on RECORDS answered on REPLY. A PEFT model goes to the server as an
exported program (:mod:`harness.runner.program`). A compression-track trial asks, after ``compress``, for the
measurement of the model it saved, which the supervisor runs in a sandboxed process of its own. Without REPLY,
evaluation and measurement run here (``PODIUM_EVALUATION=worker``).

The loop (see :func:`train`): select a batch and update (timed) -> check the loss (untimed) -> when
``eval_period_s`` of submission time has passed: ``prepare_for_eval`` (timed) and evaluate (untimed) -> stop at the
first evaluation that meets the validation target, or when the budget is spent -> one test evaluation.
"""

from __future__ import annotations

from harness.runner import clock as _clock  # first: binds the time source before any submission is imported

import importlib
import inspect
import json
import math
import os
import resource
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from harness.runner.messages import EvalRecord, EvalRequest, Heartbeat, LoopStart, Phase, TrialRequest, WorkerResult
from workloads.common.pytorch import EvaluationError, SplitMetrics
from harness.runner import distributed
from harness.runner.evaluator import SUPERVISED_TRACKS
from harness.tracks import compression, peft
from harness.tracks.training import (TRACK as TRAINING_TRACK, TrainingComplete, TrainState, as_hyperparameters,
                                     default_prepare_for_eval, init_model_kwargs)

now = _clock.now


class SubmissionFailure(Exception):
    """Submission code misbehaved; the message is the trial's recorded reason."""


def describe_exception(exc: BaseException, where: str, submission_dir: Path) -> str:
    """One line: what was raised, in which submission function, and the submission file:line it came from."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if str(submission_dir) in f.filename]
    location = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    if isinstance(exc, SyntaxError) and exc.filename:  # compile errors carry their location, not a frame
        location = f" at {Path(exc.filename).name}:{exc.lineno}"
    if isinstance(exc, SystemExit):
        return f"{where} called sys.exit({exc.code!r}){location}"
    message = f": {exc}" if str(exc) else ""
    return f"{where} raised {type(exc).__name__}{message}{location}"


def import_submission(folder: Path) -> ModuleType:
    """Import ``folder/submission.py`` under a private module name, with the folder importable for its helpers."""
    sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location("podium_submission", folder / "submission.py")
    if spec is None or spec.loader is None:
        raise SubmissionFailure(f"cannot import {folder / 'submission.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["podium_submission"] = module
    spec.loader.exec_module(module)
    return module


class PeakMemory:
    """This process's peak resident memory over everything but the harness's evaluations.

    Linux keeps one high-water mark per process (``VmHWM``), and an evaluation in this process (exporting a PEFT
    model and saving its weights; the whole evaluation under ``PODIUM_EVALUATION=worker``) can set it, which would
    charge a method for the harness's memory (the PEFT track reports the peak). So the mark is read before each
    evaluation and reset after it (``/proc/self/clear_refs``, value 5), and the peak is the largest reading. Where the
    reset is refused the peak includes the evaluations.
    """

    def __init__(self) -> None:
        self.highest = 0

    @staticmethod
    def mark() -> int:
        """``VmHWM`` in bytes (``ru_maxrss`` where ``/proc`` has none)."""
        try:
            with open("/proc/self/status") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def pause(self) -> None:
        self.highest = max(self.highest, self.mark())

    def resume(self) -> None:
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
        except OSError:
            pass

    def peak(self) -> int:
        return max(self.highest, self.mark())


@dataclass
class Trial:
    """Mutable state of one running trial (harness-side; the submission's own state is ``optimizer_state``)."""

    request: TrialRequest
    submission: ModuleType
    workload: Any
    evaluator: Any
    clock: _clock.SubmissionClock
    send: Any
    step: int = 0
    evals: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    eval_times: list[float] = field(default_factory=list)  # submission seconds at each evaluation
    eval_time_s: float = 0.0
    last_eval_submission_s: float = 0.0
    loop_start: float = 0.0
    reached_at: float | None = None
    cpu_reached_at: float | None = None  # CPU submission time at that evaluation
    completed_at: int | None = None  # step at which the submission raised TrainingComplete
    validation: dict[str, float] = field(default_factory=dict)
    adapt_s: float | None = None  # submission seconds of the PEFT track's adapt (part of the trial's time)
    first_step_s: float | None = None  # submission seconds of the first update (a JAX one compiles in it)
    cpu_final_s: float | None = None  # the compression track's CPU submission time, read before its measuring child
    memory: PeakMemory = field(default_factory=PeakMemory)

    @property
    def target(self) -> float:
        return self.request.workload.targets_for(self.request.hardware_class).validation


def rng_for(seed: int, step: int) -> Any:
    """The random state handed to submission code at ``step``: two uint32 words (seed, step)."""
    return np.array([seed & 0xFFFFFFFF, step & 0xFFFFFFFF], dtype=np.uint32)


class StepRngs:
    """``rng_for(seed, step)`` for consecutive steps, made a block at a time.

    Between two updates the harness runs on caches the step's kernels have just emptied, where building one small
    array costs ~20 us (a 4 ms step's 0.5%); handing out a row of a block made every 4096 steps costs ~1 us. A row
    is a view: a submission that writes into its rng changes that step's words only.
    """

    BLOCK = 4096

    def __init__(self, seed: int) -> None:
        self._seed, self._first, self._rows = seed, 0, np.empty((0, 2), dtype=np.uint32)

    def __call__(self, step: int) -> Any:
        i = step - self._first
        if not 0 <= i < len(self._rows):
            self._first, i = step, 0
            self._rows = np.empty((self.BLOCK, 2), dtype=np.uint32)
            self._rows[:, 0] = self._seed & 0xFFFFFFFF
            self._rows[:, 1] = np.arange(step, step + self.BLOCK, dtype=np.uint64) & 0xFFFFFFFF
        return self._rows[i]


class RemoteEvaluator:
    """The worker's side of an evaluation in the evaluation server (:mod:`harness.runner.evaluator`): save the
    model's ``state_dict`` in the scratch folder, ask on the records channel, read the answer on the reply channel.
    With an ``example`` input (the PEFT track), the model is first exported as a program for the server
    (:mod:`harness.runner.program`), again only when its signature changes.

    A scored trial's test evaluation comes back withheld (``{}``): its metrics go to the record from the
    supervisor's side only.
    """

    def __init__(self, trial_id: str, send: Any, reply_fd: int, folder: Path, example: Any = None) -> None:
        self.trial_id, self.send, self.reply_fd = trial_id, send, reply_fd
        self.folder, self.path = folder, folder / "evaluate.pt"
        self.example = example
        self._exports = 0
        self._signature: tuple | None = None
        self._program: Path | None = None
        self._buffer = b""

    def evaluate(self, params: Any, model_state: Any, split: str) -> dict[str, float]:
        import torch

        if isinstance(params, Mapping) and self.example is None:  # a JAX trial's, as the PyTorch twin's
            state = dict(params)
        elif isinstance(params, torch.nn.Module):
            if self.example is not None:  # the PEFT track: the weights of the exported program's module
                from harness.runner.program import Logits

                self.export(params)
                params = Logits(params)
            state = params.state_dict()
        else:
            raise EvaluationError(f"the parameters to evaluate are a {type(params).__name__}, not the workload's "
                                  "torch.nn.Module")
        torch.save(state, self.path)
        self.send(EvalRequest(trial_id=self.trial_id, split=split, path=str(self.path),
                              program=None if self._program is None else str(self._program)))
        answer = json.loads(self._line())
        if "error" in answer:
            raise EvaluationError(answer["error"])
        return SplitMetrics(split, answer["metrics"]) if "metrics" in answer else {}

    def measure(self, path: Path) -> dict[str, Any]:
        """The compression track: ask for the measurement of the model saved at ``path``; the answer's ``metrics``
        (validation), ``measurements`` and, in a target-setting run, ``test``."""
        self.send(EvalRequest(trial_id=self.trial_id, split="measure", path=str(path)))
        answer = json.loads(self._line())
        if "error" in answer:
            raise EvaluationError(answer["error"])
        return answer

    def export(self, model: Any) -> None:
        """Export ``model`` for the server unless the last export has its signature (the old program removed).

        Called once before the timed loop, so that the export is not inside the loop's wall time, which the
        supervisor reads as submission time less its own evaluation waits (:meth:`Evaluations.estimate`)."""
        import shutil

        from harness.runner import program

        current = program.signature(model)
        if current != self._signature:
            try:
                exported = program.export(model, self.example)
            except program.ProgramError as exc:
                raise EvaluationError(str(exc)) from None
            if self._program is not None:
                shutil.rmtree(self._program, ignore_errors=True)
            self._exports += 1
            self._program = program.write(exported, self.folder / f"program-{self._exports}")
            self._signature = current

    def _line(self) -> bytes:
        while b"\n" not in self._buffer:
            chunk = os.read(self.reply_fd, 1 << 16)
            if not chunk:
                raise EvaluationError("the supervisor closed the evaluation channel")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line


def load(request: TrialRequest, heartbeat: Heartbeat, send: Any, reply_fd: int | None = None,
         folder: Path | None = None) -> Trial:
    """Set threads and seeds, build the workload, import the submission (phase STARTING). With ``reply_fd``, a
    training or PEFT workload's held-out data is withheld and it is evaluated remotely (see the module docs)."""
    import gc

    import torch

    from workloads.common import data

    torch.set_num_threads(request.threads)
    torch.manual_seed(request.seed)
    distributed.start(request.device)  # before the import: AlgoPerf code reads RANK and the group at import time
    track = request.workload.track
    remote = reply_fd is not None and track in SUPERVISED_TRACKS
    if remote and track != peft.TRACK:
        data.withhold_held_out()
    module_name, function = request.workload.builder.split(":")
    builder = getattr(importlib.import_module(module_name), function)
    workload, evaluator = builder(request.workload, request.hardware_class, torch.device(request.device),
                                  **request.workload.builder_kwargs)
    if request.framework == "jax":  # the twin trains; the PyTorch builder's evaluator scores (workloads.common.jax)
        workload = jax_twin(request)
    if remote:
        example = None
        if track == peft.TRACK:
            from harness.runner.program import ProgramError, example_of

            try:
                example = example_of(workload.reference)
            except ProgramError as exc:
                raise EvaluationError(str(exc)) from None
        evaluator = RemoteEvaluator(request.trial_id, send, reply_fd, folder or Path.cwd(), example)
    if remote and track == peft.TRACK:  # the builder's evaluator, the only holder of the held-out splits, is gone
        data.withhold_held_out()
        gc.collect()
    folder = Path(request.submission_dir).resolve()
    try:
        if request.workload.track == peft.TRACK and (folder / peft.ADAPTER_CONFIG_FILE).is_file():
            submission = peft.config_submission(folder)
        else:
            submission = import_submission(folder)
    except peft.AdapterConfigError as exc:
        raise SubmissionFailure(f"{peft.ADAPTER_CONFIG_FILE}: {exc}") from None
    except BaseException as exc:  # noqa: BLE001 - any failure to import is the submission's
        raise SubmissionFailure(describe_exception(exc, "importing submission.py", folder)
                                + distributed.failure_note(exc)) from None
    if request.workload.track == peft.TRACK:
        if not callable(getattr(submission, "adapt", None)):
            raise SubmissionFailure("a PEFT submission defines adapt(model, workload, hyperparameters, rng); "
                                    "submission.py has no adapt")
        submission = peft.compose(submission, request.hyperparameters)
    if request.workload.track == compression.TRACK and not callable(getattr(submission, "compress", None)):
        raise SubmissionFailure("a compression submission defines compress(model, workload, calibration_batches, "
                                "train_queue, hyperparameters, rng); submission.py has no compress")
    clock = _clock.SubmissionClock(heartbeat, _clock.device_sync(request.device, request.framework))
    return Trial(request, submission, workload, evaluator, clock, send)


def jax_twin(request: TrialRequest) -> Any:
    """The workload's JAX twin (``WorkloadSpec.jax_builder``), with XLA kept to the trial's threads."""
    spec = request.workload
    if not spec.jax_builder:
        raise SubmissionFailure(f"{spec.name} is offered in {', '.join(spec.frameworks)} only; this submission is "
                                "written in JAX")
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen="
                               + ("true" if request.threads > 1 else "false")).strip()
    module_name, function = spec.jax_builder.split(":")
    return getattr(importlib.import_module(module_name), function)(spec, request.hardware_class,
                                                                   **spec.builder_kwargs)


def evaluable(trial: Trial, model: Any, model_state: Any) -> Any:
    """What the evaluator takes: the model itself, or a JAX trial's parameters (and batch-norm statistics) as the
    PyTorch twin's ``state_dict`` (:func:`workloads.common.jax.torch_state_dict`)."""
    if trial.request.framework != "jax":
        return model
    from workloads.common.jax import torch_state_dict

    try:
        return torch_state_dict(model, model_state)
    except Exception as exc:  # noqa: BLE001 - the parameters are the submission's
        raise EvaluationError(f"the parameters to evaluate are not the workload's parameter tree: {exc}") from None


#: the submission functions that may end training by raising TrainingComplete (see the training contract).
MAY_COMPLETE = frozenset({"update_params", "data_selection"})


def call_submission(trial: Trial, name: str, function: Any, **kwargs: Any) -> Any:
    try:
        return function(**kwargs)
    except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt from a submission are failures
        if isinstance(exc, TrainingComplete) and name in MAY_COMPLETE:
            raise
        raise SubmissionFailure(describe_exception(exc, name, Path(trial.request.submission_dir).resolve())
                                + distributed.failure_note(exc)) from None


def initialise(trial: Trial) -> tuple[Any, Any, Any, int, float]:
    """Batch size, model, optimizer state. Untimed (recorded as ``init_time_s``)."""
    started = now()
    trial.clock.phase(Phase.INIT)
    sub, workload, seed = trial.submission, trial.workload, trial.request.seed
    batch_size = call_submission(trial, "get_batch_size", sub.get_batch_size, workload_name=workload.name)
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise SubmissionFailure(f"get_batch_size({workload.name!r}) returned {batch_size!r}; expected an int >= 1")
    model, model_state = workload.init_model_fn(rng_for(seed, 0), **init_model_kwargs(trial.request.hyperparameters))
    adapt = getattr(sub, "adapt", None)
    if adapt is not None:  # the PEFT track: the method wraps the pretrained model, on the clock
        marked = isinstance(trial.evaluator, RemoteEvaluator)  # the supervisor times adapt too
        if marked:
            trial.send(LoopStart(trial_id=trial.request.trial_id, part="adapt"))
        trial.clock.start(0)
        try:
            model = call_submission(trial, "adapt", adapt, model=model, workload=workload,
                                    hyperparameters=as_hyperparameters(trial.request.hyperparameters),
                                    rng=rng_for(seed, 1))
        finally:
            trial.clock.stop()
            trial.adapt_s = trial.clock.submission_s
            if marked:
                trial.send(LoopStart(trial_id=trial.request.trial_id, part="adapt_end"))
        trial.clock.phase(Phase.INIT)
        if model is None or not hasattr(model, "parameters"):
            raise SubmissionFailure(f"adapt returned {type(model).__name__}; expected the model to train "
                                    "(a torch.nn.Module)")
        workload.describe_parameters(model)
    optimizer_state = call_submission(
        trial, "init_optimizer_state", sub.init_optimizer_state, workload=workload, model_params=model,
        model_state=model_state, hyperparameters=as_hyperparameters(trial.request.hyperparameters),
        rng=rng_for(seed, 1))
    if isinstance(trial.evaluator, RemoteEvaluator) and trial.evaluator.example is not None:
        trial.memory.pause()  # a PEFT model is exported for the server here, before the timed loop (which the
        trial.evaluator.export(model)  # supervisor observes) starts; again in it only if its signature changes
        trial.memory.resume()
    trial.clock.phase(Phase.HARNESS)
    return model, model_state, optimizer_state, batch_size, now() - started


def evaluate(trial: Trial, model: Any, model_state: Any) -> bool:
    """Untimed validation evaluation; sends the record; returns whether the target is met (within budget)."""
    trial.clock.phase(Phase.EVAL)
    started = now()
    cpu_s = trial.clock.cpu_submission_s()
    trial.memory.pause()
    params = evaluable(trial, model, model_state)
    metrics = trial.evaluator.evaluate(params, model_state, "validation")
    if trial.request.mode == "target_setting" and is_new_best(trial, metrics):
        test = trial.evaluator.evaluate(params, model_state, "test")
        metrics.update({f"test_{k}": v for k, v in test.items()})
    trial.memory.resume()
    elapsed = now() - started
    trial.eval_time_s += elapsed
    trial.clock.phase(Phase.HARNESS)
    submission_s = trial.clock.submission_s
    trial.last_eval_submission_s = submission_s
    trial.evals.append((trial.step, metrics))
    trial.eval_times.append(submission_s)
    trial.validation = metrics
    trial.send(EvalRecord(trial_id=trial.request.trial_id, eval_index=len(trial.evals) - 1, step=trial.step,
                          submission_time_s=submission_s, cpu_submission_time_s=cpu_s, eval_time_s=elapsed,
                          wall_time_s=now() - trial.loop_start,
                          metrics=metrics, logged=trial.workload.metrics_logger.drain()))
    if not all(math.isfinite(v) for v in metrics.values()):
        raise SubmissionFailure(f"non-finite validation metrics at step {trial.step}: {metrics}")
    if trial.request.mode == "target_setting":
        return False
    met = trial.request.workload.meets(metrics[trial.request.workload.metric], trial.target)
    if met and submission_s <= trial.request.budget_s:
        trial.reached_at, trial.cpu_reached_at = submission_s, cpu_s
        return True
    return False


def is_new_best(trial: Trial, metrics: dict[str, float]) -> bool:
    """Whether this validation value beats every earlier one. Only such an evaluation can be the first to meet any
    target, so target setting evaluates the test split only there (it needs the test metric at the first hit)."""
    spec = trial.request.workload
    value = metrics[spec.metric]
    return all(spec.meets(value, m[spec.metric]) and value != m[spec.metric] for _, m in trial.evals)


def check_update(trial: Trial, name: str, returned: Any) -> tuple[Any, Any, Any]:
    """Untimed sanity checks after submission code returns: the result's shape, and a finite training loss."""
    if not isinstance(returned, tuple) or len(returned) != 3:
        got = f"a tuple of {len(returned)} values" if isinstance(returned, tuple) else type(returned).__name__
        raise SubmissionFailure(f"{name} returned {got}; expected (optimizer_state, params, model_state)")
    loss = getattr(trial.workload, "last_summed_loss", None)
    if loss is not None:
        value = loss.item() if hasattr(loss, "item") else float(loss)  # float() of a grad-requiring tensor warns
        if not math.isfinite(value):
            raise SubmissionFailure(f"non-finite training loss ({value}) after {trial.step} updates")
    return returned


def train(trial: Trial, model: Any, model_state: Any, optimizer_state: Any, batch_size: int) -> tuple[Any, Any]:
    """The timed loop. Ends at the target, at the budget, or when the submission raises TrainingComplete."""
    trial.loop_start = now()  # the set-up below is harness overhead of the loop
    request, sub, workload, clock = trial.request, trial.submission, trial.workload, trial.clock
    if isinstance(trial.evaluator, RemoteEvaluator):
        trial.send(LoopStart(trial_id=request.trial_id))
    clock.mark_children()
    hyperparameters = as_hyperparameters(request.hyperparameters)
    queue = workload.input_queue(batch_size, request.seed)
    prepare = getattr(sub, "prepare_for_eval", None) or default_prepare_for_eval
    declares_train_state = "train_state" in inspect.signature(sub.update_params).parameters
    update_kwargs = dict(workload=workload, current_params_types=workload.model_params_types,
                         hyperparameters=hyperparameters, loss_type=workload.loss_type, eval_results=trial.evals)
    select_kwargs = dict(workload=workload, input_queue=queue, hyperparameters=hyperparameters)
    budget, period = request.budget_s, request.workload.eval_period_s
    max_steps = request.max_steps or math.inf
    rngs = StepRngs(request.seed)
    while clock.submission_s < budget and trial.step < max_steps:
        rng = rngs(trial.step + 2)
        if declares_train_state:
            update_kwargs["train_state"] = TrainState(clock.submission_s, trial.step, budget, period)
        clock.start(trial.step)
        try:
            batch = call_submission(trial, "data_selection", sub.data_selection, optimizer_state=optimizer_state,
                                    current_param_container=model, model_state=model_state,
                                    global_step=trial.step, rng=rng, **select_kwargs)
            returned = call_submission(trial, "update_params", sub.update_params,
                                       current_param_container=model, model_state=model_state, batch=batch,
                                       optimizer_state=optimizer_state, global_step=trial.step, rng=rng,
                                       **update_kwargs)
        except TrainingComplete:
            clock.stop()
            trial.completed_at = trial.step
            break
        except BaseException:
            clock.stop()  # the time until the exception was submission time: the account must match what was seen
            raise
        elapsed = clock.stop((batch, returned))
        if trial.step == 0:
            trial.first_step_s = elapsed
        trial.step += 1
        optimizer_state, model, model_state = check_update(trial, "update_params", returned)
        if eval_due(trial, period):
            model, model_state, optimizer_state = prepare_and_evaluate(trial, prepare, model, model_state,
                                                                       optimizer_state, hyperparameters)
            if trial.reached_at is not None:
                return model, model_state
    if not trial.evals or trial.evals[-1][0] != trial.step:  # a last look at the state the budget ended with
        model, model_state, optimizer_state = prepare_and_evaluate(trial, prepare, model, model_state,
                                                                   optimizer_state, hyperparameters)
    return model, model_state


def eval_due(trial: Trial, period: float) -> bool:
    """Every ``eval_period_s`` of submission time; in a step-capped target-setting run, every N updates."""
    every = trial.request.eval_every_steps
    if every:
        return trial.step % every == 0
    return trial.clock.submission_s - trial.last_eval_submission_s >= period


def prepare_and_evaluate(trial: Trial, prepare: Any, model: Any, model_state: Any, optimizer_state: Any,
                         hyperparameters: Any) -> tuple[Any, Any, Any]:
    """``prepare_for_eval`` (timed, it is submission work) then an untimed evaluation."""
    trial.clock.start(trial.step)
    returned = None
    try:
        returned = call_submission(
            trial, "prepare_for_eval", prepare, workload=trial.workload, current_param_container=model,
            current_params_types=trial.workload.model_params_types, model_state=model_state,
            hyperparameters=hyperparameters, loss_type=trial.workload.loss_type, optimizer_state=optimizer_state,
            eval_results=trial.evals, global_step=trial.step, rng=rng_for(trial.request.seed, trial.step + 2))
    finally:
        trial.clock.stop(returned)  # raised or not, the time was submission time
    optimizer_state, model, model_state = check_update(trial, "prepare_for_eval", returned)
    evaluate(trial, model, model_state)
    return model, model_state, optimizer_state


def test_evaluation(trial: Trial, model: Any, model_state: Any) -> tuple[dict[str, float], bool]:
    trial.clock.phase(Phase.EVAL)
    started = now()
    trial.memory.pause()
    metrics = trial.evaluator.evaluate(evaluable(trial, model, model_state), model_state, "test")
    trial.memory.resume()
    trial.eval_time_s += now() - started
    if not metrics:  # withheld: the supervisor records the test metrics (harness.runner.evaluator)
        return {}, None
    target = trial.request.workload.targets_for(trial.request.hardware_class).test
    return metrics, trial.request.workload.meets(metrics[trial.request.workload.metric], target)


def run(request: TrialRequest, heartbeat: Heartbeat, send: Any, process_start: float, reply_fd: int | None = None,
        folder: Path | None = None) -> WorkerResult:
    """load -> initialise -> train -> test evaluation, as a :class:`WorkerResult` (failures included)."""
    from harness.provenance import environment

    base = dict(trial_id=request.trial_id, provenance={**environment(request.threads),
                                                       "framework": request.framework})
    trial: Trial | None = None
    measurements: dict[str, float] = {}
    startup_s = init_s = 0.0
    batch_size = None
    try:
        trial = load(request, heartbeat, send, reply_fd, folder)
        startup_s = now() - process_start
        if request.workload.track == compression.TRACK:
            init_s, test, test_met, status, reason, measurements = compress_trial(trial)
        else:
            model, model_state, optimizer_state, batch_size, init_s = initialise(trial)
            model, model_state = train(trial, model, model_state, optimizer_state, batch_size)
            test, test_met, status, reason, measurements = judge_training(trial, model, model_state)
    except SubmissionFailure as exc:
        status, reason, test, test_met = "failed", str(exc), {}, None
    except EvaluationError as exc:
        status, reason, test, test_met = "failed", f"evaluation failed: {exc}", {}, None
    except Exception as exc:  # noqa: BLE001 - a harness or data error still ends as a recorded result
        where = traceback.extract_tb(exc.__traceback__)[-1]
        status, test, test_met = "failed", {}, None
        reason = f"harness error: {type(exc).__name__}: {exc} (at {Path(where.filename).name}:{where.lineno})"
    distributed.stop()
    return WorkerResult(
        **base, status=status, reason=reason, startup_time_s=startup_s, init_time_s=init_s,
        batch_size=batch_size, test=test, test_target_met=test_met, measurements=measurements, **accounting(trial),
        peak_rss_bytes=trial.memory.peak() if trial is not None else PeakMemory.mark())


def judge_training(trial: Trial, model: Any, model_state: Any) -> tuple[dict[str, float], bool | None, str, str,
                                                                       dict[str, float]]:
    """After the timed loop of the training and PEFT tracks: the test evaluation, the status and the PEFT track's
    measurements. Returns ``(test, test_met, status, reason, measurements)``."""
    first = {"first_step_s": trial.first_step_s} if trial.first_step_s is not None else {}
    if trial.request.mode == "target_setting":
        return {}, None, "missed", "target-setting run: ran the whole budget", first if trial.request.workload.track \
            == TRAINING_TRACK else {}
    test, test_met = test_evaluation(trial, model, model_state)
    status, reason = ("reached", "") if trial.reached_at is not None else ("missed", missed_reason(trial))
    measurements: dict[str, float] = {}
    if trial.request.workload.track == peft.TRACK:
        trial.clock.phase(Phase.EVAL)
        measurements = {**measure(trial, model), "adapt_s": trial.adapt_s or 0.0}
    elif trial.request.workload.track == TRAINING_TRACK:  # the first update's share (compilation, warm-up)
        measurements = first
    return test, test_met, status, reason, measurements


def compress_trial(trial: Trial) -> tuple[float, dict[str, float], bool | None, str, str, dict[str, float]]:
    """The compression track's trial: ``compress`` on the clock, then the saved model measured in a fresh process
    (see :mod:`harness.tracks.compression`). Returns ``(init_s, test, test_met, status, reason, measurements)``."""
    import tempfile

    import torch

    from workloads.common.compression import DEFAULT_BATCH_SIZE

    request, workload, seed = trial.request, trial.workload, trial.request.seed
    started = now()
    trial.clock.phase(Phase.INIT)
    model, _ = workload.init_model_fn(rng_for(seed, 0))
    calibration = workload.calibration_batches(seed)
    queue = workload.input_queue(int(request.hyperparameters.get("batch_size", DEFAULT_BATCH_SIZE)), seed)
    trial.clock.phase(Phase.HARNESS)
    init_s = now() - started
    remote = isinstance(trial.evaluator, RemoteEvaluator)
    if remote:
        trial.send(LoopStart(trial_id=request.trial_id))
    trial.loop_start = now()
    trial.clock.start(0)
    try:
        compressed = call_submission(trial, "compress", trial.submission.compress, model=model, workload=workload,
                                     calibration_batches=calibration, train_queue=queue,
                                     hyperparameters=as_hyperparameters(request.hyperparameters),
                                     rng=rng_for(seed, 1))
    finally:
        trial.clock.stop()
    submission_s = trial.clock.submission_s
    cpu_s = trial.cpu_final_s = trial.clock.cpu_submission_s()  # before the measuring child adds its own
    if not isinstance(compressed, torch.nn.Module):
        raise SubmissionFailure(f"compress returned {type(compressed).__name__}; expected the compressed model (a "
                                "torch.nn.Module)")
    trial.clock.phase(Phase.EVAL)
    started = now()
    folder = trial.evaluator.folder if remote else Path(tempfile.mkdtemp(prefix="measure-"))
    try:
        path = compression.save_model(compressed, folder)
    except Exception as exc:  # noqa: BLE001 - what cannot be saved cannot be measured: the submission's failure
        hint = ("a TorchScript module, which torch.save does not pickle: return the eager module"
                if isinstance(compressed, torch.jit.ScriptModule) else "a lambda, a local class, an open file?")
        raise SubmissionFailure(f"the compressed model cannot be saved with torch.save ({hint}): "
                                f"{type(exc).__name__}: {exc}") from None
    try:  # by the supervisor (a scored trial), or here (PODIUM_EVALUATION=worker)
        measured = (trial.evaluator.measure(path) if remote
                    else compression.measure_saved(request.model_dump_json(), path, request.limits.eval_s))
    except (compression.MeasurementError, EvaluationError) as exc:
        raise SubmissionFailure(f"the saved compressed model could not be measured: {exc}") from None
    trial.eval_time_s = now() - started
    trial.clock.phase(Phase.HARNESS)
    validation = measured["metrics"] if remote else measured["validation"]
    test, measurements = measured.get("test", {}), measured["measurements"]
    trial.evals.append((0, validation))
    trial.eval_times.append(submission_s)
    trial.validation = validation
    trial.send(EvalRecord(trial_id=request.trial_id, eval_index=0, step=0, submission_time_s=submission_s,
                          cpu_submission_time_s=cpu_s, eval_time_s=trial.eval_time_s,
                          wall_time_s=now() - trial.loop_start, metrics=validation, logged=[]))
    if request.mode == "target_setting":
        return init_s, test, None, "missed", "target-setting run: measured, not judged", measurements
    spec = request.workload
    why = compression.verdict(spec, request.hardware_class, validation[spec.metric], measurements, submission_s,
                              request.budget_s)
    if why is None:
        trial.reached_at, trial.cpu_reached_at = submission_s, cpu_s
    targets = spec.targets_for(request.hardware_class)
    test_met = spec.meets(test[spec.metric], targets.test) if test else None  # a scored trial's: the supervisor's
    status, reason = ("reached", "") if why is None else ("missed", why)
    return init_s, test, test_met, status, reason, measurements


def measure(trial: Trial, model: Any) -> dict[str, float]:
    """The PEFT track's measurements of the adapted model against the base model it started from (untimed). The
    peak memory is read first: the base model built here is the harness's."""
    peak = trial.memory.peak()
    base, _ = trial.workload.init_model_fn(rng_for(trial.request.seed, 0),
                                           **init_model_kwargs(trial.request.hyperparameters))
    return peft.measure(trial.workload, model, base, peak, trial.request.device)


def missed_reason(trial: Trial) -> str:
    """Why a trial missed: the best value reached within the budget, and a target met only after it."""
    spec, budget = trial.request.workload, trial.request.budget_s
    key = (lambda v: v) if spec.higher_is_better else (lambda v: -v)
    in_budget = [m[spec.metric] for (_, m), t in zip(trial.evals, trial.eval_times) if t <= budget]
    best = max(in_budget, default=float("nan"), key=key)
    claim = (f"the submission raised TrainingComplete at step {trial.completed_at}, but "
             if trial.completed_at is not None else "")
    late = next((t for (_, m), t in zip(trial.evals, trial.eval_times) if t > budget and spec.meets(m[spec.metric],
                                                                                             trial.target)), None)
    after = f"; it was met only at {late:.1f}s, after the budget" if late is not None else ""
    if not in_budget:
        first = f" (the first came at {trial.eval_times[0]:.1f}s)" if trial.eval_times else ""
        return f"{claim}no evaluation within the {budget:g}s budget{first}{after}"
    return (f"{claim}validation {spec.metric} {best:.4f} within the {budget:.0f}s budget did not meet the target "
            f"{trial.target:.4f}{after}")


def accounting(trial: Trial | None) -> dict[str, Any]:
    """Time accounting: loop wall = submission + evaluation + harness overhead (the overhead is the remainder).

    ``ended_monotonic`` closes the loop's wall time: what follows (sending the result, exiting, the supervisor's
    last poll) is the trial's tail, measured by the supervisor.
    """
    if trial is None or not trial.loop_start:
        return {}
    cpu_s = trial.cpu_final_s if trial.cpu_final_s is not None else trial.clock.cpu_submission_s()
    ended, loop_wall = _clock.monotonic(), now() - trial.loop_start
    return dict(time_to_result_s=trial.reached_at, cpu_time_to_result_s=trial.cpu_reached_at,
                cpu_submission_time_s=cpu_s, ended_monotonic=ended, steps=trial.step,
                submission_time_s=trial.clock.submission_s,
                eval_time_s=trial.eval_time_s, loop_wall_s=loop_wall, n_evals=len(trial.evals),
                overhead_time_s=loop_wall - trial.clock.submission_s - trial.eval_time_s,
                validation=trial.validation)


def main(argv: list[str]) -> None:
    started_monotonic, process_start = _clock.monotonic(), now()
    request_path, heartbeat_path, records, *reply = argv
    # REPLY: a pipe's descriptor (a local trial; the model is saved in the working folder, its scratch folder), or a
    # FIFO's path (a container; the model is saved next to it, in the folder the supervisor sees). Read before any
    # submission code can change the working folder.
    folder = Path(reply[0]).parent if reply and not reply[0].isdigit() else Path.cwd()
    reply_fd = (int(reply[0]) if reply[0].isdigit() else os.open(reply[0], os.O_RDONLY)) if reply else None
    request = TrialRequest.model_validate_json(Path(request_path).read_text())
    heartbeat = Heartbeat(Path(heartbeat_path))
    fd = int(records) if records.isdigit() else os.open(records, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def send(record: Any) -> None:
        os.write(fd, record.model_dump_json().encode() + b"\n")

    result = run(request, heartbeat, send, process_start, reply_fd, folder)
    result.worker_wall_s = now() - process_start
    result.started_monotonic = started_monotonic
    if result.ended_monotonic is None:  # no timed loop ran (a failure before it): the tail starts here
        result.ended_monotonic = _clock.monotonic()
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    result.tree_cpu_s = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    result.involuntary_switches = own.ru_nivcsw + children.ru_nivcsw
    heartbeat.slots[0] = float(Phase.DONE)
    send(result)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip interpreter teardown: nothing left to do, and a submission's atexit hooks must not run


if __name__ == "__main__":
    main(sys.argv[1:])
