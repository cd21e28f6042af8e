"""The docker executor: every trial in a fresh, sealed container; the supervisor watches it from outside as usual.

What a trial container gets, and nothing else:

* the image, by ID (resolved once per run, so every trial of a run runs in the same image);
* ``--network none``; a read-only root filesystem; a private ``/tmp`` (tmpfs of the trial's ``scratch_bytes``,
  discarded): its scratch folder, where temporary files and compile caches go (``exec``: torch.compile loads the
  kernels it builds there);
* the submission folder read-only at ``/podium/submission``, the host's export of what the trial may hold
  read-only at ``/podium/splits`` (:func:`training_splits`: no dataset folder, so no held-out example), the made
  models' cache read-only, and one writable results folder at ``/podium/trial``: the request, the heartbeat, the
  records file and the log;
* ``--cpus`` = the trial's threads (and ``--cpuset-cpus`` when the run pins trials), a memory cap a little above
  the trial's limit (the supervisor's own check fires first and names the reason), a process cap, the scratch limit as
  a file-size limit (the log's cap is the supervisor's: it polls the log's size);
* the user 10001 (not root), no capabilities, no new privileges; an environment built from scratch (threads, seeds,
  offline flags), never the host's.

No file descriptor crosses into a container, so the worker writes its records to a file in the results folder and
the supervisor tails it. A training-track trial is evaluated by the evaluation server on this machine
(:mod:`harness.runner.evaluator`), never inside the container: the worker saves the model in the results folder and
asks on the records file, the container is paused (the engine's cgroup freezer) while the server evaluates, and the
answer comes back through a FIFO in the results folder (``reply``). The heartbeat is the same memory-mapped file as for a local trial (one page cache on one
host, and containers share the host's CLOCK_MONOTONIC). If the supervisor dies, ``timeout`` inside the container
ends the trial at its wall limit.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.executors import ExecutorError
from harness.executors.engine import ImageInfo, connect, find_image
from harness.runner.evaluator import Evaluations, server_for, supervised, uses_server
from harness.runner.made import ensure_made
from harness.runner.messages import EvalRecord, Heartbeat, TrialRequest
from workloads.common.data import SPLITS_ENV
from harness.runner.supervisor import POLL_S, RecordReader, TrialOutcome, supervise

SCORING_IMAGE = "podium-scoring:cpu"
TRIAL_USER = "10001:10001"
SUBMISSION_MOUNT = "/podium/submission"
TRIAL_MOUNT = "/podium/trial"
PATH = "/opt/podium/bin:/usr/local/bin:/usr/bin:/bin"
PIDS_LIMIT = 1024
MEMORY_HEADROOM = 256 * 1024**2  # the container cap sits above the supervisor's limit, so the supervisor names it
SELF_DESTRUCT_EXTRA_S = 60  # `timeout` kills an orphaned trial this long after its wall limit

#: labels ``podium docker build`` puts on images
LABEL_GIT_COMMIT = "org.podium.git-commit"
LABEL_REQUIREMENTS = "org.podium.submission-requirements"

#: reasons a sealed trial gives for what the sandbox refused, and a hint saying so
SEALED_HINTS = (
    (re.compile(r"Errno 101\]|Network is unreachable|name resolution|Name or service not known"),
     "a sealed trial has no network"),
    (re.compile(r"Errno 30\]|Read-only file system"),
     "a sealed trial can write only to /tmp and its results folder"),
    (re.compile(r"FileNotFoundError|Errno 2\]"),
     "a sealed trial sees only its submission folder, its training data and its results folder"),
)


def requirements_hash(submission_dir: Path) -> str | None:
    path = submission_dir / "requirements.txt"
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def submission_image_tag(submission_dir: Path, scoring_image_id: str) -> str:
    """The tag of a submission's own image: its requirements layered on one scoring image (pure; see images.py)."""
    key = hashlib.blake2b(f"{scoring_image_id}\0{requirements_hash(submission_dir)}".encode(), digest_size=6)
    name = re.sub(r"[^a-z0-9_.-]+", "-", submission_dir.resolve().name.lower()).strip(".-") or "submission"
    return f"podium-submission:{name}-{key.hexdigest()}"


def choose_image(client: Any, image: str | None, submission_dir: Path | None) -> ImageInfo:
    """The image a run uses: ``image`` as given, else the scoring image, or the submission's layer on it when the
    submission has a requirements.txt. An image that lacks the submission's requirements is refused."""
    needs = requirements_hash(submission_dir) if submission_dir is not None else None
    name = image or SCORING_IMAGE
    if image is None and needs is not None:
        scoring = find_image(client, SCORING_IMAGE)
        name = submission_image_tag(submission_dir, scoring.id) if scoring else SCORING_IMAGE
    found = find_image(client, name)
    build = f"`podium docker build --submission {submission_dir}`" if needs else "`podium docker build`"
    if found is None:
        raise ExecutorError(f"no local image {name!r} to run trials in; build it with {build}")
    if needs is not None and found.labels.get(LABEL_REQUIREMENTS) != needs:
        raise ExecutorError(f"image {name!r} was not built with {submission_dir / 'requirements.txt'} (nothing is "
                            f"installed while a trial runs); build the submission's image with {build}")
    return found


SPLITS_MOUNT = "/podium/splits"
#: where the made models' cache is mounted, and the cache root a trial in a container is given: not the host's path,
#: which may lie under a home folder (``/root/.cache``) that the container's unprivileged user cannot enter
CACHE_MOUNT = "/podium/cache"


def training_splits(request: TrialRequest, workdir: Path) -> Path | None:
    """For a trial evaluated outside its process: a folder of what its workload's trial may hold, made on this
    machine once per run folder, which the container mounts instead of the dataset's own folder. From the builder
    module's ``export_training(spec, folder)`` when it has one (the PEFT track's: the training split and the
    forgetting reference sample; a text corpus's: the training snippets and the reference texts), once per workload
    definition; else the training-only splits of what its ``warm()`` (a training workload's) or ``warm_splits()``
    (a compression workload's) preloads (:func:`workloads.common.data.export_training_splits`), once per builder
    module. None: the trial reads its dataset itself (a builder with neither)."""
    from workloads.common.data import export_training_splits

    track = request.workload.track
    if not supervised(request):
        return None
    name = request.workload.builder.split(":")[0]
    module = importlib.import_module(name)
    export = getattr(module, "export_training", None)
    if export is not None:
        folder = workdir / "training-splits" / f"{request.workload.name}-{request.workload.spec_hash()}"
        make = functools.partial(export, request.workload, folder)
    else:
        warm = getattr(module, {"training": "warm", "compression": "warm_splits"}.get(track, ""), None)
        if warm is None:
            return None
        folder = workdir / "training-splits" / name
        make = functools.partial(export_training_splits, warm, folder)
    return made_once(folder, make)


_MAKING = threading.Lock()  # trials started in parallel threads make an export once


def made_once(folder: Path, make: Callable[[], object]) -> Path:
    """``folder``, filled by ``make()`` unless an earlier call finished it (its ``done`` mark), readable by a
    container's unprivileged user."""
    with _MAKING:
        if not (folder / "done").exists():
            shutil.rmtree(folder, ignore_errors=True)
            make()
            (folder / "done").touch()
            for path in (folder, *folder.iterdir()):
                path.chmod(0o755 if path.is_dir() else 0o644)
    return folder


def dataset_dirs(request: TrialRequest, splits: Path | None = None) -> list[Path]:
    """Folders on this machine that the workload's data loader reads (``local_dir()`` of its family's data module),
    and the cache of the models Podium makes itself (:mod:`workloads.common.made`: pretrained and dense models,
    verified by their recorded hashes) when it exists, so that a trial does not make them again in its container.

    Mounted read-only at the same path (the made models' cache under :data:`CACHE_MOUNT`). A family whose data ships inside an installed package (digits) has none,
    and a trial with exported training ``splits`` (:func:`training_splits`) gets none: its held-out splits stay
    out of the container.
    """
    made = made_cache()
    if splits is not None:
        return made
    try:
        module = importlib.import_module(f"workloads.{request.workload.family}.data")
    except ModuleNotFoundError:
        return made
    local_dir = getattr(module, "local_dir", None)
    folder = local_dir() if callable(local_dir) else None
    return ([Path(folder)] if folder is not None and Path(folder).is_dir() else []) + made


def made_cache() -> list[Path]:
    """The made models' cache (:mod:`workloads.common.made`) as a folder to mount, when it exists."""
    from workloads.common.made import cache_dir

    return [cache_dir()] if cache_dir().is_dir() else []


def held_out_inputs(request: TrialRequest, workdir: Path) -> Path | None:
    """The compression workload's held-out inputs without labels (:func:`harness.tracks.compression.export_inputs`),
    written on this machine once per run folder and workload definition; None where its measurement needs the
    dataset itself (a language model's perplexity reads its labels from its inputs)."""
    from harness.tracks.compression import export_inputs

    path = workdir / "held-out-inputs" / f"{request.workload.name}-{request.workload.spec_hash()}.safetensors"
    none = path.with_suffix(".none")
    if path.exists():
        return path
    if none.exists() or not export_inputs(request, path):
        none.parent.mkdir(parents=True, exist_ok=True)
        none.touch()
        return None
    return path


def held_out_texts(request: TrialRequest, workdir: Path) -> Path | None:
    """For a measurement that needs its held-out data itself (a language model's perplexity, whose labels are its
    inputs): a folder holding the builder module's ``export_held_out(spec, folder)`` (the held-out texts without
    their labels and without the training split), made once per run folder and workload definition, which the
    measuring container mounts as its splits. None: the module has no such export."""
    export = getattr(importlib.import_module(request.workload.builder.split(":")[0]), "export_held_out", None)
    if export is None:
        return None
    folder = workdir / "held-out-texts" / f"{request.workload.name}-{request.workload.spec_hash()}"
    return made_once(folder, functools.partial(export, request.workload, folder))


def trial_env(request: TrialRequest, mounted: list[Path]) -> dict[str, str]:
    """The container's whole environment: nothing from the host but ``PODIUM_*`` variables naming a mounted folder."""
    threads = str(request.threads)
    env = dict(PATH=PATH, HOME="/tmp", TMPDIR="/tmp", LANG="C.UTF-8", OMP_NUM_THREADS=threads,
               MKL_NUM_THREADS=threads, PYTHONHASHSEED="0", PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1",
               HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    from workloads.common.data import CACHE_ENV
    from workloads.common.made import cache_dir

    folders = {str(p) for p in mounted}
    env.update({k: v for k, v in os.environ.items() if k.startswith("PODIUM_") and v in folders})
    if str(cache_dir()) in folders:  # the made models' cache, mounted under CACHE_MOUNT (the root's other folders
        env[CACHE_ENV] = CACHE_MOUNT  # are not)
    return env


def mount_point(folder: Path) -> str:
    """Where a folder of :func:`dataset_dirs` is mounted in the container: the made models' cache under
    :data:`CACHE_MOUNT`, a dataset folder at its own path."""
    from workloads.common.made import cache_dir

    return f"{CACHE_MOUNT}/{cache_dir().name}" if folder == cache_dir() else str(folder)


def tail_lines(path: Path, ended: threading.Event) -> Iterator[bytes]:
    """Complete lines of a file another process appends to, as they come; after ``ended``, the rest, then stop."""
    with open(path, "rb") as fh:
        pending = b""
        while True:
            last = ended.is_set()  # read before reading the file: the read after it sees every write
            chunk = fh.read()
            if chunk:
                *lines, pending = (pending + chunk).split(b"\n")
                yield from (line + b"\n" for line in lines)
            elif last:
                break
            else:
                time.sleep(POLL_S)
        if pending:
            yield pending


class ContainerProcess:
    """A started trial container, seen as a :class:`~harness.runner.supervisor.TrialProcess`."""

    def __init__(self, container: Any) -> None:
        self.container = container
        self.pid = 0
        self.returncode: int | None = None
        self.oom_killed = False
        self.engine_error = ""
        self._status: int | None = None
        self._waiter = threading.Thread(target=self._wait, daemon=True)

    def start(self) -> None:
        self.container.start()
        self.container.reload()
        self.pid = int(self.container.attrs["State"]["Pid"])
        self._waiter.start()
        if not self.pid:  # already gone: there is no process tree to measure
            self._waiter.join()

    def _wait(self) -> None:
        try:
            code = int(self.container.wait()["StatusCode"])
        except Exception as exc:  # noqa: BLE001 - the engine went away: the trial fails with the engine's words
            self.engine_error, code = f"lost the Docker engine while the trial ran: {exc}", 255
        # 128 + N is how a container reports its process dying of signal N; the supervisor expects -N
        self._status = -(code - 128) if 128 < code < 128 + 65 else code

    def poll(self) -> int | None:
        return self._status

    def kill_all(self) -> None:
        import docker

        try:
            self.container.kill()
        except docker.errors.APIError:
            pass  # not running any more
        if self._waiter.ident is not None:  # started
            self._waiter.join(timeout=60)
        try:
            self.container.reload()
            self.oom_killed = bool(self.container.attrs["State"].get("OOMKilled"))
        except docker.errors.APIError:
            pass
        self.returncode = self._status if self._status is not None else -9
        try:
            self.container.remove(force=True)
        except docker.errors.APIError:
            pass


def prepare_folder(workdir: Path, request: TrialRequest) -> Path:
    """A fresh results folder for one trial: the request as the container sees it, and the files the worker opens.

    The files are made here, writable by the container's user whatever this machine's user is.
    """
    folder = workdir / request.trial_id
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    inner = request.model_copy(update={"submission_dir": SUBMISSION_MOUNT})
    (folder / "request.json").write_text(inner.model_dump_json(indent=1))
    for name in ("records", "log"):
        (folder / name).touch()
    os.mkfifo(folder / "reply")  # the evaluation server's answers (harness.runner.evaluator)
    Heartbeat(folder / "heartbeat", create=True).close()
    for path in folder.iterdir():
        path.chmod(0o666)
    folder.chmod(0o777)
    return folder


def hinted(reason: str) -> str:
    for pattern, hint in SEALED_HINTS:
        if pattern.search(reason):
            return f"{reason} ({hint})"
    return reason


@dataclass
class DockerRunner:
    """Runs each trial in a fresh container from one image; see the module docstring for what a container gets."""

    client: Any
    image: ImageInfo
    executor: str = field(default="docker", init=False)

    @property
    def image_digest(self) -> str:
        return self.image.id

    @classmethod
    def connect(cls, image: str | None = None, submission_dir: Path | None = None) -> DockerRunner:
        client = connect()
        return cls(client, choose_image(client, image, submission_dir))

    def run_trial(self, request: TrialRequest, workdir: Path, on_eval: Callable[[EvalRecord], None] = lambda r: None,
                  on_poll: Callable[[float, int], None] | None = None,
                  cancel: threading.Event | None = None) -> TrialOutcome:
        import docker

        ensure_made(request.workload)
        folder = prepare_folder(workdir, request)
        remote = supervised(request)
        if uses_server(request):
            server_for(request)  # on this machine, with the data the container does not need
        heartbeat = Heartbeat(folder / "heartbeat")
        reply_fd = os.open(folder / "reply", os.O_RDWR)  # read-write: opening never waits for the worker
        process = None
        try:
            process = ContainerProcess(self._create(request, folder, training_splits(request, workdir)))
            process.start()
        except BaseException as exc:
            if process is not None:
                process.kill_all()
            heartbeat.close()
            os.close(reply_fd)
            if isinstance(exc, docker.errors.DockerException):
                raise ExecutorError(f"the Docker engine could not start trial {request.trial_id}: {exc}") from None
            raise
        evaluations = Evaluations(request, folder, TRIAL_MOUNT, process.container.pause, process.container.unpause,
                                  lambda model: self._measure(request, model, workdir)) if remote else None
        reader = RecordReader(lambda ended: tail_lines(folder / "records", ended), on_eval, evaluations, reply_fd)
        reader.start()
        try:
            outcome = supervise(request, process, heartbeat, reader, folder / "log", on_poll, cancel)
        finally:
            os.close(reply_fd)
        return self._account(outcome, process, request)

    def _measure(self, request: TrialRequest, model: Path, workdir: Path) -> tuple[dict[str, Any], float]:
        """The compression track's measurement of a trial's saved model (:mod:`harness.tracks.compression`), in a
        fresh container of its own, sealed as a trial's is, while the trial's container is paused: it gets a copy of
        the model in a folder of its own (mounted where a trial's results folder is) and writes its numbers there.
        Returns them and the CPU seconds the measuring process reported for itself (the contention account's)."""
        import docker

        from harness.tracks.compression import (
            INPUTS_FILE, SAVED_MODEL, MeasurementError, log_tail, saved_bytes, score_outputs,
        )

        file_bytes = saved_bytes(model)  # read here, before the model's code runs in the measuring container
        inputs = held_out_inputs(request, workdir)
        folder = Path(tempfile.mkdtemp(prefix=f"{_safe(request.trial_id)}-measure-", dir=workdir))
        folder.chmod(0o777)
        shutil.copyfile(model, folder / SAVED_MODEL)
        if inputs is not None:
            shutil.copyfile(inputs, folder / INPUTS_FILE)
        inner = request.model_copy(update={"submission_dir": SUBMISSION_MOUNT})
        (folder / "measure-request.json").write_text(inner.model_dump_json())
        (folder / "measure.log").touch()
        for path in folder.iterdir():
            path.chmod(0o666)
        limit = int(request.limits.eval_s)
        command = (f"exec >>{TRIAL_MOUNT}/measure.log 2>&1; exec timeout -s KILL {limit} python -m "
                   f"harness.tracks.compression {TRIAL_MOUNT}/measure-request.json {TRIAL_MOUNT}/{SAVED_MODEL} "
                   f"{TRIAL_MOUNT}/measured.json" + (f" {TRIAL_MOUNT}/{INPUTS_FILE}" if inputs is not None else ""))
        texts = held_out_texts(request, workdir) if inputs is None else None
        container = None
        try:  # with the inputs in a file (or a language model's held-out texts), no dataset folder is mounted
            container = self._create(request, folder, texts, command=command, name="measure",
                                     data=made_cache() if inputs is not None or texts is not None else None)
            container.start()
            try:
                code = int(container.wait(timeout=limit + SELF_DESTRUCT_EXTRA_S)["StatusCode"])
            except Exception as exc:  # noqa: BLE001 - the engine's client times out with its HTTP library's error
                raise MeasurementError(f"the measurement container did not end: {type(exc).__name__}: {exc}") from None
            out = folder / "measured.json"
            if code != 0 or not out.exists():
                raise MeasurementError(f"the measurement container exited with code {code}: "
                                       f"{log_tail(folder / 'measure.log')}")
            measured = json.loads(out.read_text())
            # the labels stay on this machine: the scorer turns the container's logits into metrics here
            scored = score_outputs(measured, folder / "measure-request.json", folder, limit, file_bytes)
            return scored, float(measured.get("cpu_s", 0.0))
        except docker.errors.DockerException as exc:
            raise MeasurementError(f"the Docker engine could not run the measurement: {exc}") from None
        finally:
            if container is not None:
                with contextlib.suppress(docker.errors.APIError):
                    container.remove(force=True)
            shutil.rmtree(folder, ignore_errors=True)

    def _create(self, request: TrialRequest, folder: Path, splits: Path | None = None, command: str | None = None,
                name: str = "trial", data: list[Path] | None = None) -> Any:
        """A sealed container for the trial (``command``: the worker) or for its measurement (``name``); ``data``:
        the folders to mount read-only (default: :func:`dataset_dirs`)."""
        from docker.types import DeviceRequest, Ulimit

        limits = request.limits
        data = dataset_dirs(request, splits) if data is None else data
        remote = supervised(request)
        volumes = {str(Path(request.submission_dir).resolve()): {"bind": SUBMISSION_MOUNT, "mode": "ro"},
                   str(folder.resolve()): {"bind": TRIAL_MOUNT, "mode": "rw"},
                   **{str(d.resolve()): {"bind": mount_point(d), "mode": "ro"} for d in data},
                   **({str(splits.resolve()): {"bind": SPLITS_MOUNT, "mode": "ro"}} if splits else {})}
        environment = {**trial_env(request, data), **({SPLITS_ENV: SPLITS_MOUNT} if splits else {})}
        wall = int(limits.wall_limit(request.budget_s) + SELF_DESTRUCT_EXTRA_S)
        command = command or (f"exec >>{TRIAL_MOUNT}/log 2>&1; exec timeout -s KILL {wall} python -m "
                              f"harness.runner.worker {TRIAL_MOUNT}/request.json {TRIAL_MOUNT}/heartbeat "
                              f"{TRIAL_MOUNT}/records" + (f" {TRIAL_MOUNT}/reply" if remote else ""))
        memory = limits.memory_bytes + MEMORY_HEADROOM
        cpus = request.cpu_affinity
        return self.client.containers.create(
            self.image.id, ["/bin/sh", "-c", command],
            name=f"podium-{_safe(request.trial_id)}-{name}-{secrets.token_hex(3)}",
            labels={"org.podium.trial": request.trial_id}, hostname="podium-trial", user=TRIAL_USER,
            environment=environment, working_dir="/tmp", network_mode="none", read_only=True,
            tmpfs={"/tmp": f"rw,exec,nosuid,nodev,size={limits.scratch_bytes}"}, volumes=volumes, init=True,
            nano_cpus=int(request.threads * 1e9), cpuset_cpus=",".join(map(str, cpus)) if cpus else None,
            mem_limit=memory, memswap_limit=memory, pids_limit=PIDS_LIMIT, cap_drop=["ALL"],
            security_opt=["no-new-privileges"], log_config={"type": "none", "config": {}},
            ulimits=[Ulimit(name="fsize", soft=limits.scratch_bytes, hard=limits.scratch_bytes)],
            device_requests=[DeviceRequest(count=-1, capabilities=[["gpu"]])] if request.device == "cuda" else None)

    def _account(self, outcome: TrialOutcome, process: ContainerProcess, request: TrialRequest) -> TrialOutcome:
        """The supervisor's verdict, with what only the container knows: its image, an OOM kill, the sandbox."""
        reason = outcome.reason
        if process.engine_error and outcome.result is None:
            reason = process.engine_error
        elif process.oom_killed and outcome.status == "failed":
            cap = (request.limits.memory_bytes + MEMORY_HEADROOM) / 2**30
            reason = f"memory limit exceeded: the trial hit its container's {cap:.2f} GiB memory cap; killed"
        elif outcome.status == "failed":
            reason = hinted(reason)
        if outcome.result is not None:
            commit = self.image.labels.get(LABEL_GIT_COMMIT)
            outcome.result.provenance.update(image=self.image.name, **({"git_commit": commit} if commit else {}))
        return replace(outcome, reason=reason, executor=self.executor, image_digest=self.image_digest)


def _safe(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]+", "-", name)[:80]


__all__ = ["DockerRunner", "SCORING_IMAGE", "choose_image", "submission_image_tag", "tail_lines"]
