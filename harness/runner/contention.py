"""Evidence that a trial did not have its cores to itself, read from outside the trial.

Cloud VMs are noisy: the same trial can take 1.6x longer when a neighbour (another process, another VM through the
hypervisor's *steal*) takes CPU time from its cores. The supervisor reads the per-CPU counters of ``/proc/stat``
for the trial's cores before the trial starts and after it is reaped, and the trial's own CPU time from the kernel's
``wait4`` rusage (every thread, and every child process the worker waited for). From those:

* ``cpu_share``: trial CPU / (busy + steal time of its cores) - the share of the used capacity of its cores that went
  to the trial (1.0: nothing else ran there);
* ``foreign_share``: (busy time of its cores not spent by the trial + steal) / (capacity of its cores over the trial,
  i.e. cores x wall time) - the share of its cores that something else took. This is the contention measure: unlike
  ``cpu_share`` it does not flag a trial that leaves its cores idle (sleeps, waits on I/O, or runs one thread on two
  cores) while the supervisor's own polling uses a few milliseconds of them.

A trial is ``contended`` when ``foreign_share`` exceeds :data:`FOREIGN_LIMIT` (0.2). Where it comes from, on the
2-core ``cpu-2core`` VM: alone on its cores, a trial shares them only with its own supervisor, whose polling took
0.35 s of CPU over a 10.9 s trial (3% of one core: at most 0.02 of a 2-core trial's capacity); one busy-loop
co-tenant per core (``podium calibrate --cotenant``) takes about half of them, and another user's two training
processes on the machine measured 0.63-0.73 (0.76 with the co-tenant added). The limit sits ten times above the
quiet floor and well below a shared core, so kernel threads and short bursts do not trip it.

Per-CPU ``/proc/stat`` counters tick at ``USER_HZ`` (100/s), so a trial shorter than :data:`MIN_WINDOW_S` gets no
verdict (``contended`` is None).

Not seen: contention for memory bandwidth and caches from other cores (no counter shows it without perf events),
and processes the trial spawned that outlived it without being waited for (their CPU counts as foreign).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

#: above this share of its cores' capacity taken by anything else, a trial is contended (see the module docstring).
FOREIGN_LIMIT = 0.2
#: a shorter trial gets no verdict: /proc/stat counts 10 ms ticks per CPU.
MIN_WINDOW_S = 1.0
_TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CoreTimes:
    """Cumulative seconds of a set of CPUs from ``/proc/stat``: busy (user, nice, system, irq, softirq), idle
    (idle, iowait) and steal (time the hypervisor gave the virtual CPU to someone else)."""

    busy: float = 0.0
    idle: float = 0.0
    steal: float = 0.0

    def __sub__(self, other: CoreTimes) -> CoreTimes:
        return CoreTimes(self.busy - other.busy, self.idle - other.idle, self.steal - other.steal)

    @property
    def total(self) -> float:
        return self.busy + self.idle + self.steal


def read_cores(cores: list[int], stat: Path = Path("/proc/stat")) -> CoreTimes:
    """The cumulative times of ``cores`` (a zero reading where /proc/stat is unreadable)."""
    wanted = {f"cpu{c}" for c in cores}
    busy = idle = steal = 0
    try:
        lines = stat.read_text().splitlines()
    except OSError:
        return CoreTimes()
    for line in lines:
        name, *values = line.split()
        if name in wanted:
            user, nice, system, idle_, iowait, irq, softirq, steal_ = (int(v) for v in values[:8])
            busy += user + nice + system + irq + softirq  # guest time is already inside user
            idle += idle_ + iowait
            steal += steal_
    return CoreTimes(busy * _TICK_S, idle * _TICK_S, steal * _TICK_S)


def runnable_now() -> int:
    """Tasks running or ready to run on the whole machine, not counting the reader itself (``/proc/loadavg``)."""
    try:
        fields = Path("/proc/loadavg").read_text().split()
        return max(int(fields[3].split("/")[0]) - 1, 0)
    except (OSError, IndexError, ValueError):
        return 0


def loadavg_1m() -> float:
    return os.getloadavg()[0]


def trial_cores(affinity: list[int] | None) -> list[int]:
    """The cores a trial may run on: its pinned cores, or every core this process may use."""
    return sorted(affinity) if affinity is not None else sorted(os.sched_getaffinity(0))


@dataclass(frozen=True)
class ContentionRecord:
    """What the supervisor saw of a trial's cores; stored with the trial (column names are the field names)."""

    cores: list[int]
    trial_cpu_s: float | None
    cores_busy_s: float
    cores_steal_s: float
    cores_capacity_s: float
    cpu_share: float | None
    foreign_share: float | None
    contended: bool | None
    involuntary_switches: int | None
    load_mean: float | None
    loadavg_1m: float

    def fields(self) -> dict[str, object]:
        return asdict(self)


def assess(cores: list[int], delta: CoreTimes, trial_cpu_s: float | None, involuntary: int | None,
           load_samples: list[int]) -> ContentionRecord:
    """The contention record of one trial from its cores' counters over the trial and its own CPU time.

    Example:
        >>> r = assess([0], CoreTimes(busy=2.0, idle=0.0, steal=0.0), 1.0, 900, [1, 1])
        >>> (r.cpu_share, r.foreign_share, r.contended)
        (0.5, 0.5, True)
    """
    used = delta.busy + delta.steal
    capacity = delta.total
    share = foreign = verdict = None
    if trial_cpu_s is not None and capacity > 0:
        share = min(trial_cpu_s / used, 1.0) if used > 0 else 1.0
        foreign = (max(delta.busy - trial_cpu_s, 0.0) + delta.steal) / capacity
        if capacity >= MIN_WINDOW_S * len(cores):
            verdict = foreign > FOREIGN_LIMIT
    load = sum(load_samples) / len(load_samples) if load_samples else None
    return ContentionRecord(cores, trial_cpu_s, delta.busy, delta.steal, capacity, share, foreign, verdict,
                            involuntary, load, loadavg_1m())


_BUSY_LOOP = "while True:\n    pass\n"


def _pin(core: int) -> Callable[[], None]:
    """Runs in the child before exec: the busy loop is on its core from its first instruction."""
    return lambda: os.sched_setaffinity(0, {core})


class CoTenant:
    """A documented co-tenant load: one busy-loop process pinned to each of ``cores``, killed on exit.

    Used by ``podium calibrate --cotenant`` and the contention tests to put a trial on cores it must share.

    Example:
        >>> with CoTenant([0]) as load:
        ...     len(load.processes)
        1
    """

    def __init__(self, cores: list[int]) -> None:
        self.cores = cores
        self.processes: list[subprocess.Popen] = []

    def __enter__(self) -> CoTenant:
        try:
            for core in self.cores:
                self.processes.append(subprocess.Popen([sys.executable, "-c", _BUSY_LOOP], stdin=subprocess.DEVNULL,
                                                       preexec_fn=_pin(core)))
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Kill every busy loop this co-tenant started, and reap it."""
        for process in self.processes:
            process.kill()
            process.wait()
        self.processes.clear()
