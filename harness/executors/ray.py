"""The Ray executor: a run's trials spread over a Ray cluster, each one a Ray task that runs the trial under the
same supervisor as the local executor (a fresh process, the same limits, clock, evaluation server and verdict).

**Placement.** A node offers a hardware class by declaring a custom resource, ``podium-hw-<class>``, whose amount
is how many trials of that class it runs at once (1 for published numbers: a trial alone on its node's cores)::

    ray start --head --resources '{"podium-hw-cpu-2core": 1}'               # the first machine
    ray start --address HEAD:6379 --resources '{"podium-hw-cpu-2core": 1}'  # every other one

Each trial's task asks for one unit of its class's resource and for the class's cores (``num_cpus`` = the trial's
threads), so it lands only on a node of its class. A run whose class no node offers fails before any trial starts.

**What travels.** The driver (``podium run``) sends each task the trial's request and the submission folder as a
tar archive with its hash; the task unpacks it into a temporary folder on the node, checks the hash and runs the
trial from there. Podium itself, the datasets and the cached models must be installed on every node (the same
commit: a node whose harness differs from the driver's refuses the trial).

**One writer.** The task is a streaming generator: each evaluation record is yielded as it arrives, then the
outcome. The driver is the only process that writes the results store, and commits each record as it comes (as
with the local executor), so a killed driver loses nothing committed and a re-run resumes.

**A lost node.** When the task's node or worker dies mid-trial, the driver gets a Ray error instead of an
outcome; the trial is then ``failed`` with ``lost`` set, and the run re-runs it with the same seed, up to its
attempts (each recorded in ``attempts_json``). An attempt's row and evaluations start afresh
(:meth:`harness.store.ResultsStore.start_trial`), so a retried trial leaves neither duplicates nor half a record.

**Sealed trials on a cluster.** With ``--image``, the task runs the trial with the docker executor on its node
(a fresh container of that image, no network, read-only inputs; the node needs Docker and the image, built there
with ``podium docker build``); the image's ID on that node is recorded with the trial.

**Provenance.** Every trial records the node's id, hostname and CPU model; one whose CPU model is not the one its
class's targets were set on is flagged in the trial's provenance (``cpu_model_mismatch``).
"""

from __future__ import annotations

import io
import os
import queue
import socket
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.executors import ExecutorError

if TYPE_CHECKING:
    from harness.runner.messages import EvalRecord, TrialRequest
    from harness.runner.supervisor import TrialOutcome

RESOURCE_PREFIX = "podium-hw-"
NAMESPACE = "podium"
SKIP_DIRS = ("__pycache__",)  # what the archive leaves out (hash_tree skips it too, with hidden files)


def resource_for(hardware_class: str) -> str:
    """The custom resource a node declares to offer ``hardware_class``.

    >>> resource_for("cpu-2core")
    'podium-hw-cpu-2core'
    """
    return RESOURCE_PREFIX + hardware_class


def start_hint(hardware_class: str) -> str:
    return (f"ray start --head --resources '{{\"{resource_for(hardware_class)}\": 1}}' (and on every other machine: "
            f"ray start --address HEAD:6379 --resources '{{\"{resource_for(hardware_class)}\": 1}}')")


def pack_folder(folder: Path) -> bytes:
    """The submission folder as an uncompressed tar archive (what the task unpacks), caches left out."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if any(part in SKIP_DIRS for part in rel.parts):
                continue
            tar.add(path, arcname=rel.as_posix(), recursive=False)
    return buffer.getvalue()


def unpack_folder(archive: bytes, dest: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r") as tar:
        tar.extractall(dest, filter="data")


# ------------------------------------------------------------------------------------------------ the node's side

#: The thread that runs every trial of this Ray worker process. A trial's fork server asks to die with the thread
#: that started it (``PR_SET_PDEATHSIG``); one long-lived thread keeps the server, and warm starts, across tasks.
_SUPERVISOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="podium-supervisor")


def node_facts() -> dict[str, Any]:
    """Where this task runs: the Ray node id, the hostname and the CPU model."""
    import ray

    from harness.provenance import cpu_model

    return {"node_id": ray.get_runtime_context().get_node_id(), "hostname": socket.gethostname(),
            "node_cpu_model": cpu_model()}


def run_on_node(request_json: str, archive: bytes, submission_hash: str, harness_commit: str,
                workdir: str | None, image: str | None = None) -> Iterator[tuple[str, Any]]:
    """The task's body (a generator): ``("node", facts)``, then ``("eval", record)`` for each evaluation as it
    arrives, ``("poll", (seconds, step))`` now and then, and last ``("outcome", outcome)``. With ``image``, the
    trial runs in a fresh sealed container of that image on the node's Docker engine (the docker executor's
    :class:`~harness.executors.container.DockerRunner`), else as a local process."""
    from harness.provenance import git_commit, hash_tree
    from harness.runner.messages import TrialRequest
    from harness.runner.supervisor import run_trial

    facts = node_facts()
    yield "node", facts
    here = git_commit()
    if harness_commit and here and here != harness_commit:
        raise ExecutorError(f"node {facts['hostname']} runs Podium at {here[:12]}, the driver at "
                            f"{harness_commit[:12]}: install the same commit on every node")
    request = TrialRequest.model_validate_json(request_json)
    with tempfile.TemporaryDirectory(prefix="podium-ray-") as tmp:
        folder = Path(tmp) / Path(request.submission_dir).name
        folder.mkdir()
        unpack_folder(archive, folder)
        if hash_tree(folder) != submission_hash:
            raise ExecutorError(f"the submission unpacked on {facts['hostname']} does not hash to the run's "
                                f"{submission_hash[:12]}")
        request = request.model_copy(update={"submission_dir": str(folder)})
        trials = Path(workdir) if workdir and _writable(Path(workdir)) else Path(tmp) / "trials"
        records: queue.Queue = queue.Queue()
        done = object()

        def supervise() -> None:
            try:
                run = run_trial
                if image is not None:
                    from harness.executors.container import DockerRunner

                    run = DockerRunner.connect(image, folder).run_trial
                outcome = run(request, trials, on_eval=lambda r: records.put(("eval", r)),
                              on_poll=lambda s, step: records.put(("poll", (s, step))))
                records.put(("outcome", outcome))
            except BaseException as exc:  # noqa: BLE001 - re-raised in the task, so the driver sees it
                records.put(("error", exc))
            finally:
                records.put((done, None))

        _SUPERVISOR.submit(supervise)
        last_poll = 0.0
        while True:
            kind, item = records.get()
            if kind is done:
                return
            if kind == "error":
                raise item
            if kind == "poll":
                if time.monotonic() - last_poll < 1.0:  # the driver's display needs no more than one a second
                    continue
                last_poll = time.monotonic()
            yield kind, item


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return os.access(folder, os.W_OK)
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------- the driver's side


class RayRunner:
    """Runs each trial as a Ray task on a node of its hardware class (see the module's doc)."""

    executor = "ray"

    def __init__(self, address: str | None, submission_dir: Path, submission_hash: str | None = None,
                 image: str | None = None) -> None:
        from harness.provenance import git_commit, hash_tree

        self.address, self.image = address, image
        self.submission_dir = submission_dir.resolve()
        self.archive = pack_folder(self.submission_dir)
        self.submission_hash = submission_hash or hash_tree(self.submission_dir)
        self.harness_commit = git_commit() or ""
        self._task: Any = None

    @property
    def image_digest(self) -> str | None:
        """What a run's rows record as their environment: the image name trials run sealed in (each node's image ID
        is in the trial's provenance), or None for local processes on the nodes; a run never mixes the two."""
        return self.image

    @classmethod
    def connect(cls, address: str | None, submission_dir: Path, image: str | None = None) -> RayRunner:
        """Join the cluster at ``address`` (``None``: the one running on this machine); with ``image``, each trial
        runs in a sealed container of that image on its node (built there with ``podium docker build``).

        Raises:
            ExecutorError: Ray is not installed, or no cluster answers (the message says how to start one).
        """
        try:
            import ray
        except ImportError:
            raise ExecutorError("the ray executor needs Ray: pip install 'ray[default]'") from None
        if address is not None:
            _reachable(address)
        if not ray.is_initialized():
            try:
                ray.init(address=address or "auto", namespace=NAMESPACE, log_to_driver=False,
                         logging_level="ERROR", configure_logging=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = f"at {address}" if address else "on this machine"
                raise ExecutorError(f"no Ray cluster {where} ({str(exc).splitlines()[0][:160]}). Start one with "
                                    f"{start_hint('cpu-2core')}, or pass --address HOST:PORT of a running "
                                    "head") from None
        return cls(address, submission_dir, image=image)

    def capacity(self, hardware_class: str) -> int:
        """How many trials of ``hardware_class`` the cluster runs at once (the nodes' resource units, summed)."""
        import ray

        return int(ray.cluster_resources().get(resource_for(hardware_class), 0))

    def check_class(self, hardware_class: str) -> int:
        """The cluster's capacity for ``hardware_class``; :class:`ExecutorError` when no node offers it."""
        capacity = self.capacity(hardware_class)
        if capacity < 1:
            import ray

            offered = sorted(k.removeprefix(RESOURCE_PREFIX) for k in ray.cluster_resources()
                             if k.startswith(RESOURCE_PREFIX))
            raise ExecutorError(f"no node of the Ray cluster offers hardware class {hardware_class!r} (offered: "
                                f"{', '.join(offered) or 'none'}). A node offers it when started with "
                                f"--resources '{{\"{resource_for(hardware_class)}\": 1}}': "
                                f"{start_hint(hardware_class)}")
        return capacity

    def _remote(self) -> Any:
        if self._task is None:
            import ray

            self._task = ray.remote(run_on_node)
        return self._task

    def run_trial(self, request: TrialRequest, workdir: Path, on_eval: Callable[[EvalRecord], None] = lambda r: None,
                  on_poll: Callable[[float, int], None] | None = None,
                  cancel: threading.Event | None = None) -> TrialOutcome:
        import ray

        started = time.monotonic()
        task = self._remote().options(num_returns="streaming", max_retries=0, num_cpus=request.threads,
                                      resources={resource_for(request.hardware_class): 1})
        stream = task.remote(request.model_dump_json(), self.archive, self.submission_hash, self.harness_commit,
                             str(workdir), self.image)
        stop = threading.Event()
        if cancel is not None:  # Ctrl-C of the run: kill the task (the supervisor's trial dies with its process)
            def watch() -> None:
                while not stop.wait(0.2):
                    if cancel.is_set():
                        ray.cancel(stream, force=True)
                        return
            threading.Thread(target=watch, daemon=True).start()
        facts: dict[str, Any] = {}
        try:
            for ref in stream:
                kind, item = ray.get(ref)
                if kind == "node":
                    facts = item
                elif kind == "eval":
                    on_eval(item)
                elif kind == "poll" and on_poll is not None:
                    on_poll(*item)
                elif kind == "outcome":
                    return self._placed(item, facts, request.hardware_class)
            raise ExecutorError("the trial's task ended without an outcome")
        except ray.exceptions.TaskCancelledError:
            return lost_outcome(request, workdir, time.monotonic() - started, "cancelled", facts, lost=False)
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause if isinstance(getattr(exc, "cause", None), BaseException) else exc
            if isinstance(cause, ExecutorError):
                raise ExecutorError(str(cause)) from None
            if cancel is not None and cancel.is_set():
                return lost_outcome(request, workdir, time.monotonic() - started, "cancelled", facts, lost=False)
            raise
        except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError, ray.exceptions.ObjectLostError,
                ray.exceptions.RaySystemError, ray.exceptions.LocalRayletDiedError) as exc:
            if cancel is not None and cancel.is_set():
                return lost_outcome(request, workdir, time.monotonic() - started, "cancelled", facts, lost=False)
            where = facts.get("hostname", "its node")
            return lost_outcome(request, workdir, time.monotonic() - started,
                                f"lost: the Ray worker or node running it died ({type(exc).__name__} on {where})",
                                facts)
        finally:
            stop.set()

    def _placed(self, outcome: TrialOutcome, facts: dict[str, Any], hardware_class: str) -> TrialOutcome:
        """``outcome`` with where it ran: the node's facts, and a flag when its CPU is not its class's."""
        expected = class_cpu_model(hardware_class)
        placed = dict(facts)
        if expected and facts.get("node_cpu_model") and facts["node_cpu_model"] != expected:
            placed["cpu_model_mismatch"] = f"ran on {facts['node_cpu_model']}; {hardware_class} is {expected}"
        outcome.executor = "ray"
        outcome.placement = placed
        return outcome


def _reachable(address: str, timeout: float = 5.0) -> None:
    """Fail at once when nothing listens at ``HOST:PORT`` (Ray's own connection attempt retries for minutes).
    Other forms (``auto``, ``ray://...``) are left to Ray.

    >>> _reachable("127.0.0.1:1", timeout=1.0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    harness.executors.ExecutorError: no Ray head answers at 127.0.0.1:1 (Connection refused): start one there ...
    """
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "/" in address:
        return
    try:
        socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ExecutorError(f"no Ray head answers at {address} ({exc.strerror or 'timed out'}): start one there with "
                            "ray start --head, or check --address") from None


def lost_outcome(request: TrialRequest, workdir: Path, wall_s: float, reason: str, facts: dict[str, Any],
                 lost: bool = True) -> TrialOutcome:
    """The outcome of an attempt that produced none: its node died (``lost``, re-run by the run) or it was
    cancelled (``status`` ``cancelled``: the row stays ``running`` and a resume restarts it)."""
    from harness.runner.supervisor import TrialOutcome

    status = "cancelled" if reason == "cancelled" else "failed"
    return TrialOutcome(status=status, reason=reason, result=None, wall_s=wall_s, peak_rss_bytes=0,
                        estimated_submission_s=0.0, log_path=Path(workdir) / f"{request.trial_id}.log",
                        executor="ray", lost=lost, placement=dict(facts))


def class_cpu_model(hardware_class: str) -> str | None:
    """The CPU model the class's targets were set on (``workloads/targets.json`` provenance), if recorded."""
    import json

    from workloads import TARGETS_FILE

    try:
        stored = json.loads(TARGETS_FILE.read_text())
    except (OSError, ValueError):
        return None
    models = {entry[hardware_class]["provenance"].get("cpu_model") for entry in stored.get("workloads", {}).values()
              if hardware_class in entry and "provenance" in entry[hardware_class]}
    models.discard(None)
    return next(iter(models)) if len(models) == 1 else None
