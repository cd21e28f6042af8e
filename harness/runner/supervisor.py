"""The supervisor: runs one trial in a fresh process, enforces its limits from outside, and alone decides its status.

Like ``asv/runner.py``: every outcome maps to a status and a reason, and results are read from a dedicated channel
(a pipe carrying JSON lines), never from logs. Statuses:

* ``reached`` - the validation target was met within the budget;
* ``missed``  - the budget was spent (or the submission declared itself done) without meeting it;
* ``failed``  - with a reason: an exception in submission code, a non-finite loss, ``sys.exit``/``os._exit``, a
  crash (signal), memory above the limit, an output flood, clock tampering, or a process the trial started that
  outlived it;
* ``timed_out`` - the process ran past a limit (submission code hanging past the budget, a slow start-up,
  an initialisation or evaluation that did not finish) and was killed.

Every trial also gets its wall time accounted for (:func:`account`: start-up, loading, initialisation, submission,
evaluation, overhead, tail) and its contention measured from outside (:mod:`harness.runner.contention`).

The process runs in its own session; killing means ``SIGKILL`` to the whole process group. No process of a local
trial survives it: the worker and this process are child subreapers, the supervisor follows the trial's process
tree, and at the end kills and reaps whatever of it is left, in the group or not (a process that called
``setsid``, a daemon); a trial that left a process running is ``failed`` ("a process the trial started outlived
it (pid N: ..., its own session); killed"). The rules, and what they cannot see, are in
:mod:`harness.runner.reaper`. If the supervisor itself dies, the kernel kills the worker (``PR_SET_PDEATHSIG``)
and its next record write fails on the closed pipe.

The watching and judging (:func:`supervise`) do not care how the trial was started: :func:`run_trial` starts a local
process, and :mod:`harness.executors.container` starts the same worker in a sealed container; both hand over a
:class:`TrialProcess` and a :class:`RecordReader`.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import psutil

from harness.runner import forkserver, reaper
from harness.runner.clock import tree_rss
from harness.runner.evaluator import Evaluations, Measure, server_for, supervised, uses_server
from harness.runner.contention import ContentionRecord, CoreTimes, assess, read_cores, runnable_now, trial_cores
from harness.runner.made import ensure_made
from harness.runner.messages import EvalRecord, EvalRequest, Heartbeat, LoopStart, Phase, TrialRequest, WorkerResult

# The supervisor shares the trial's cores, and each time it wakes it takes one from a thread of the trial (which
# the trial's other threads then wait for at their next barrier): `python benchmarks/step_overhead.py` measured the
# harness/bare ratio at a median of 1.050 over ten runs with a poll every 0.02 s and the /proc reads every 0.1 s, and
# of 1.031 over eight (1.023-1.052) with the values below (README, "Tests and benchmarks"). A trial that ends is seen
# at once all the same (see ExitWait).
POLL_S = 0.1  # heartbeat sampling period; also the resolution of the supervisor's own submission-time estimate
MEMORY_POLL_EVERY = 5  # memory, load and output every 5 polls (0.5 s) ...
MEMORY_CLOSE = 0.5  # ... and at every poll once the trial holds more than this share of its memory limit
#: How far a worker's reported submission time may fall below the supervisor's estimate before the trial fails as
#: "clock tampering" (:func:`clock_allowance`): a constant, a share of the estimate, and per evaluation a constant
#: plus the time to save the model the evaluation read. The supervisor's estimate of a trial evaluated by the
#: evaluation server counts, as loop time, the worker's untimed work around each evaluation (saving the
#: ``state_dict``, the request and the reply); the heartbeat's estimate is sampled every :data:`POLL_S`, so it may
#: be a poll off at each phase change. Measured on three fresh-clone demo runs' 132 trials (the gap between estimate
#: and report, ``provenance.evidence``): at most 1.21 s, on a 34.8 s trial with 17 evaluations at load 3.1 (the
#: allowance there: 2.4 s); at most 3.5% of the estimate; about 0.01 s per evaluation (the README's "Clock").
CLOCK_SLACK_S = 1.0
CLOCK_SLACK_SHARE = 0.03
CLOCK_SLACK_PER_EVALUATION_S = (0.01, 2 * POLL_S)  # the evaluation server's estimate, the heartbeat's
SAVE_BYTES_PER_S = 100e6  # the slowest save of a state_dict allowed for (a busy disk); 90 MB of MiniLM: 0.9 s


@dataclass
class TrialOutcome:
    """What the supervisor concluded, plus the worker's own account when it delivered one."""

    status: str
    reason: str
    result: WorkerResult | None
    wall_s: float
    peak_rss_bytes: int
    estimated_submission_s: float
    log_path: Path
    evals: list[EvalRecord] = field(default_factory=list)
    executor: str = "local"  # where the trial ran: ``local`` (a process here) or ``docker`` (a sealed container)
    image_digest: str | None = None  # the image ID a docker trial ran in
    contention: ContentionRecord | None = None
    #: wall seconds from starting the process to the worker's first line (interpreter start and imports), and from
    #: the end of the worker's account (after the test evaluation) to the end of the wall time (result, exit, reap).
    spawn_s: float | None = None
    tail_s: float | None = None
    #: how the local process started: ``warm`` (forked by a fork server) or ``cold`` (a new interpreter)
    start: str = "cold"
    #: where the evaluations ran in the evaluation server (:mod:`harness.runner.evaluator`): the waits' wall seconds
    #: and the CPU seconds the trial's processes used during them (stopped: about zero)
    evaluation_wait_s: float | None = None
    evaluation_wait_cpu_s: float | None = None
    #: processes of the trial seen running at the end of an evaluation (none: the whole trial was stopped)
    running_during_evaluation: list[int] = field(default_factory=list)
    #: the attempt produced no outcome because the machine running it went away (a Ray node died): run it again
    lost: bool = False
    #: where a trial on a cluster ran: the node's id, hostname and CPU model (``harness.executors.ray``)
    placement: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialStart:
    """The moment a trial was started, as the supervisor saw it: CLOCK_MONOTONIC and its cores' counters."""

    monotonic: float
    cores: list[int]
    counters: CoreTimes

    @classmethod
    def now(cls, request: TrialRequest) -> TrialStart:
        """Read just before the trial process is created."""
        cores = trial_cores(request.cpu_affinity)
        return cls(time.monotonic(), cores, read_cores(cores))


def child_setup(file_bytes: int, cpus: list[int] | None) -> Callable[[], None]:
    """Runs in the child between fork and exec: die with the parent, pin to its cores, cap the size of any file,
    and keep every process it starts below it (a subreaper: see :mod:`harness.runner.reaper`)."""

    def setup() -> None:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        libc.prctl(reaper.PR_SET_CHILD_SUBREAPER, 1)  # kept across exec: the trial's orphans come to the worker
        if cpus is not None:
            os.sched_setaffinity(0, cpus)
        # No file may grow past the scratch limit (the backstop for a file written outside the scratch folder;
        # CPython ignores SIGXFSZ, so a Python writer gets EFBIG). The log is capped separately: see LogPump.
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))

    return setup


def child_env(threads: int) -> dict[str, str]:
    """What a process running submission code gets: no credentials, its threads, the harness importable."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if k in keep or k.startswith(("PODIUM_", "HF_"))}
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), PYTHONHASHSEED="0",
               PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    return env


def _child_env(request: TrialRequest) -> dict[str, str]:
    """The environment every trial of this kind gets (the fork server's too)."""
    return {**child_env(request.threads), "PYTHONUNBUFFERED": "1"}


def scratch_env(scratch: Path) -> dict[str, str]:
    """One trial's own variables: every temporary file and compile cache goes to its scratch folder, which starts
    empty (torch.compile and Triton compile from a cold cache, as on a fresh machine) and is deleted afterwards."""
    return dict(TMPDIR=str(scratch), TORCHINDUCTOR_CACHE_DIR=str(scratch / "torchinductor"),
                TRITON_CACHE_DIR=str(scratch / "triton"), XDG_CACHE_HOME=str(scratch / "cache"))


class LogPump(threading.Thread):
    """Copies the trial's stdout and stderr (one pipe) to its log, up to the output cap.

    The cap limits what the trial prints, not the files it writes. Past the cap the pump writes one last chunk (so
    the log's size shows the flood to the supervisor's next poll) and stops reading: the trial then blocks on its
    next write until the supervisor kills it, so a flood cannot fill the disk however fast it is.
    """

    CHUNK = 1 << 16

    def __init__(self, read_fd: int, log: Path, cap: int) -> None:
        super().__init__(daemon=True)
        self.read_fd, self.log, self.cap = read_fd, log, cap

    def run(self) -> None:
        written = 0
        with open(self.log, "ab") as out, os.fdopen(self.read_fd, "rb", buffering=0) as pipe:
            while written <= self.cap:
                chunk = pipe.read(self.CHUNK)
                if not chunk:
                    return
                out.write(chunk)
                out.flush()
                written += len(chunk)


class TrialProcess(Protocol):
    """A started trial as the supervisor sees it: a local process group, or a container.

    ``pid`` is the root of the trial's process tree on this machine (its memory is measured from there);
    ``poll()`` returns None while it runs, then its exit status (negative: killed by that signal);
    ``kill_all()`` kills everything the trial started, waits for it, and sets ``returncode``.
    """

    pid: int
    returncode: int | None

    def poll(self) -> int | None: ...
    def kill_all(self) -> None: ...


class _Reaped:
    """Reaping with ``wait4``, which also returns the kernel's resource usage of the trial (every thread, and every
    child it waited for): the trial's CPU time and context switches, out of the submission's reach."""

    pid: int
    returncode: int | None = None
    rusage: resource.struct_rusage | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self._reap(os.WNOHANG)
        return self.returncode

    def _reap(self, options: int) -> None:
        try:
            pid, status, usage = os.wait4(self.pid, options)
        except ChildProcessError:
            return
        if pid == self.pid:
            self.rusage = usage
            self.returncode = os.waitstatus_to_exitcode(status)


class ProcessGroup(_Reaped, subprocess.Popen):
    """A local worker started cold (a new interpreter), in its own session; killing it kills the whole group."""

    def kill_all(self) -> None:
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.returncode is None:
            self._reap(0)
        self.wait()


class _ForkedTrial(_Reaped):
    """A local worker forked by the fork server (:mod:`harness.runner.forkserver`): this process's child, in its
    own session once it has set itself up. Killing it kills the group, and the process itself in case it is killed
    before it has its own session."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def kill_all(self) -> None:
        for kill, target in ((os.killpg, self.pid), (os.kill, self.pid)):
            try:
                kill(target, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.returncode is None:
            self._reap(0)


def _warm_server(request: TrialRequest) -> forkserver.ForkServer | None:
    """The fork server for the trial's environment, started and holding the workload's data; None: start cold.

    Called before the trial's clock and contention window open: the server's own start (imports, once per
    server) and data loading (once per workload) belong to no trial.
    """
    if not forkserver.enabled():
        return None
    try:
        return forkserver.server_for(_child_env(request), request.workload.builder)
    except forkserver.ForkServerError:
        return None


def _start_warm(server: forkserver.ForkServer, request: TrialRequest, argv: list[str], records_fd: int,
                output_fd: int, scratch: Path, reply_fd: int | None = None) -> _ForkedTrial | None:
    """Fork the trial from ``server``; None (start it cold) when that fails."""
    try:
        pid = server.start_trial(forkserver.TrialOrder(
            argv=argv, env=scratch_env(scratch), cwd=str(scratch), cpus=request.cpu_affinity,
            file_bytes=request.limits.scratch_bytes), records_fd, output_fd, reply_fd)
    except forkserver.ForkServerError:
        return None
    trial = _ForkedTrial(pid)
    try:
        ours = psutil.Process(pid).ppid() == os.getpid()
    except psutil.NoSuchProcess:
        ours = False
    if not ours:  # not ours to reap (no subreaper here): start it cold instead
        trial.kill_all()
        return None
    return trial


def pipe_lines(fd: int) -> Iterator[bytes]:
    """The records pipe's lines until the worker (the pipe's only writer) is gone."""
    with os.fdopen(fd, "rb") as pipe:
        yield from pipe


class RecordReader(threading.Thread):
    """Reads JSON-line records from the worker and hands each evaluation to the callback as it arrives.

    ``lines`` makes the line source from :attr:`ended`, an event the supervisor sets once the trial process is gone:
    a pipe ignores it (it ends by itself), a tailed records file reads to its end after it and stops.
    """

    def __init__(self, lines: Callable[[threading.Event], Iterable[bytes]],
                 on_eval: Callable[[EvalRecord], None], evaluations: Evaluations | None = None,
                 reply_fd: int | None = None) -> None:
        super().__init__(daemon=True)
        self.lines, self.on_eval = lines, on_eval
        self.evaluations, self.reply_fd = evaluations, reply_fd
        self.ended = threading.Event()
        self.evals: list[EvalRecord] = []
        self.result: WorkerResult | None = None
        self.error: str | None = None

    def run(self) -> None:
        for line in self.lines(self.ended):
            try:
                self._handle(line)
            except Exception as exc:  # noqa: BLE001 - a garbled record fails the trial, not the run
                self.error = self.error or f"unreadable record from the worker: {exc}"

    def _handle(self, line: bytes) -> None:
        kind = json.loads(line).get("type")
        if self.result is not None:  # the worker sends nothing after its result: this line is not the harness's
            self.error = self.error or f"forged records: a {kind!r} record after the trial's result"
        elif kind == "eval":
            record = EvalRecord.model_validate_json(line)
            self.evals.append(record)
            self.on_eval(record)
        elif kind == "result":
            self.result = WorkerResult.model_validate_json(line)
            if self.evaluations is not None:
                self.evaluations.finish()
        elif kind in ("evaluate", "loop") and self.evaluations is not None:
            if kind == "loop":
                self.evaluations.loop(LoopStart.model_validate_json(line).part)
                return
            try:
                reply = self.evaluations.answer(EvalRequest.model_validate_json(line))
            except Exception as exc:  # noqa: BLE001 - the worker waits for an answer: it must get one
                reply = {"error": f"the harness could not evaluate: {type(exc).__name__}: {exc}"}
            try:
                os.write(self.reply_fd, json.dumps(reply).encode() + b"\n")
            except OSError:  # the worker is gone; its end is judged from its exit
                pass
        else:
            raise ValueError(f"unknown record type {kind!r}")


def resources_due(polls: int, last_rss: int, memory_bytes: float) -> bool:
    """Whether poll number ``polls`` (from 1) reads memory, load and output: every :data:`MEMORY_POLL_EVERY` polls
    from the first on (1, 6, 11, ...: a trial shorter than the period still gets a look), and at every poll once the
    last reading held more than :data:`MEMORY_CLOSE` of the memory limit.

    Example:
        >>> [p for p in range(1, 12) if resources_due(p, 0, 100)], resources_due(2, 60, 100)
        ([1, 6, 11], True)
    """
    return polls % MEMORY_POLL_EVERY == 1 % MEMORY_POLL_EVERY or last_rss > MEMORY_CLOSE * memory_bytes


class _Watch:
    """The polling loop's state: limits per phase, the submission-time estimate, memory and output."""

    #: the scratch folder's size is read every this many memory checks (about once a second): a walk of a compile
    #: cache costs more than a look at the memory
    SCRATCH_EVERY = 10

    def __init__(self, request: TrialRequest, heartbeat: Heartbeat, process: TrialProcess, log: Path,
                 started: float, scratch: Path | None = None) -> None:
        self.request, self.heartbeat, self.process, self.log = request, heartbeat, process, log
        self.evaluations: Evaluations | None = None
        self.scratch = scratch
        self.limits = request.limits
        self.started = started
        self.load_samples: list[int] = []  # runnable tasks on the machine, sampled with the memory checks
        self.estimated_submission_s = 0.0
        self.peak_rss = self.last_rss = 0
        self._polls = 0
        self._last = self.started

    def poll(self) -> tuple[str, str] | None:
        """One look from outside; returns ``(status, reason)`` if the trial must be killed.

        The estimate of the submission time is the supervisor's own where it runs the trial's evaluations (the
        loop's wall time less their waits: :meth:`Evaluations.estimate`), else the time the heartbeat showed the
        SUBMISSION phase (which the worker's process writes: see the README's guarantee table).
        """
        t = time.monotonic()
        phase, since, submission_s, step = self.heartbeat.read()
        observed = self.evaluations.estimate(t) if self.evaluations is not None else None
        if observed is not None:
            self.estimated_submission_s = observed
        elif phase == Phase.SUBMISSION and self.evaluations is None:
            self.estimated_submission_s += t - self._last
        self._last = t
        self._polls += 1
        verdict = self._phase_limit(phase, t - since if since else t - self.started, submission_s, t, since, step)
        if verdict is None:
            verdict = self._clock_overrun()
        if verdict is None and resources_due(self._polls, self.last_rss, self.limits.memory_bytes):
            self.load_samples.append(runnable_now())
            verdict = self._resources()
        return verdict

    def _phase_limit(self, phase: Phase, in_phase: float, submission_s: float, t: float, since: float,
                     step: int) -> tuple[str, str] | None:
        limits, budget = self.limits, self.request.budget_s
        if t - self.started > limits.wall_limit(budget):
            return "timed_out", (f"the trial ran {t - self.started:.0f}s of wall time, past its overall limit of "
                                 f"{limits.wall_limit(budget):.0f}s; killed")
        if phase == Phase.STARTING and t - self.started > limits.startup_s:
            return "timed_out", f"start-up (imports, data loading, importing the submission) took over {limits.startup_s:.0f}s"
        if phase == Phase.INIT and in_phase > limits.init_s:
            return "timed_out", f"initialisation (get_batch_size / init_optimizer_state) ran over {limits.init_s:.0f}s"
        if phase == Phase.SUBMISSION and submission_s + in_phase > budget + limits.hang_grace_s:
            if self.request.workload.track == "compression":  # one call, compress: there are no steps
                where = "in its compress call (more work than the budget allows, or a hang)"
            elif step == 0:
                where = ("in one call at step 0 (the first update: a compilation such as torch.compile counts as "
                         "submission time, or a hang)")
            else:
                where = f"in one call at step {step} (a hang?)"
            return ("timed_out", f"submission code ran {submission_s + in_phase:.1f}s, past the {budget:.0f}s budget "
                    f"plus {limits.hang_grace_s:.0f}s grace, {where}; killed")
        if phase == Phase.EVAL and in_phase > limits.eval_s:
            return "timed_out", f"an evaluation ran over {limits.eval_s:.0f}s"
        return None

    def _clock_overrun(self) -> tuple[str, str] | None:
        """A worker whose own clock is stopped never reaches the budget, so the end-of-trial check would never come.

        An honest worker reports at most ``budget + hang_grace_s`` (one call may overrun the budget by the grace);
        once this estimate is so far past that the end-of-trial check (:func:`_judge`) is bound to fail, stop now.
        """
        most = self.request.budget_s + self.limits.hang_grace_s
        observed = self.estimated_submission_s
        if observed - clock_allowance(observed, self.evaluations) > most:
            return "failed", (f"clock tampering: the supervisor observed about {self.estimated_submission_s:.2f}s of "
                              f"submission time, but the worker never reached the {self.request.budget_s:.0f}s "
                              f"budget; killed")
        return None

    def _resources(self) -> tuple[str, str] | None:
        rss = self.last_rss = tree_rss(self.process.pid)
        self.peak_rss = max(self.peak_rss, rss)
        if rss > self.limits.memory_bytes:
            return "failed", (f"memory limit exceeded: {rss / 2**30:.2f} GiB resident > "
                              f"{self.limits.memory_bytes / 2**30:.2f} GiB allowed per trial; killed")
        if self._polls % (MEMORY_POLL_EVERY * self.SCRATCH_EVERY) == 0:
            verdict = self.scratch_full("killed")
            if verdict is not None:
                return verdict
        return self.output_flood()

    def scratch_full(self, then: str) -> tuple[str, str] | None:
        """``failed`` if the scratch folder holds more than the limit. Read about once a second while the trial runs,
        and once more after it ends: a trial shorter than a second is judged on the files it left."""
        if self.scratch is None:
            return None
        used = folder_bytes(self.scratch)
        if used > self.limits.scratch_bytes:
            return "failed", (f"scratch folder full: the trial wrote {used / 2**30:.2f} GiB of files, over the "
                              f"{self.limits.scratch_bytes / 2**30:.2f} GiB allowed per trial; {then}")
        return None

    def output_flood(self) -> tuple[str, str] | None:
        size = self.log.stat().st_size if self.log.exists() else 0
        if size > self.limits.output_bytes:
            return "failed", (f"output flood: {size / 2**20:.1f} MiB written to stdout/stderr, over the "
                              f"{self.limits.output_bytes / 2**20:.0f} MiB cap; killed")
        return None


def folder_bytes(folder: Path) -> int:
    """Bytes of the regular files under ``folder`` (files that vanish during the walk are skipped)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


def _exit_reason(returncode: int, log: Path) -> tuple[str, str]:
    """Status for a worker that ended without delivering its result."""
    if returncode < 0:
        sig = signal.Signals(-returncode)
        if sig == signal.SIGXFSZ:
            return "failed", ("a file the trial wrote reached the per-trial file-size limit (SIGXFSZ)"
                              f"{_log_tail(log)}")
        return "failed", f"the trial process crashed with {sig.name}{_log_tail(log)}"
    return "failed", (f"the trial process exited with code {returncode} before reporting a result "
                      f"(os._exit or sys.exit outside a submission function?){_log_tail(log)}")


def _log_tail(log: Path, lines: int = 3) -> str:
    try:
        tail = log.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return ""
    return (" | last output: " + " / ".join(line.strip()[:200] for line in tail)) if tail else ""


def clock_allowance(observed_s: float, evaluations: Evaluations | None, evaluated: int = 0) -> float:
    """Seconds a worker's reported submission time may fall below the supervisor's estimate ``observed_s`` (see
    :data:`CLOCK_SLACK_S`). ``evaluations``: the evaluation server's account (its count and the bytes it read) when
    the trial used it; otherwise ``evaluated`` evaluations were timed by the heartbeat.

    Example:
        >>> round(clock_allowance(30.0, None, 10), 2)
        3.9
    """
    if evaluations is not None:
        count, saved = evaluations.evaluations, evaluations.saved_bytes
        per = CLOCK_SLACK_PER_EVALUATION_S[0]
    else:
        count, saved, per = evaluated, 0, CLOCK_SLACK_PER_EVALUATION_S[1]
    return CLOCK_SLACK_S + CLOCK_SLACK_SHARE * observed_s + count * per + saved / SAVE_BYTES_PER_S


def _judge(watch: _Watch, reader: RecordReader, returncode: int, log: Path) -> tuple[str, str]:
    """The final status from everything the supervisor saw. The worker's account is checked, not trusted.

    A trial the worker reports ``failed`` keeps the worker's reason (the submission's exception, its type, message
    and file:line), whatever the clock says: a submission that raised fails either way, and the exception is what
    its author needs. "Clock tampering" is reported only for a trial the worker says went well.
    """
    result = reader.result
    flood = watch.output_flood()
    if flood is not None:
        return flood
    if reader.error:
        return "failed", reader.error
    if result is None:
        return _exit_reason(returncode, log)
    if result.status == "failed":
        return result.status, result.reason
    if reader.evaluations is not None:
        watch.estimated_submission_s = reader.evaluations.estimate(time.monotonic()) or 0.0
        forged = reader.evaluations.check(reader.evals, result)
        if forged is not None:
            return "failed", forged
    observed = watch.estimated_submission_s
    allowance = clock_allowance(observed, reader.evaluations, len(reader.evals))
    if result.submission_time_s < observed - allowance:
        return "failed", (f"clock tampering: the worker reported {result.submission_time_s:.2f}s of submission time "
                          f"but the supervisor observed about {observed:.2f}s (allowed: {allowance:.2f}s less)")
    return result.status, result.reason


def run_trial(request: TrialRequest, workdir: Path, on_eval: Callable[[EvalRecord], None] = lambda r: None,
              on_poll: Callable[[float, int], None] | None = None,
              cancel: threading.Event | None = None) -> TrialOutcome:
    """Run one trial in a fresh local process and return the supervisor's verdict.

    The process is forked by the fork server for the trial's environment (:mod:`harness.runner.forkserver`: torch
    imported, the workload's data loaded and verified once per server), or, where that is off or fails, a new
    interpreter; either way it is set up alike and runs no code of an earlier trial.

    Args:
        request: the trial.
        workdir: where the request, heartbeat and log files go (``<workdir>/<trial_id>.*``).
        on_eval: called with each evaluation record as soon as it arrives (the store commits it).
        on_poll: called about every 0.5 s with (submission seconds, step), for progress displays.
        cancel: when set (the run was interrupted), the trial is killed and its status is ``cancelled``.
    """
    ensure_made(request.workload)  # outside the trial's limits (a no-op once made: see harness.runner.made)
    workdir = Path(os.path.abspath(workdir))  # the worker starts in another folder: relative paths would break
    workdir.mkdir(parents=True, exist_ok=True)
    request_path = workdir / f"{request.trial_id}.request.json"
    request_path.write_text(request.model_dump_json(indent=1))
    log = workdir / f"{request.trial_id}.log"
    log.write_bytes(b"")
    scratch = workdir / f"{request.trial_id}.scratch"
    shutil.rmtree(scratch, ignore_errors=True)  # an earlier attempt's files: every attempt starts empty
    scratch.mkdir()
    heartbeat = Heartbeat(workdir / f"{request.trial_id}.heartbeat", create=True)
    argv = [str(request_path), str(workdir / f"{request.trial_id}.heartbeat")]
    server = _warm_server(request)
    evaluations = Evaluations(request, scratch, measure=local_measure(request)) if supervised(request) else None
    if uses_server(request):
        server_for(request)  # started (imports, the workload's data) before the trial's clock and window open
    read_fd, write_fd = os.pipe()
    out_read, out_write = os.pipe()
    reply_read, reply_write = os.pipe() if evaluations is not None else (None, None)
    reaper.become_subreaper()  # every orphan of the trial comes to this process (see harness.runner.reaper)
    tree = reaper.TrialTree(request.cpu_affinity, request.limits.scratch_bytes)
    start = TrialStart.now(request)
    try:
        process: TrialProcess | None = server and _start_warm(server, request, argv, write_fd, out_write, scratch,
                                                              reply_read)
        if process is None:
            passed = (write_fd,) if reply_read is None else (write_fd, reply_read)
            process = ProcessGroup(
                [sys.executable, "-m", "harness.runner.worker", *argv, *map(str, passed)],
                stdin=subprocess.DEVNULL, stdout=out_write, stderr=subprocess.STDOUT, pass_fds=passed,
                start_new_session=True, preexec_fn=child_setup(request.limits.scratch_bytes, request.cpu_affinity),
                env={**_child_env(request), **scratch_env(scratch)}, cwd=scratch)
    except BaseException:
        tree.close()  # no worker: this trial is no other trial's rival (harness.runner.reaper, rule 4)
        raise
    tree.adopt(process.pid)
    os.close(write_fd)
    os.close(out_write)
    if reply_read is not None:
        os.close(reply_read)
    pump = LogPump(out_read, log, request.limits.output_bytes)
    pump.start()
    reader = RecordReader(lambda ended: pipe_lines(read_fd), on_eval, evaluations, reply_write)
    reader.start()
    try:
        outcome = supervise(request, process, heartbeat, reader, log, on_poll, cancel, start, scratch, tree)
    finally:
        pump.join(timeout=2)  # a process that escaped the trial's group may hold the pipe: do not wait for it
        if reply_write is not None:
            os.close(reply_write)
        shutil.rmtree(scratch, ignore_errors=True)
    outcome.start = "warm" if isinstance(process, _ForkedTrial) else "cold"
    return outcome


def local_measure(request: TrialRequest) -> Measure:
    """The compression track's measurement of a local trial: a fresh process on this machine, set up as the trial's
    own (its environment, cores and file-size cap, a session of its own), in a folder of its own that the trial never
    saw (made when the measurement starts, removed after it); its CPU is read by ``wait4``."""
    from harness.tracks.compression import run_measurement

    def measure(model: Path) -> tuple[dict, float]:
        with tempfile.TemporaryDirectory(prefix="podium-measure-") as folder:
            return run_measurement(request.model_dump_json(), model, Path(folder), request.limits.eval_s,
                                   env={**_child_env(request), **scratch_env(Path(folder))},
                                   preexec_fn=child_setup(request.limits.scratch_bytes, request.cpu_affinity))

    return measure


class ExitWait:
    """The pause between two polls, cut short when the trial's root process ends (a pidfd, Linux 5.3+; a plain
    sleep elsewhere): the supervisor polls rarely (:data:`POLL_S`) without seeing a trial's end late."""

    def __init__(self, pid: int) -> None:
        self.ended = False
        try:
            self.fd: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):  # no pidfd here, or the process is already gone
            self.fd = None

    def sleep(self, seconds: float) -> None:
        if self.fd is None:
            time.sleep(min(seconds, 0.01) if self.ended else seconds)
        elif select.select([self.fd], [], [], seconds)[0]:
            self.ended = True  # its status may come a little later (a container's, from the engine)
            self.close()

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> ExitWait:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def supervise(request: TrialRequest, process: TrialProcess, heartbeat: Heartbeat, reader: RecordReader, log: Path,
              on_poll: Callable[[float, int], None] | None = None,
              cancel: threading.Event | None = None, start: TrialStart | None = None,
              scratch: Path | None = None, tree: reaper.TrialTree | None = None) -> TrialOutcome:
    """Watch a started trial until it ends or must be killed, then decide its status (shared by every executor).

    The trial is always killed at the end (with everything it spawned), the heartbeat closed, and the records read
    to their end before the verdict. ``start`` is what :meth:`TrialStart.now` read before the process was created
    (default: now); the wall time and the contention window run from it. ``tree`` (a local trial's) follows the
    trial's processes: one that outlives the trial is killed and fails it (:mod:`harness.runner.reaper`).
    """
    start = start or TrialStart.now(request)
    watch = _Watch(request, heartbeat, process, log, start.monotonic, scratch)
    watch.evaluations = reader.evaluations
    if reader.evaluations is not None:
        reader.evaluations.pid = process.pid
    verdict, pause = None, ExitWait(process.pid)
    try:
        while process.poll() is None:
            verdict = watch.poll()
            if verdict is not None:
                break
            if cancel is not None and cancel.is_set():
                verdict = ("cancelled", "the run was interrupted; this trial restarts when the run resumes")
                break
            if on_poll is not None and watch._polls % MEMORY_POLL_EVERY == 0:
                _, _, submission_s, step = heartbeat.read()
                on_poll(submission_s, step)
            if tree is not None and resources_due(watch._polls, watch.last_rss, request.limits.memory_bytes):
                tree.sample()
            pause.sleep(POLL_S)
    finally:
        pause.close()
        # On a verdict, Ctrl-C or any supervisor error: never leave a trial running. After a normal exit it still
        # kills the process group: whatever the submission spawned and left behind dies with the trial.
        _kill_trial(process, tree)
        heartbeat.close()
        reader.ended.set()
    ended = time.monotonic()
    counters = read_cores(start.cores) - start.counters
    reader.join(timeout=10)
    if verdict is None:
        verdict = watch.scratch_full("the trial's result is void")
    status, reason = verdict if verdict is not None else _judge(watch, reader, process.returncode, log)
    status, reason = reaper.with_survivors(status, reason, tree)
    peak = max(watch.peak_rss, reader.result.peak_rss_bytes if reader.result else 0)
    outcome = TrialOutcome(status, reason, reader.result, ended - start.monotonic, peak, watch.estimated_submission_s,
                           log, reader.evals)
    outcome.contention = _contention(start, counters, process, reader.result, watch.load_samples,
                                     reader.evaluations.server_cpu_s if reader.evaluations is not None else 0.0)
    outcome.spawn_s, outcome.tail_s = account(start.monotonic, ended, reader.result)
    if reader.evaluations is not None:
        outcome.evaluation_wait_s = reader.evaluations.waited_s
        outcome.evaluation_wait_cpu_s = reader.evaluations.wait_cpu_s
        outcome.running_during_evaluation = list(reader.evaluations.running)
    return outcome


def _kill_trial(process: TrialProcess, tree: reaper.TrialTree | None) -> None:
    """Kill the trial's process group; with a ``tree``, first note what outlived a worker that ended by itself,
    then kill and reap whatever of the trial the group kill missed."""
    try:
        if tree is not None:
            tree.worker_ended(by_itself=process.returncode is not None)
    finally:
        process.kill_all()
        if tree is not None:
            tree.sweep()


def _contention(start: TrialStart, counters: CoreTimes, process: TrialProcess, result: WorkerResult | None,
                load_samples: list[int], evaluation_cpu_s: float = 0.0) -> ContentionRecord:
    """The trial's CPU time from the kernel (``wait4``), or from the worker's own account where there is no local
    process to reap (a container), set against its cores' counters. The evaluation server's CPU for this trial
    (``evaluation_cpu_s``) is the trial's own work on its cores, not a neighbour's."""
    usage = getattr(process, "rusage", None)
    if usage is not None:
        cpu, involuntary = usage.ru_utime + usage.ru_stime + evaluation_cpu_s, usage.ru_nivcsw
    elif result is not None and result.tree_cpu_s is not None:
        cpu, involuntary = result.tree_cpu_s + evaluation_cpu_s, result.involuntary_switches
    else:
        cpu, involuntary = None, None
    return assess(start.cores, counters, cpu, involuntary, load_samples)


def account(started: float, ended: float, result: WorkerResult | None) -> tuple[float | None, float | None]:
    """The two parts of the wall time only the supervisor can see: ``(spawn, tail)``.

    Spawn runs from just before the process was created to the worker's first line (interpreter start and the
    worker's imports); tail from the end of the worker's account (after the test evaluation) to the end of the wall
    time (sending the result, exiting, the supervisor's last poll and reaping). Both ends compare CLOCK_MONOTONIC
    readings of two processes, which Linux keeps system-wide. With the worker's own columns they make up the wall:
    ``spawn + startup + init + submission + eval + overhead + tail``.
    """
    if result is None or result.started_monotonic is None or result.ended_monotonic is None:
        return None, None
    return result.started_monotonic - started, ended - result.ended_monotonic
