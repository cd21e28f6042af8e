"""Warm trial starts: a server process that has imported the framework and loaded the workloads' data forks a fresh
process for each trial.

A cold trial start pays for an interpreter, ``import torch``, ``torch._dynamo`` (the first ``torch.optim`` optimizer
imports it) and the dataset's decode and checksums, every time: about 3-6 s on this 2-core machine, many times a
``digits_mlp`` trial's submission time. The server pays it once per run. Each trial is still a fresh process that
has run no submission code: the server forks a copy-on-write child, which sets itself up exactly as a cold start is
set up (its own session, its cores, the file-size cap, the output pipe as stdout and stderr, the records pipe, its
scratch folder as working folder and ``TMPDIR``, a freshly seeded numpy generator) and then runs
:func:`harness.runner.worker.main`. Nothing a trial does
reaches the server or another trial.

Why the server forks twice: the supervisor reaps each trial with ``wait4`` (the kernel's account of its CPU time and
context switches, see :mod:`harness.runner.contention`), so the trial must be the supervisor's child. The supervisor
marks itself a *child subreaper* (``PR_SET_CHILD_SUBREAPER``); the server forks a middle process that forks the trial
and exits at once, and the kernel hands the orphaned trial to the nearest subreaper above it: the supervisor. The
server reports the trial's pid only after the middle process has exited, so the supervisor never waits for a
process that is not yet its child. The trial then asks to be killed when the supervisor dies
(``PR_SET_PDEATHSIG``), as a cold start does.

What the server does before forking is limited to what survives ``fork``: imports and numpy arrays. It runs no torch
operation (OpenMP's thread pool does not survive a fork) and imports no submission. A workload's builder module
may define ``warm()`` (load and verify its data, with the loader cached); the server calls it the first time a trial
of that workload is requested, so data is read and checked once per server rather than once per trial. A ``warm()``
that raises is ignored here: the trial then fails in its own loading, with the real error, as a cold one would.

``PODIUM_TRIAL_START=cold`` turns the server off (every trial a new interpreter). A server that dies or stops
answering is replaced by a cold start for that trial; the run goes on.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import asdict, dataclass

from harness.runner import reaper

PR_SET_PDEATHSIG = 1
MESSAGE_BYTES = 1 << 16
START_TIMEOUT_S = 120.0  # the server's own imports (torch) on a busy machine
FORK_TIMEOUT_S = 30.0  # one fork, or one warm() (a dataset decode) on a busy machine
REPARENT_TIMEOUT_S = 10.0


class ForkServerError(RuntimeError):
    """The server is gone or did not answer; the caller starts the trial cold instead."""


def _prctl(option: int, value: int) -> None:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(option, value)


def enabled() -> bool:
    return os.environ.get("PODIUM_TRIAL_START", "warm").lower() != "cold"


# ---------------------------------------------------------------------------------------------- the server process


@dataclass(frozen=True)
class TrialOrder:
    """What the trial needs besides its two descriptors (records, output): the worker's arguments, its own
    environment variables (on top of the server's), its working folder, cores and file-size cap."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    cpus: list[int] | None
    file_bytes: int


def _trial_child(order: dict, records_fd: int, output_fd: int, parent: int, reply_fd: int | None = None) -> None:
    """In the forked trial: wait to be the supervisor's child, set up as a cold start would, run the worker."""
    deadline = time.monotonic() + REPARENT_TIMEOUT_S
    while os.getppid() != parent:  # the middle process is exiting; the kernel re-parents us to the supervisor
        if time.monotonic() > deadline:
            os._exit(70)
        time.sleep(0.0002)
    from harness.runner.supervisor import child_setup  # imported by serve() before the fork: no cost here

    child_setup(order["file_bytes"], order["cpus"])()  # die with the supervisor, pin, cap files: as a cold start
    if os.getppid() != parent:  # the supervisor died between the check and the prctl
        os._exit(70)
    os.setsid()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    os.close(null)
    os.close(output_fd)
    os.environ.update(order["env"])
    tempfile.tempdir = None  # gettempdir() must read this trial's TMPDIR, not a value cached before the fork
    os.chdir(order["cwd"])
    import numpy as np

    np.random.seed()  # a new interpreter seeds numpy's global generator from the OS; so does a warm start
    from harness.runner import worker

    extra = [] if reply_fd is None else [str(reply_fd)]
    worker.main([*order["argv"], str(records_fd), *extra])  # ends with os._exit
    os._exit(0)


def _fork_trial(conn: socket.socket, order: dict, records_fd: int, output_fd: int, reply_fd: int | None = None
                ) -> dict:
    """Fork the middle process, which forks the trial and exits; return the trial's pid once it is re-parented."""
    read_pid, write_pid = os.pipe()
    middle = os.fork()
    if middle == 0:
        try:
            os.close(read_pid)
            trial = os.fork()
            if trial == 0:
                os.close(write_pid)
                conn.close()
                try:
                    _trial_child(order, records_fd, output_fd, order["parent"], reply_fd)
                except BaseException:  # noqa: BLE001 - set-up failed: say why on the trial's output, exit non-zero
                    traceback.print_exc()
                    os._exit(70)
            os.write(write_pid, str(trial).encode())
        finally:
            os._exit(0)
    os.close(write_pid)
    os.close(records_fd)
    if reply_fd is not None:
        os.close(reply_fd)
    os.close(output_fd)
    with os.fdopen(read_pid, "rb") as pipe:
        written = pipe.read()
    os.waitpid(middle, 0)  # after this the trial's parent is the supervisor
    return {"pid": int(written)} if written else {"error": "the fork server could not fork the trial"}


def _warm(builder: str, warmed: set[str]) -> None:
    module_name = builder.split(":")[0]
    if module_name in warmed:
        return
    warmed.add(module_name)
    try:
        warm = getattr(importlib.import_module(module_name), "warm", None)
        if warm is not None:
            warm()
    except Exception:  # noqa: BLE001 - the trial reports the real error when it loads the workload itself
        pass


def serve(fd: int) -> None:
    """The server's loop: one order at a time, until the supervisor closes the socket."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    import numpy  # noqa: F401 - imported before any fork: every trial needs them
    import torch  # noqa: F401
    import torch._dynamo  # noqa: F401 - the first optimizer imports it (about a second)
    import torch.distributed  # noqa: F401 - every trial starts a one-process group (harness.runner.distributed)
    import torch.optim  # noqa: F401

    from harness.runner import worker  # noqa: F401 - binds the clock before any submission is imported
    from harness.runner import supervisor  # noqa: F401 - child_setup, for the trials

    conn = socket.socket(fileno=fd)
    warmed: set[str] = set()
    conn.send(b'{"ready": true}')
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(conn, MESSAGE_BYTES, 3)
        except OSError:
            return
        if not data:
            return
        order = json.loads(data)
        if not fds:  # a warm-up order (server_for sends one for the trial's workload before every fork)
            _warm(order["builder"], warmed)
            conn.send(b'{"warmed": true}')
            continue
        try:
            reply = _fork_trial(conn, order, *fds)
        except OSError as exc:
            reply = {"error": f"the fork server could not fork the trial: {exc}"}
        conn.send(json.dumps(reply).encode())


# ---------------------------------------------------------------------------------------------- the supervisor side


class ForkServer:
    """The supervisor's handle on one server; started with the environment its trials get."""

    def __init__(self, env: dict[str, str]) -> None:
        reaper.become_subreaper()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.lock = threading.Lock()
        self.socket = ours
        self.process = subprocess.Popen(
            [sys.executable, "-m", "harness.runner.forkserver", str(theirs.fileno())], pass_fds=(theirs.fileno(),),
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        theirs.close()
        try:
            self._exchange(None, [], START_TIMEOUT_S)
        except ForkServerError:
            self.close()
            raise

    def _exchange(self, order: dict | None, fds: list[int], timeout: float) -> dict:
        try:
            self.socket.settimeout(timeout)
            if order is not None:
                socket.send_fds(self.socket, [json.dumps(order).encode()], fds)
            reply = self.socket.recv(MESSAGE_BYTES)
        except OSError as exc:
            raise ForkServerError(f"the fork server did not answer: {exc}") from None
        if not reply:
            raise ForkServerError("the fork server exited")
        return json.loads(reply)

    def warm(self, builder: str) -> None:
        """Have the server load ``builder``'s data (once per server; see the module docs)."""
        with self.lock:
            self._exchange(dict(builder=builder), [], FORK_TIMEOUT_S * 4)

    def start_trial(self, order: TrialOrder, records_fd: int, output_fd: int, reply_fd: int | None = None) -> int:
        """Fork one trial; returns its pid (a child of this process, to be reaped with ``wait4``). ``reply_fd``: the
        read end of the evaluation answers (:mod:`harness.runner.evaluator`), where the trial is evaluated there."""
        fds = [records_fd, output_fd] + ([] if reply_fd is None else [reply_fd])
        with self.lock:
            reply = self._exchange(dict(asdict(order), parent=os.getpid()), fds, FORK_TIMEOUT_S)
        if "pid" not in reply:
            raise ForkServerError(reply.get("error", f"unexpected reply {reply}"))
        return reply["pid"]

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        self.socket.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


_servers: dict[tuple, ForkServer] = {}
_servers_lock = threading.Lock()


def server_for(env: dict[str, str], builder: str) -> ForkServer:
    """The live server for this environment (the trial's threads, paths and ``PODIUM_*`` settings) holding
    ``builder``'s data. Started once; a server that has died or stops answering is replaced, once.

    Raises:
        ForkServerError: no working server could be had (the caller starts the trial cold).
    """
    key = tuple(sorted(env.items()))
    for attempt in range(2):
        with _servers_lock:
            server = _servers.get(key)
            if server is None or not server.alive():
                if server is not None:
                    server.close()
                server = _servers[key] = ForkServer(env)
        try:
            server.warm(builder)
            return server
        except ForkServerError:
            with _servers_lock:
                server.close()
                _servers.pop(key, None)
            if attempt:
                raise
    raise AssertionError("unreachable")


def server_pids() -> set[int]:
    """The pids of this process's live fork servers (they outlive trials; no submission code runs in them)."""
    with _servers_lock:
        return {s.process.pid for s in _servers.values() if s.alive()}


def close_all() -> None:
    with _servers_lock:
        for server in _servers.values():
            server.close()
        _servers.clear()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
