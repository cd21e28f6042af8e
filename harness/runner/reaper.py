"""No process of a trial outlives it: the supervisor keeps track of a local trial's process tree, kills (and reaps)
whatever of it is still alive when the trial ends, and fails a trial that left a process behind.

Killing the worker's process group kills what stayed in the group. A process that leaves it (``setsid()``, or
``setpgid()``; a daemon forks, calls ``setsid`` and forks again) used to keep running on the trial's cores after the
trial, unseen. Now:

* The supervisor process is a *child subreaper* (:func:`become_subreaper`, ``PR_SET_CHILD_SUBREAPER``), and so is
  every worker (:func:`harness.runner.supervisor.child_setup`). While the worker lives, whatever the trial starts
  stays below it however it detaches (an orphan is handed to the nearest subreaper above it: the worker, not init);
  when the worker ends, what is left of the trial is handed to the supervisor.
* :meth:`TrialTree.sample` reads the worker's descendants (``/proc/PID/task/TID/children``) at the supervisor's
  resource cadence (every 0.5 s) and once more just before a kill, each as (pid, start time from
  ``/proc/PID/stat``): a number the kernel later gives to another process is not taken for the trial's.
* At the end (:meth:`TrialTree.sweep`, after the worker's group was killed) every process of the trial still alive
  is killed with ``SIGKILL`` (through a pidfd, after checking its start time again), and those that are the
  supervisor's children are reaped (``waitpid`` on that pid only: the workers' own ``wait4`` and every other
  ``Popen`` keep their children), until none is left.

A live process is the trial's (the rule, in order) when it is

1. one the trial's samples saw (same pid and start time);
2. in the worker's session or process group (the kernel does not give a session's or group's number to another
   process while any member lives);
3. in a session led by a process the samples saw, or by a process already found to be the trial's;
4. an *untracked orphan*: a child of the supervisor process that no sample saw, and that is all of: not a session
   leader (the harness starts its own helpers, such as a fork server or an evaluation server, as session leaders
   or in its own session; a daemon forks after ``setsid`` and is not one), in a session other than the harness's,
   under the trial's file-size cap (``RLIMIT_FSIZE``, which every trial process inherits and the harness's own
   helpers do not have), started after the trial started and before its worker ended; and either no other trial of
   this process (``podium run --workers N`` runs trials in threads) was running when it started, or the trials are
   pinned to cores and it is on this trial's cores and on no other running trial's. Otherwise it cannot be told
   whose it is, and is left alone.

Rule 4 only matters for a process that detached after the worker's last sample (the last half second of a trial
that ended by itself): the samples see every other one while the worker lives. A process that raised its own
file-size cap (as root) and detached in that last half second of a trial, or one that asked something outside
the trial's tree to start it (a system service), is not found.

A process *outlived* its trial when it was alive :data:`GRACE_S` after the worker ended by itself (time for a
framework's helper that watches its parent to go, such as torch inductor's compile workers, which check every
second), or when it survived the kill of the worker's process group. Such a trial is ``failed`` (or keeps the
status and reason it already failed with, and gets the note appended): :func:`with_survivors`. A plain child the
worker's group kill takes with it, because the trial was killed anyway (a timeout, a memory limit), did not
outlive it. Trials in a container need none of this: their processes die with the container.
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
import time
from dataclasses import dataclass

from harness.runner.clock import _descendants

PR_SET_CHILD_SUBREAPER = 36
GRACE_S = 2.0  # see the module docstring: a helper that watches its parent goes within a second or two
SWEEP_S = 5.0  # give up on a process that SIGKILL has not ended by then (stuck in the kernel); it is still reported
_TICKS = os.sysconf("SC_CLK_TCK")


def become_subreaper() -> None:
    """Make this process the reaper of its descendants' orphans (idempotent; Linux only, a no-op elsewhere)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1)
    except OSError:
        pass


def boot_ticks() -> int:
    """Now, in the unit of ``/proc/PID/stat``'s start time: clock ticks since boot (CLOCK_BOOTTIME)."""
    return int(time.clock_gettime(time.CLOCK_BOOTTIME) * _TICKS)


@dataclass(frozen=True)
class ProcessStat:
    """What ``/proc/PID/stat`` says about one process."""

    pid: int
    state: str
    ppid: int
    pgid: int
    sid: int
    start: int  # clock ticks after boot (field 22)

    @property
    def alive(self) -> bool:
        return self.state not in ("Z", "X", "x")  # a zombie waits for its reaper; it runs nothing

    @property
    def key(self) -> tuple[int, int]:
        return self.pid, self.start


def read_stat(pid: int) -> ProcessStat | None:
    """``/proc/PID/stat`` of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()  # the command name may hold spaces and parentheses
        return ProcessStat(pid, fields[0], int(fields[1]), int(fields[2]), int(fields[3]), int(fields[19]))
    except (OSError, IndexError, ValueError):
        return None


def _file_cap(pid: int) -> int | None:
    """The soft ``RLIMIT_FSIZE`` of a process in bytes; None when unlimited or unreadable."""
    try:
        with open(f"/proc/{pid}/limits") as fh:
            line = next(line for line in fh if line.startswith("Max file size"))
        return int(line.split()[3])
    except (OSError, StopIteration, IndexError, ValueError):
        return None


def _cores(pid: int) -> set[int] | None:
    try:
        return set(os.sched_getaffinity(pid))
    except OSError:
        return None


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            words = fh.read().rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        words = ""
    return (words[:77] + "...") if len(words) > 80 else (words or "?")


_trials: list[TrialTree] = []  # this process's trials that are running, or ended while one that overlaps runs
_trials_lock = threading.Lock()


class TrialTree:
    """One local trial's processes, from just before its worker is started to the end of :meth:`sweep`.

    Registered from construction, so that a trial running in another thread knows this one is running (rule 4).
    """

    def __init__(self, cores: list[int] | None, file_bytes: int) -> None:
        self.cores = set(cores) if cores is not None else None
        self.file_bytes = file_bytes
        self.start = boot_ticks()
        self.root: int | None = None
        self.worker_end: int | None = None
        self.end: int | None = None
        self.seen: dict[int, int] = {}  # pid -> start time; read from other trials' threads, never iterated
        self._leaders: set[int] = set()  # sessions found to be the trial's (rule 3)
        self.outlived: dict[tuple[int, int], str] = {}  # what the failure reason names
        with _trials_lock:
            _trials.append(self)

    def adopt(self, pid: int) -> None:
        """The worker was started as ``pid``."""
        self.root = pid

    def close(self) -> None:
        """The trial is over (also when its worker could not be started)."""
        if self.end is None:
            self.end = boot_ticks()
        with _trials_lock:
            running = [t.start for t in _trials if t.end is None]
            # an ended trial matters to a running one only if it ran after that one started
            _trials[:] = [t for t in _trials if t.end is None or (running and t.end >= min(running))]

    def sample(self) -> None:
        """Remember the worker's live descendants (about 0.1 ms for a small tree)."""
        if self.root is None:
            return
        for pid in _descendants(self.root):
            stat = read_stat(pid)
            if stat is not None:
                self.seen[pid] = stat.start

    def worker_ended(self, by_itself: bool) -> None:
        """Called just before the worker's group is killed. A worker that ended by itself: what is still alive
        :data:`GRACE_S` later outlived it. Otherwise one last sample, the worker still alive."""
        if not by_itself:
            self.sample()
            return
        self.worker_end = boot_ticks()
        deadline = time.monotonic() + GRACE_S
        alive = [s for s in self._find() if s.alive]
        while alive and time.monotonic() < deadline:
            time.sleep(0.05)
            alive = [s for s in self._find() if s.alive]
        for stat in alive:
            self._outlived(stat)

    def sweep(self) -> None:
        """After the worker's group was killed: kill every process of the trial still alive, reap those that are
        this process's children, and note those the group kill did not reach (see the module docstring)."""
        if self.worker_end is None:
            self.worker_end = boot_ticks()
        me, deadline = os.getpid(), time.monotonic() + SWEEP_S
        try:
            while True:
                found = self._find()
                for stat in found:
                    if stat.alive:
                        if stat.pgid != self.root:
                            self._outlived(stat)
                        _kill(stat)
                    elif stat.ppid == me:
                        _reap(stat.pid)
                if not found or time.monotonic() > deadline:
                    return
                time.sleep(0.01)
        finally:
            self.close()

    def reason(self) -> str | None:
        """The note on the processes that outlived the trial, or None."""
        if not self.outlived:
            return None
        named = "; ".join(self.outlived.values())
        what = "a process" if len(self.outlived) == 1 else f"{len(self.outlived)} processes"
        return f"{what} the trial started outlived it ({named}); killed"

    def _outlived(self, stat: ProcessStat) -> None:
        if stat.key in self.outlived:
            return
        where = ("its own session" if stat.sid != self.root else
                 "the trial's process group" if stat.pgid == self.root else "its own process group")
        self.outlived[stat.key] = f"pid {stat.pid}: {_cmdline(stat.pid)}, {where}"

    def _find(self) -> list[ProcessStat]:
        """Every process of the trial (zombies included), by the rules of the module docstring."""
        me, own_session = os.getpid(), os.getsid(0)
        with _trials_lock:
            others = [t for t in _trials if t is not self]
        roots = {t.root for t in others}
        found = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            stat = read_stat(int(name))
            if stat is None or stat.pid in (me, self.root) or stat.pid in roots:
                continue
            if self._claims(stat) or (not any(t._claims(stat) for t in others)
                                      and self._orphan(stat, me, own_session, others)):
                found.append(stat)
                if stat.sid != own_session:
                    self._leaders.add(stat.sid)
        return found

    def _claims(self, stat: ProcessStat) -> bool:
        """Rules 1-3: certainly this trial's."""
        if self.seen.get(stat.pid) == stat.start or (self.root is not None and self.root in (stat.sid, stat.pgid)):
            return True
        leader_start = self.seen.get(stat.sid)
        return stat.sid in self._leaders or (leader_start is not None and leader_start <= stat.start)

    def _orphan(self, stat: ProcessStat, me: int, own_session: int, others: list[TrialTree]) -> bool:
        """Rule 4: an untracked orphan this trial can safely take as its own."""
        ended = self.worker_end if self.worker_end is not None else boot_ticks()
        if (stat.ppid != me or stat.sid in (stat.pid, own_session) or not self.start <= stat.start <= ended
                or _file_cap(stat.pid) != self.file_bytes):
            return False
        rivals = [t for t in others if t.start <= stat.start and (t.end is None or t.end >= stat.start)]
        if not rivals:
            return True
        cores = _cores(stat.pid)
        return (cores is not None and self.cores is not None and cores <= self.cores
                and all(t.cores is not None and not cores & t.cores for t in rivals))


def _kill(stat: ProcessStat) -> None:
    """SIGKILL to exactly this process: through a pidfd, once its start time is checked again."""
    try:
        fd = os.pidfd_open(stat.pid)
    except (AttributeError, OSError):  # gone (or no pidfd here: then a plain kill after the check)
        again = read_stat(stat.pid)
        if again is not None and again.start == stat.start:
            try:
                os.kill(stat.pid, signal.SIGKILL)
            except OSError:
                pass
        return
    try:
        again = read_stat(stat.pid)
        if again is not None and again.start == stat.start:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
    except OSError:
        pass
    finally:
        os.close(fd)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def with_survivors(status: str, reason: str, tree: TrialTree | None) -> tuple[str, str]:
    """The trial's status once what outlived it is known: ``failed`` with the note, or, for a trial that already
    ended otherwise (failed, timed out, cancelled), its own status and reason with the note appended.

    Example:
        >>> with_survivors("reached", "met the target", None)
        ('reached', 'met the target')
    """
    note = tree.reason() if tree is not None else None
    if note is None:
        return status, reason
    if status in ("reached", "missed"):
        return "failed", note
    return status, f"{reason}; also, {note}"
