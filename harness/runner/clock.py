"""The one clock that measures submission time.

The time source is bound when this module is imported, which the worker does before it imports any submission:
a submission that later replaces ``time.perf_counter`` (or anything else in ``time``) does not change what this clock
reads. The device sync is part of the clock, so asynchronous GPU work is charged to the code that queued it.

Next to wall-clock submission time the clock keeps *CPU* submission time: the CPU seconds of the worker process (all
its threads: ``CLOCK_PROCESS_CPUTIME_ID``) inside the same start/stop intervals, one ~1 us read at each end. CPU
time barely moves when a neighbour takes the cores (the trial waits, it does not compute), so it is the steadier
clock on a shared CPU machine. Child processes of the submission are added at evaluation boundaries
(:func:`children_cpu_s`): the harness starts none, so all their CPU is the submission's.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable

from harness.runner.messages import Heartbeat, Phase

_monotonic: Callable[[], float] = time.monotonic  # bound now; see the module docstring
_perf_counter: Callable[[], float] = time.perf_counter
_process_time: Callable[[], float] = time.process_time
_getrusage = resource.getrusage
_listdir, _getpid, _open = os.listdir, os.getpid, open
_TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def now() -> float:
    """Harness wall time (seconds, arbitrary origin)."""
    return _perf_counter()


def monotonic() -> float:
    """CLOCK_MONOTONIC: system-wide on Linux, so the supervisor can compare it with its own readings."""
    return _monotonic()


def _descendants(pid: int) -> list[int]:
    """Live descendants of ``pid`` from ``/proc/PID/task/TID/children`` (empty where the kernel lacks the file)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        try:
            for tid in _listdir(f"/proc/{current}/task"):
                with _open(f"/proc/{current}/task/{tid}/children") as fh:
                    children = [int(c) for c in fh.read().split()]
                found += children
                todo += children
        except OSError:
            continue
    return found


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and its live descendants, from ``/proc`` (0 for a process that is gone).

    About 0.1 ms here, where psutil's ``children(recursive=True)`` scans every process on the machine (about 3 ms):
    the supervisor reads it twice a second (ten times once a trial nears its memory limit), on the cores the trial
    is using.
    """
    total = 0
    for current in (pid, *_descendants(pid)):
        try:
            with _open(f"/proc/{current}/statm") as fh:
                total += int(fh.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


def _process_cpu(pid: int) -> float:
    """utime + stime + cutime + cstime of a live process (its own CPU and that of the children it waited for)."""
    try:
        with _open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return sum(int(v) for v in fields[11:15]) * _TICK_S
    except (OSError, IndexError, ValueError):
        return 0.0


def children_cpu_s() -> float:
    """CPU seconds of this process's children, cumulative: the reaped ones (``RUSAGE_CHILDREN``) and the live ones."""
    usage = _getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime + sum(_process_cpu(pid) for pid in _descendants(_getpid()))


def device_sync(device: str, framework: str = "pytorch") -> Callable[..., None]:
    """The sync to run before reading the clock, given what the timed call returned: work it queued must finish
    before its time is read. PyTorch on CUDA: ``torch.cuda.synchronize()``. JAX, on any device (its CPU backend
    dispatches asynchronously too): ``jax.block_until_ready`` on everything the call returned, so a jitted update's
    compilation and computation are charged to the call that started them (AlgoPerf's JAX runner reads the clock
    without waiting)."""
    if framework == "jax":
        import jax

        def block(outputs: object = None) -> None:
            jax.block_until_ready(outputs)

        return block
    if device == "cuda":
        import torch

        def synchronize(outputs: object = None) -> None:
            torch.cuda.synchronize()

        return synchronize
    return lambda outputs=None: None


class SubmissionClock:
    """Accumulates submission time over ``start()``/``stop()`` pairs and publishes the phase to the heartbeat.

    Example:
        >>> clock = SubmissionClock(heartbeat=None)
        >>> clock.start(); clock.stop() >= 0.0
        True
    """

    def __init__(self, heartbeat: Heartbeat | None, sync: Callable[..., None] = lambda outputs=None: None) -> None:
        self.submission_s = 0.0
        self.cpu_s = 0.0  # CPU seconds of this process inside the intervals (children: see cpu_submission_s)
        self._started = 0.0
        self._cpu_started = 0.0
        self._children_base = 0.0
        self._sync = sync
        self._slots = heartbeat.slots if heartbeat is not None else [0.0] * Heartbeat.SLOTS

    def phase(self, phase: Phase, step: int | None = None) -> None:
        slots = self._slots
        slots[0] = float(phase)
        slots[1] = _monotonic()
        if step is not None:
            slots[3] = float(step)

    def start(self, step: int | None = None) -> None:
        """Start timing; ``step`` (the update about to run) goes to the heartbeat for the supervisor's reports."""
        self.phase(Phase.SUBMISSION, step)
        self._cpu_started = _process_time()
        self._started = _perf_counter()

    def stop(self, outputs: object = None) -> float:
        """Stop timing, after a device sync that waits for ``outputs`` (what the timed call returned) where the
        framework needs them (:func:`device_sync`); returns the seconds of this interval."""
        self._sync(outputs)
        elapsed = _perf_counter() - self._started
        self.cpu_s += _process_time() - self._cpu_started
        self.submission_s += elapsed
        self._slots[2] = self.submission_s
        self.phase(Phase.HARNESS)
        return elapsed

    def mark_children(self) -> None:
        """Children's CPU from now on is the submission's (called when the timed loop starts)."""
        self._children_base = children_cpu_s()

    def cpu_submission_s(self) -> float:
        """CPU submission time so far: this process inside the intervals, plus its children since the loop started.

        Reads ``/proc``: call it at evaluation boundaries, not every step.
        """
        return self.cpu_s + max(children_cpu_s() - self._children_base, 0.0)
