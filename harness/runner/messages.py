"""What crosses the supervisor/worker process boundary: the trial request, the heartbeat, and the records.

The request goes to the worker as a JSON file; records come back as JSON lines on a dedicated pipe, or a records
file for a trial in a container (never parsed from logs). The heartbeat is a tiny shared memory-mapped file that the
worker's clock writes and the supervisor reads, so a hang inside submission code is seen from outside without any
message from the hung process.
"""

from __future__ import annotations

import mmap
import os
from enum import IntEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workloads.spec import WorkloadSpec


class TrialLimits(BaseModel):
    """Limits the supervisor enforces from outside the trial process.

    Attributes:
        memory_bytes: resident memory of the trial process tree; above it the trial is killed (``failed``).
        output_bytes: stdout + stderr of the trial; above it the trial is killed (``failed: output flood``).
        scratch_bytes: files the trial writes. Its scratch folder (working folder, ``TMPDIR``, the compile caches of
            torch.compile and Triton) may hold this much in total, and no file anywhere may grow past it.
        startup_s: wall seconds allowed for interpreter start, imports and data loading.
        init_s: wall seconds allowed for model + optimizer initialisation (untimed submission code).
        hang_grace_s: submission code still running this long after the budget is spent is a hang (``timed_out``).
        eval_s: wall seconds allowed for one evaluation.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    memory_bytes: int = 6 * 1024**3
    output_bytes: int = 8 * 1024**2
    scratch_bytes: int = 2 * 1024**3
    startup_s: float = 180.0
    init_s: float = 120.0
    hang_grace_s: float = 10.0
    eval_s: float = 300.0
    #: the whole trial may take at most start-up + init + ``wall_factor`` x budget + ``wall_extra_s`` of wall time:
    #: the backstop for anything the per-phase limits miss (e.g. a submission that forges its phase).
    wall_factor: float = 4.0
    wall_extra_s: float = 120.0

    def wall_limit(self, budget_s: float) -> float:
        return self.startup_s + self.init_s + self.wall_factor * budget_s + self.wall_extra_s


class TrialRequest(BaseModel):
    """Everything a worker needs to run one trial; written to a file before the worker starts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    trial_id: str
    submission_dir: str
    workload: WorkloadSpec
    hardware_class: str
    budget_s: float
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    seed: int
    threads: int = 2
    cpu_affinity: list[int] | None = None  # cores the trial process is pinned to (None: not pinned)
    device: Literal["cpu", "cuda"] = "cpu"
    #: the submission's framework (:func:`harness.tracks.training.framework_of`); a JAX trial trains the workload's
    #: JAX twin (``WorkloadSpec.jax_builder``)
    framework: Literal["pytorch", "jax"] = "pytorch"
    #: ``target_setting`` (used only by ``podium targets set``): never stop early, and evaluate the test split at
    #: every evaluation too (stored as ``test_<metric>``), so targets can be read off the curves afterwards.
    mode: Literal["score", "target_setting"] = "score"
    #: target setting only: stop after this many updates (the budget stays the safety cap), and evaluate every
    #: ``eval_every_steps`` updates instead of every ``eval_period_s`` seconds. A curve over steps does not depend
    #: on how busy the machine was, so target levels set from it do not either (see :mod:`harness.targets`).
    max_steps: int | None = Field(None, ge=1)
    eval_every_steps: int | None = Field(None, ge=1)
    limits: TrialLimits = Field(default_factory=TrialLimits)


class Phase(IntEnum):
    """What the worker is doing; written into the heartbeat on every change."""

    STARTING = 0
    INIT = 1  # model and optimizer initialisation (submission code, untimed)
    SUBMISSION = 2  # data_selection / update_params / prepare_for_eval (timed)
    HARNESS = 3  # bookkeeping between steps
    EVAL = 4
    DONE = 5


class Heartbeat:
    """Four float64 slots in a shared file: phase, phase start (CLOCK_MONOTONIC), submission seconds, step.

    CLOCK_MONOTONIC is system-wide on Linux, so both processes read the same time base.
    Writes are single aligned 8-byte stores through a ``memoryview``: tens of nanoseconds, cheap enough per step.
    """

    SLOTS = 4

    def __init__(self, path: Path, create: bool = False) -> None:
        if create:
            path.write_bytes(b"\0" * 8 * self.SLOTS)
        self._fd = os.open(path, os.O_RDWR)
        self._map = mmap.mmap(self._fd, 8 * self.SLOTS)
        self.slots = memoryview(self._map).cast("d")

    def read(self) -> tuple[Phase, float, float, int]:
        phase, since, submission_s, step = self.slots.tolist()
        return Phase(int(phase)), since, submission_s, int(step)

    def close(self) -> None:
        self.slots.release()
        self._map.close()
        os.close(self._fd)


class EvalRecord(BaseModel):
    """One evaluation, sent as soon as it is done."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["eval"] = "eval"
    trial_id: str
    eval_index: int
    step: int
    submission_time_s: float
    cpu_submission_time_s: float | None = None  # CPU seconds of submission code so far (see harness.runner.clock)
    eval_time_s: float  # this evaluation's own duration
    wall_time_s: float  # since the trial loop started
    metrics: dict[str, float]
    logged: list[tuple[int, dict[str, float]]] = Field(default_factory=list)  # submission's metrics_logger rows


class EvalRequest(BaseModel):
    """The worker asks the evaluation server (through the supervisor) to evaluate the model it saved at ``path``
    (a ``state_dict``); ``program``: the folder of the exported program those weights belong to (a PEFT model, see
    :mod:`harness.runner.program`), None for the workload's own model.

    Sent on the records channel; the answer comes back on the reply channel as one JSON line: ``{"metrics": {...}}``
    (validation, and test in a target-setting run), ``{"withheld": true}`` (a scored trial's test split: its
    metrics go to the record, never to the process that runs submission code) or ``{"error": "..."}``.
    """

    model_config = ConfigDict(extra="forbid")

    type: Literal["evaluate"] = "evaluate"
    trial_id: str
    #: ``measure``: the compression track's one measurement of the model saved at ``path`` (a whole pickled module),
    #: by a process the supervisor starts; the answer adds ``measurements`` (and ``test`` in a target-setting run)
    split: Literal["validation", "test", "measure"]
    path: str
    program: str | None = None


class LoopStart(BaseModel):
    """Sent when a timed part of the trial starts: ``loop``, the timed loop (or a compressor's ``compress``), from
    which the supervisor counts the trial's wall time, less the waits for evaluations it ran itself, as its own
    evidence of the submission time (see :mod:`harness.runner.evaluator`); ``adapt`` and ``adapt_end``, around a
    PEFT method's ``adapt`` (timed, before the untimed set-up that precedes the loop), whose wall time it adds."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["loop"] = "loop"
    trial_id: str
    part: Literal["loop", "adapt", "adapt_end"] = "loop"


class WorkerResult(BaseModel):
    """The worker's own account of a finished trial. The supervisor decides the final status."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["result"] = "result"
    trial_id: str
    status: Literal["reached", "missed", "failed"]
    reason: str = ""
    time_to_result_s: float | None = None
    cpu_time_to_result_s: float | None = None  # CPU submission time at the evaluation that met the target
    steps: int = 0
    submission_time_s: float = 0.0
    cpu_submission_time_s: float = 0.0
    eval_time_s: float = 0.0
    init_time_s: float = 0.0
    startup_time_s: float = 0.0
    overhead_time_s: float = 0.0
    loop_wall_s: float = 0.0
    worker_wall_s: float = 0.0
    #: CLOCK_MONOTONIC (system-wide) when the worker's ``main`` began and when its account of the trial closed
    #: (after the test evaluation): the supervisor turns them into the start-up and tail of the wall time.
    started_monotonic: float | None = None
    ended_monotonic: float | None = None
    #: the worker's own resource usage (itself and its reaped children): used where the supervisor cannot reap the
    #: worker itself (a container); a local trial's figures come from the kernel via ``wait4``.
    tree_cpu_s: float | None = None
    involuntary_switches: int | None = None
    n_evals: int = 0
    validation: dict[str, float] = Field(default_factory=dict)
    test: dict[str, float] = Field(default_factory=dict)
    test_target_met: bool | None = None
    peak_rss_bytes: int = 0
    batch_size: int | None = None
    #: a track's own per-trial measurements (the PEFT track's: see harness.tracks.peft.MEASUREMENTS)
    measurements: dict[str, float] = Field(default_factory=dict)
    provenance: dict[str, Any] = Field(default_factory=dict)
