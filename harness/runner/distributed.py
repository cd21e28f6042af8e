"""A one-process ``torch.distributed`` group for every trial, set up the way AlgoPerf's runner sets up each process.

AlgoPerf runs PyTorch submissions under ``torchrun``: each process finds ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK`` (and ``LOCAL_WORLD_SIZE``) in its environment and an initialised process group (NCCL). Some
submissions rely on it: Distributed Shampoo's ``DDPDistributor`` refuses to start without a group. A Podium trial is
one process, so :func:`start` gives it a group of world size 1 (gloo on the CPU, NCCL on a GPU):

* rendezvous goes through an in-process ``HashStore``: no port is opened for it and no file is written, so it
  cannot collide with another trial; ``MASTER_ADDR`` and ``MASTER_PORT`` are not set, since nothing listens there;
* gloo and NCCL are told to use the loopback interface, so the sockets they open for themselves stay on this
  machine;
* a submission that assumes a topology a single process cannot have (8 trainers per group, 2 ranks...) fails, and
  :func:`failure_note` adds to its reason that a Podium trial has world size 1.

Only the trial worker calls :func:`start` (before the submission is imported) and :func:`stop`.
"""

from __future__ import annotations

import os
import re
import socket
import traceback

ENVIRONMENT = {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "LOCAL_WORLD_SIZE": "1", "GROUP_RANK": "0"}

#: Why the group could not be started, when it could not (the trial goes on without one).
_start_error: str | None = None

#: Words in an exception's message that say it is about the number of processes, ranks or trainers.
_TOPOLOGY = re.compile(r"world[ _]?size|trainers|process[ _]group|torch\.distributed", re.IGNORECASE)


def backend_for(device: str) -> str:
    """AlgoPerf's backend on a GPU (NCCL), gloo on the CPU."""
    return "nccl" if device.startswith("cuda") else "gloo"


def start(device: str) -> None:
    """Set ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and start a world-size-1 process group for ``device``.

    Never raises: a machine whose PyTorch has no distributed support, or where the backend cannot start, runs the
    trial without a group, and :func:`failure_note` then says why a submission that needed one failed.
    """
    global _start_error
    os.environ.update(ENVIRONMENT)
    loopback = _loopback_interface()
    if loopback:
        os.environ.setdefault("GLOO_SOCKET_IFNAME", loopback)
        os.environ.setdefault("NCCL_SOCKET_IFNAME", loopback)
    try:
        import torch.distributed as dist

        if not dist.is_available():
            raise RuntimeError("this PyTorch build has no torch.distributed")
        if not dist.is_initialized():
            dist.init_process_group(backend_for(device), store=dist.HashStore(), rank=0, world_size=1)
        _start_error = None
    except Exception as exc:  # noqa: BLE001 - a trial without a group still runs most submissions
        _start_error = f"{type(exc).__name__}: {exc}"


def stop() -> None:
    """Tear the group down (when the trial's submission has not already done so)."""
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    except Exception:  # noqa: BLE001 - the trial's result is already decided; nothing to report it to
        pass


def failure_note(exc: BaseException) -> str:
    """Text to append to a failed trial's reason when the failure is about the distributed topology, else "".

    Said when the exception's message speaks of world size, trainers or process groups, or when it was raised
    inside ``torch.distributed``. (Not "rank": linear algebra speaks of ranks too.)
    """
    frames = traceback.extract_tb(exc.__traceback__)
    in_distributed = any(f"torch{os.sep}distributed{os.sep}" in frame.filename for frame in frames)
    if not (in_distributed or _TOPOLOGY.search(str(exc))):
        return ""
    if _start_error is not None:
        return f" (torch.distributed could not be started for this trial: {_start_error})"
    return (" (a Podium trial is one process: torch.distributed has world size 1 and rank 0, so a topology with "
            "more processes, ranks or trainers per group cannot exist here)")


def _loopback_interface() -> str | None:
    """The name of the loopback network interface (``lo`` on Linux), or None when there is none to name."""
    try:
        names = [name for _, name in socket.if_nameindex()]
    except OSError:
        return None
    return next((name for name in ("lo", "lo0") if name in names), None)
