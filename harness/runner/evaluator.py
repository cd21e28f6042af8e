"""Evaluation outside the submission's process: the evaluation server, and the supervisor's account of a trial's
evaluations.

A training- or PEFT-track trial's worker holds training data only (:func:`workloads.common.data.withhold_held_out`).
To evaluate, it saves the model's ``state_dict`` to a file in its scratch folder (untimed) and asks for an evaluation
on the records channel (:class:`~harness.runner.messages.EvalRequest`); the supervisor has the *evaluation server*
evaluate it and answers on a reply channel. The server is a process of the harness that never runs submission code:
it builds the workload itself, loads the file with ``torch.load(weights_only=True)`` (tensors only: unpickling
cannot run code) and evaluates it. A training-track model is loaded into the server's own instance of the workload's
model (a ``strict`` load: the names and shapes must be the workload's); a PEFT method's model, whose structure is the
submission's, comes with the program the worker exported from it, a checked graph of PyTorch operators
(:mod:`harness.runner.program`). One server per workload definition, hardware class, device and threads serves a
whole run: nothing of a trial stays in it but the weights and the last few programs.

What this gives (README, "What each executor guarantees"):

* **Evaluation data.** No validation or test example or label is reachable from the worker's Python objects (the
  garbage collector, the workload object, module globals). A scored trial's test metrics never reach the worker
  (the answer is ``{"withheld": true}``); validation metrics do, as AlgoPerf hands ``eval_results`` to submissions.
* **Records.** The metrics stored are the server's (:meth:`Evaluations.check`): an evaluation record, a result or a
  test metric the worker forges, or an evaluation it requests but does not report, fails the trial with what
  differs. The status is re-derived from the server's metrics and the budget.
* **Nothing runs while the harness evaluates.** The worker's process group and its descendants are stopped
  (SIGSTOP) from the request to the answer, so a submission's thread or child cannot work during the untimed
  evaluation; the CPU time of the worker's process tree over the waits, read from ``/proc``, must stay near zero
  (:data:`WAIT_CPU_ALLOWANCE`), or the trial fails.
* **Clock.** The supervisor sees the timed loop start (:class:`~harness.runner.messages.LoopStart`), every wait
  for an evaluation and, in a scored trial, the loop's end (the test evaluation's request: no evaluation is answered
  after it) from its own side, so its estimate of the submission time is the loop's wall time less those waits
  (:meth:`Evaluations.estimate`), plus a PEFT method's ``adapt`` (marked at its start and end), not a figure the
  worker's heartbeat reports; the worker's account is checked against it
  (:func:`harness.runner.supervisor.clock_allowance`).

The cost: one ``torch.save`` in the worker, one ``torch.load`` in the server and two pipe messages per evaluation,
and for a PEFT model one export before the timed loop and one rebuild in the server (``make bench``:
benchmarks/trial_start.py's evaluation costs, ``--part evaluation`` and ``--part peft``); the evaluation itself is
the same code as before.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.runner.messages import EvalRecord, EvalRequest, TrialRequest, WorkerResult

MESSAGE_BYTES = 1 << 16
START_TIMEOUT_S = 300.0  # the server's imports and the workload's data (a MiniLM on a busy machine)
#: CPU seconds the worker's process tree may use while it waits for its evaluations: ``a`` per evaluation plus ``b``
#: per waited second. The tree is stopped (SIGSTOP) while the server evaluates, so this is a second line: it catches
#: a process that was not stopped. ``a`` covers ``/proc``'s 10 ms ticks (two readings per wait).
WAIT_CPU_ALLOWANCE = (0.03, 0.25)
REPLY_WITHHELD = {"withheld": True}


class EvaluationServerError(RuntimeError):
    """The evaluation server did not start, died, or ran past the evaluation limit."""


# ---------------------------------------------------------------------------------------------- the server process


def serve(fd: int) -> None:
    """The server's loop: build the workload from the first message, then answer one evaluation at a time."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the supervisor
    conn = socket.socket(fileno=fd)
    setup = json.loads(conn.recv(MESSAGE_BYTES))
    try:
        import importlib

        import torch

        from workloads.spec import WorkloadSpec

        torch.set_num_threads(setup["threads"])
        spec = WorkloadSpec.model_validate_json(setup["spec"])
        module_name, function = spec.builder.split(":")
        builder = getattr(importlib.import_module(module_name), function)
        device = torch.device(setup["device"])
        _, evaluator = builder(spec, setup["hardware_class"], device, **spec.builder_kwargs)
    except Exception as exc:  # noqa: BLE001 - reported to the supervisor, which fails the trial with it
        conn.send(json.dumps({"error": f"the evaluation server could not build the workload: "
                                        f"{type(exc).__name__}: {exc}"}).encode())
        return
    from harness.runner.program import Programs

    programs = Programs()
    conn.send(b'{"ready": true}')
    while True:
        try:
            data = conn.recv(MESSAGE_BYTES)
        except OSError:
            return
        if not data:
            return
        order = json.loads(data)
        started = time.process_time()
        conn.send(json.dumps({**_evaluate(evaluator, order, device, programs),
                              "cpu_s": time.process_time() - started}).encode())


def _evaluate(evaluator: Any, order: dict[str, Any], device: Any, programs: Any) -> dict[str, Any]:
    import torch

    if order.get("cpus"):
        os.sched_setaffinity(0, order["cpus"])
    try:
        state = torch.load(order["path"], map_location=device, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - whatever the file is, it is not a state_dict of tensors
        return {"error": f"the saved model could not be read as a state_dict of tensors: {type(exc).__name__}: "
                         f"{exc}"}
    try:
        if order.get("program"):  # a PEFT model: its exported program, with these weights
            model = programs.get(order["program"], device)
            model.load_weights(state)
            state = model
        return {"metrics": dict(evaluator.evaluate(state, None, order["split"]))}
    except Exception as exc:  # noqa: BLE001 - EvaluationError (names, shapes), ProgramError, or what the weights cause
        ours = type(exc).__name__ in ("EvaluationError", "ProgramError")
        return {"error": str(exc) if ours else f"{type(exc).__name__}: {exc}"}


# ---------------------------------------------------------------------------------------------- the supervisor side


class EvaluationServer:
    """The supervisor's handle on one server."""

    def __init__(self, request: TrialRequest) -> None:
        from harness.runner.supervisor import child_env

        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.lock = threading.Lock()
        self.socket = ours
        self.process = subprocess.Popen(
            [sys.executable, "-m", "harness.runner.evaluator", str(theirs.fileno())], pass_fds=(theirs.fileno(),),
            env=child_env(request.threads), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        theirs.close()
        setup = dict(spec=request.workload.model_dump_json(), hardware_class=request.hardware_class,
                     device=request.device, threads=request.threads)
        reply = self._exchange(setup, START_TIMEOUT_S)
        if "error" in reply:
            self.close()
            raise EvaluationServerError(reply["error"])

    def _exchange(self, order: dict[str, Any], timeout: float) -> dict[str, Any]:
        try:
            self.socket.settimeout(timeout)
            self.socket.send(json.dumps(order).encode())
            reply = self.socket.recv(MESSAGE_BYTES)
        except TimeoutError:
            self.close()
            raise EvaluationServerError(f"the evaluation ran over {timeout:.0f}s; stopped") from None
        except OSError as exc:
            self.close()
            raise EvaluationServerError(f"the evaluation server did not answer: {exc}") from None
        if not reply:
            self.close()
            raise EvaluationServerError("the evaluation server exited")
        return json.loads(reply)

    def evaluate(self, path: Path, split: str, cpus: list[int] | None, timeout: float,
                 program: Path | None = None) -> dict[str, Any]:
        with self.lock:
            return self._exchange(dict(path=str(path), split=split, cpus=cpus,
                                       program=None if program is None else str(program)), timeout)

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        self.socket.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


_servers: dict[tuple, EvaluationServer] = {}
_servers_lock = threading.Lock()


def server_for(request: TrialRequest) -> EvaluationServer:
    """The live server for the request's workload definition, hardware class, device and threads (started once)."""
    key = (request.workload.model_dump_json(), request.hardware_class, request.device, request.threads)
    with _servers_lock:
        server = _servers.get(key)
        if server is None or not server.alive():
            server = _servers[key] = EvaluationServer(request)
        return server


def server_pids() -> set[int]:
    """The pids of this process's live evaluation servers (harness processes that outlive trials)."""
    with _servers_lock:
        return {s.process.pid for s in _servers.values() if s.alive()}


def close_all() -> None:
    with _servers_lock:
        for server in _servers.values():
            server.close()
        _servers.clear()


#: ``PODIUM_EVALUATION=worker`` evaluates in the trial's own process, as before the evaluation server: for measuring
#: what the server costs (``make bench``) and for the tests that show what it prevents. Never for scoring.
EVALUATION_ENV = "PODIUM_EVALUATION"


#: the tracks whose trials the evaluation server evaluates: the training track's (the workload's own model) and the
#: PEFT track's (the submission's model as an exported program). A compressor's model is measured in a process of
#: its own (:mod:`harness.tracks.compression`); see the README's guarantee table.
REMOTE_TRACKS = frozenset({"training", "peft"})


#: the tracks whose evaluations the supervisor runs (:class:`Evaluations`): the evaluation server's, and the
#: compression track's, whose one measurement runs in a fresh process the supervisor starts (the model is the
#: submission's pickled module, which only a sandbox may load), never in the trial's own process
SUPERVISED_TRACKS = REMOTE_TRACKS | {"compression"}


def uses_server(request: TrialRequest) -> bool:
    """Whether the trial's evaluations run in the evaluation server (:data:`REMOTE_TRACKS`)."""
    return request.workload.track in REMOTE_TRACKS and os.environ.get(EVALUATION_ENV, "server") != "worker"


def supervised(request: TrialRequest) -> bool:
    """Whether the supervisor runs the trial's evaluations (:data:`SUPERVISED_TRACKS`): an :class:`Evaluations`
    answers its requests."""
    return request.workload.track in SUPERVISED_TRACKS and os.environ.get(EVALUATION_ENV, "server") != "worker"


#: how a supervisor measures a compressed model saved at a path (as the supervisor sees it): the numbers of
#: :func:`harness.tracks.compression.main` and the CPU seconds the measurement used
Measure = Callable[[Path], tuple[dict[str, Any], float]]


def _signal_tree(pid: int | None, sig: int, pids: list[int] | None = None) -> list[int]:
    """Send ``sig`` to the worker's process group and to each of ``pids`` (default: the worker and its live
    descendants, wherever their group); returns the pids signalled. SIGSTOP freezes every thread of every process of
    the trial while it is evaluated: no submission code (a background thread, a child) runs during the untimed
    evaluation. SIGCONT goes to the same processes."""
    if pid is None:
        return []
    pids = _tree(pid) if pids is None else pids
    for kill, target in [(os.killpg, pid)] + [(os.kill, p) for p in pids]:
        try:
            kill(target, sig)
        except (ProcessLookupError, PermissionError):
            continue
    return pids


def _tree(pid: int | None) -> list[int]:
    """The worker and its live descendants."""
    from harness.runner.clock import _descendants

    return [] if pid is None else [pid, *_descendants(pid)]


def _state(pid: int) -> str:
    """The process's state: "T" once every one of its threads is stopped, else the first other thread state letter
    from ``/proc/PID/task/TID/stat`` ("X" for a process that is gone)."""
    try:
        states = []
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/stat") as fh:
                states.append(fh.read().rsplit(")", 1)[1].split()[0])
    except (OSError, IndexError):
        return "X"
    return next((st for st in states if st not in "Tt"), "T")


STOP_WAIT_S = 2.0  # a stop is asynchronous: each thread stops when it is next scheduled (a busy machine: ms)


def _wait_stopped(pids: list[int]) -> None:
    """Return once every thread of ``pids`` is stopped (or gone), or after :data:`STOP_WAIT_S`: what is still
    running then is seen by the check after the evaluation (:attr:`Evaluations.running`)."""
    deadline = time.monotonic() + STOP_WAIT_S
    while any(_state(p) not in "TtZX" for p in pids) and time.monotonic() < deadline:
        time.sleep(0.0005)


def tree_cpu_s(pid: int | None) -> float:
    """CPU seconds of ``pid`` and its live descendants (including the children they reaped), from ``/proc``."""
    from harness.runner.clock import _process_cpu

    return sum(_process_cpu(p) for p in _tree(pid))


class Evaluations:
    """The supervisor's side of one trial's evaluations: it answers the worker's requests and keeps what the server
    returned, the waits and the CPU evidence, then checks the worker's records against them (:meth:`check`)."""

    def __init__(self, request: TrialRequest, scratch: Path, inside: str | None = None,
                 freeze: Callable[[], None] | None = None, thaw: Callable[[], None] | None = None,
                 measure: Measure | None = None) -> None:
        """``scratch``: the folder the worker saves the model in, as this process sees it; ``inside``: the same
        folder as the worker sees it, where that differs (a container's mount). ``freeze``/``thaw``: how to stop the
        trial while it is evaluated where signals cannot reach it (a container: the engine's pause); default
        SIGSTOP/SIGCONT to the worker's process tree. ``measure``: how a compressed model is measured (the
        executor's sandbox)."""
        self.request, self.scratch = request, scratch.resolve()
        self.inside = inside
        self.freeze, self.thaw = freeze, thaw
        self.measure = measure
        self.measurements: dict[str, float] | None = None  # the compression track's, as the measurement gave them
        self.pid: int | None = None
        self.validation: list[dict[str, float]] = []
        self.test: dict[str, float] | None = None
        self.loop_started: float | None = None
        self.adapt_started: float | None = None  # a PEFT method's adapt: its first start mark, last end mark
        self.adapt_ended: float | None = None
        self.ended: float | None = None
        self.waited_s = 0.0  # every evaluation's wait
        self.loop_waited_s = 0.0  # the waits inside the timed loop (a scored trial's test evaluation ends it)
        self.waiting_since: float | None = None
        self.server_cpu_s = 0.0  # the server's CPU for this trial: the trial's own work on its cores
        self.wait_cpu_s = 0.0  # the worker tree's CPU while it waited
        self.evaluations = 0
        self.saved_bytes = 0  # the models the server read: the worker saved each untimed, inside the loop's time
        self.running: list[int] = []  # processes of the trial seen running (not stopped) at an evaluation's end

    def loop(self, part: str = "loop") -> None:
        """A timed part starts (:class:`~harness.runner.messages.LoopStart`). Of ``adapt``'s marks before the loop
        the first start and the last end count: a mark a submission writes early changes neither."""
        now = time.monotonic()
        if self.loop_started is not None:
            return
        if part == "adapt":
            self.adapt_started = self.adapt_started if self.adapt_started is not None else now
        elif part == "adapt_end":
            self.adapt_ended = now if self.adapt_started is not None else None
        else:
            self.loop_started = now
            if self.adapt_started is not None and self.adapt_ended is None:  # adapt ran until the loop
                self.adapt_ended = now

    def finish(self) -> None:
        if self.ended is None:
            self.ended = time.monotonic()

    def answer(self, order: EvalRequest) -> dict[str, Any]:
        """Evaluate what the worker saved, with the worker's processes stopped; returns the reply line's content.

        A scored trial's test evaluation ends its timed loop, for the supervisor's estimate too: what the worker does
        after it (the PEFT track's measurements) is the harness's, and no evaluation is answered after it."""
        scored = self.request.mode != "target_setting"
        if scored and self.test is not None:
            return {"error": "an evaluation after the test evaluation: the trial's timed loop is over"}
        started = self.waiting_since = time.monotonic()
        if (order.split == "measure" or scored and order.split == "test") and self.ended is None:
            self.ended = started
        stopped = self._stop()
        cpu = tree_cpu_s(self.pid)
        try:
            reply = self._evaluate(order)
        finally:
            if self.freeze is None:  # a frozen cgroup's tasks do not show "T"; the engine's pause is synchronous
                self.running += [p for p in _tree(self.pid) if _state(p) not in "TtZX"]
            self.wait_cpu_s += max(tree_cpu_s(self.pid) - cpu, 0.0)
            self._resume(stopped)
            finished = time.monotonic()
            self.waiting_since = None
            self.waited_s += finished - started
            if self.ended is None or started < self.ended:  # a wait inside the timed loop
                self.loop_waited_s += finished - started
            self.evaluations += 1
        self.server_cpu_s += reply.pop("cpu_s", 0.0)
        metrics = reply.get("metrics")
        if metrics is None:  # the error goes to the worker, which fails the trial with it
            return reply
        if order.split == "validation":
            self.validation.append(metrics)
            return reply
        if order.split == "measure":
            self.validation.append(metrics)
            self.test, self.measurements = reply.pop("test"), reply["measurements"]
            return reply if self.request.mode != "target_setting" else {**reply, "test": self.test}
        self.test = metrics
        return reply if self.request.mode == "target_setting" else REPLY_WITHHELD

    def _stop(self) -> list[int]:
        if self.freeze is not None:
            self.freeze()
            return []
        stopped = _signal_tree(self.pid, signal.SIGSTOP)
        _wait_stopped(stopped)
        return stopped

    def _resume(self, stopped: list[int]) -> None:
        if self.thaw is not None:
            self.thaw()
        else:
            _signal_tree(self.pid, signal.SIGCONT, stopped)

    def _here(self, given: str) -> Path | None:
        """A path the worker gave, as this process sees it; None when it is outside the trial's scratch folder."""
        path = Path(given)
        if self.inside is not None and path.is_relative_to(self.inside):
            path = self.scratch / path.relative_to(self.inside)
        return path if path.resolve().is_relative_to(self.scratch) else None

    def _evaluate(self, order: EvalRequest) -> dict[str, Any]:
        path = self._here(order.path)
        program = None if order.program is None else self._here(order.program)
        if path is None or (order.program is not None and program is None):
            return {"error": f"the model to evaluate must be saved in the trial's scratch folder, not "
                             f"{order.path if path is None else order.program}"}
        with contextlib.suppress(OSError):  # a compressed model too: saved untimed between compress and the request
            self.saved_bytes += path.stat().st_size
        if order.split == "measure":
            return self._measure(order, path)
        try:
            return server_for(self.request).evaluate(path, order.split, self.request.cpu_affinity,
                                                     self.request.limits.eval_s, program)
        except EvaluationServerError as exc:
            return {"error": str(exc)}

    def _measure(self, order: EvalRequest, path: Path) -> dict[str, Any]:
        """The compression track's measurement (:mod:`harness.tracks.compression`) of the model the worker saved, by
        the executor's sandboxed process; its CPU is the trial's own work, as the server's is."""
        from harness.tracks.compression import MeasurementError

        if self.request.workload.track != "compression" or self.measure is None or self.measurements is not None:
            return {"error": "a measurement is the compression track's, once per trial"}
        try:
            measured, cpu_s = self.measure(path)
        except MeasurementError as exc:
            return {"error": str(exc)}
        return {"metrics": measured["validation"], "test": measured["test"],
                "measurements": measured["measurements"], "cpu_s": cpu_s}

    def estimate(self, now: float) -> float | None:
        """The submission time the supervisor saw: the timed loop's wall time less the evaluations' waits, and a
        PEFT method's ``adapt`` (its wall time between the marks)."""
        if self.loop_started is None:
            return None
        end = self.ended if self.ended is not None else now
        current = now - self.waiting_since if self.waiting_since is not None and self.ended is None else 0.0
        adapt = self.adapt_ended - self.adapt_started if None not in (self.adapt_started, self.adapt_ended) else 0.0
        return max(end - self.loop_started - self.loop_waited_s - current, 0.0) + adapt  # type: ignore[operator]

    def check(self, evals: list[EvalRecord], result: WorkerResult) -> str | None:
        """Why the worker's account cannot stand (``None``: it agrees with the server's metrics). On agreement the
        result gets the scored trial's test metrics, which the worker never saw."""
        if self.running:
            return (f"submission code ran while the harness evaluated it: process {self.running[0]} of the trial "
                    "was not stopped")
        per_evaluation, per_s = WAIT_CPU_ALLOWANCE
        if self.wait_cpu_s > per_evaluation * self.evaluations + per_s * self.waited_s:
            return (f"submission code ran while the harness evaluated it: the trial's processes used "
                    f"{self.wait_cpu_s:.1f} CPU seconds during {self.waited_s:.1f}s of evaluations")
        if len(evals) != len(self.validation):
            return (f"forged records: the worker reported {len(evals)} evaluations, the evaluation server ran "
                    f"{len(self.validation)}")
        spec, request = self.request.workload, self.request
        if spec.track == "compression":
            return self._check_compression(evals, result)
        for record, metrics in zip(evals, self.validation):
            reported = {k: v for k, v in record.metrics.items() if not k.startswith("test_")}
            if reported != metrics:
                return (f"forged records: evaluation {record.eval_index} reports {reported}, the evaluation server "
                        f"measured {metrics}")
        if request.mode == "target_setting":
            return None
        target = spec.targets_for(request.hardware_class)
        met = next((r for r, m in zip(evals, self.validation)
                    if spec.meets(m[spec.metric], target.validation) and r.submission_time_s <= request.budget_s),
                   None)
        if (result.status == "reached") != (met is not None) or (
                met is not None and result.time_to_result_s != met.submission_time_s):
            return (f"forged records: the worker reports {result.status} at {result.time_to_result_s}, the "
                    f"evaluations say {'reached at %.2fs' % met.submission_time_s if met else 'not reached'}")
        if result.test or self.test is None:
            return "forged records: the worker reported test metrics it was never given" if result.test else (
                "the worker ended without the test evaluation")
        result.test = self.test
        result.test_target_met = spec.meets(self.test[spec.metric], target.test)
        return None

    def _check_compression(self, evals: list[EvalRecord], result: WorkerResult) -> str | None:
        """The compression track's :meth:`check`: the one record and the result must carry the measurement's
        numbers, and the status is re-derived from them (:func:`harness.tracks.compression.verdict`)."""
        from harness.tracks.compression import verdict

        spec, request = self.request.workload, self.request
        if self.measurements is None:
            return "the worker ended without the measurement of its compressed model"
        if len(evals) != 1 or evals[0].metrics != self.validation[0]:
            return (f"forged records: the worker reported {[e.metrics for e in evals]}, the measurement gave "
                    f"{self.validation[0]}")
        if result.measurements != self.measurements:
            return (f"forged records: the worker reports the measurements {result.measurements}, the measurement "
                    f"gave {self.measurements}")
        if request.mode == "target_setting":
            return None
        submission_s = evals[0].submission_time_s
        why = verdict(spec, request.hardware_class, self.validation[0][spec.metric], self.measurements, submission_s,
                      request.budget_s)
        if (result.status == "reached") != (why is None) or (
                why is None and result.time_to_result_s != submission_s):
            return (f"forged records: the worker reports {result.status} at {result.time_to_result_s}, the "
                    f"measurement says {'reached at %.2fs' % submission_s if why is None else why}")
        if result.test:
            return "forged records: the worker reported test metrics it was never given"
        result.test = self.test or {}
        result.test_target_met = spec.meets(result.test[spec.metric], spec.targets_for(request.hardware_class).test)
        return None


if __name__ == "__main__":
    serve(int(sys.argv[1]))
