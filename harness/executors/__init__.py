"""Executors: where a trial's worker process runs. The supervisor's watching and judging are the same for all.

* ``local`` - a process on this machine (:func:`harness.runner.supervisor.run_trial`): the default, and the fastest.
* ``ray`` - a task per trial on a Ray cluster's node of the trial's hardware class, running the trial under the same
  supervisor as ``local`` (:mod:`harness.executors.ray`); the driver stays the only writer of the store.
* ``docker`` - a fresh, sealed container per trial (:mod:`harness.executors.container`): no network, the submission
  and the dataset folders read-only, one writable results folder, CPU and memory limits, a non-root user, and the
  image's ID recorded with every trial. The image is built by ``podium docker build`` (:mod:`harness.executors.images`).

Every trial row says which executor ran it (and the image ID), and a run never mixes the two.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # types only: harness.runner.run imports this package, and the runner modules import it back
    from harness.runner.messages import EvalRecord, TrialRequest
    from harness.runner.supervisor import TrialOutcome

EXECUTORS = ("local", "docker", "ray")


class ExecutorError(RuntimeError):
    """The executor cannot run trials (no engine, no image); the message says what to do. The CLI exits 2."""


class TrialRunner(Protocol):
    """Runs one trial and returns the supervisor's verdict; says where trials run, for the trial rows."""

    executor: str
    image_digest: str | None

    def run_trial(self, request: TrialRequest, workdir: Path,
                  on_eval: Callable[[EvalRecord], None] = ...,
                  on_poll: Callable[[float, int], None] | None = None,
                  cancel: threading.Event | None = None) -> TrialOutcome: ...


class LocalRunner:
    """Each trial in a fresh local process (the supervisor's own :func:`~harness.runner.supervisor.run_trial`)."""

    executor = "local"
    image_digest = None

    def run_trial(self, request: TrialRequest, workdir: Path, on_eval: Callable[[EvalRecord], None] = lambda r: None,
                  on_poll: Callable[[float, int], None] | None = None,
                  cancel: threading.Event | None = None) -> TrialOutcome:
        from harness.runner.supervisor import run_trial

        return run_trial(request, workdir, on_eval=on_eval, on_poll=on_poll, cancel=cancel)


def runner_for(executor: str, image: str | None = None, submission_dir: Path | None = None,
               address: str | None = None) -> TrialRunner:
    """The runner an executor name stands for; ``docker`` connects to the engine and resolves the image now, ``ray``
    joins the cluster at ``address`` (default: the one running here).

    Raises:
        ExecutorError: unknown executor, no reachable Docker engine, or no such image (one message each).
    """
    if executor == "local":
        if image is not None:
            raise ExecutorError("--image only applies to --executor docker")
        return LocalRunner()
    if executor == "docker":
        from harness.executors.container import DockerRunner

        return DockerRunner.connect(image, submission_dir)
    if executor == "ray":
        if submission_dir is None:
            raise ExecutorError("the ray executor sends the submission folder to its nodes: give one")
        from harness.executors.ray import RayRunner

        return RayRunner.connect(address, submission_dir, image)
    raise ExecutorError(f"unknown executor {executor!r}: use one of {', '.join(EXECUTORS)}")


__all__ = ["EXECUTORS", "ExecutorError", "LocalRunner", "TrialRunner", "runner_for"]
