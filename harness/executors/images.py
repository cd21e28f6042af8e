"""``podium docker build``: the base image, the scoring image, and a submission's own layer on it.

1. **Base.** ``--base`` (default ``python:3.11-slim-bookworm``) when it is here or can be pulled; otherwise (or with
   ``--make-base``) a local Debian bookworm made with ``debootstrap`` and ``docker import`` (``podium-base:bookworm``,
   about 70 s once; reused while its recipe is unchanged).
2. **Wheelhouse** on the host (:mod:`harness.executors.wheelhouse`): the only place the network is used.
3. **Scoring image** from ``docker/Dockerfile``: installs only from the wheelhouse, runs as a non-root user. An image
   made from the same inputs (base ID, lock, wheels, Podium's source, Dockerfile) is reused, not rebuilt.
4. **Submission layer** (``--submission PATH``): the submission's requirements.txt resolved into the wheelhouse now,
   installed by ``docker/Dockerfile.submission`` on top of the scoring image. Nothing is installed while a trial runs.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import harness
from harness.executors import ExecutorError
from harness.executors.container import (
    LABEL_GIT_COMMIT, LABEL_REQUIREMENTS, SCORING_IMAGE, requirements_hash, submission_image_tag,
)
from harness.executors.engine import BUILD_TIMEOUT_S, ImageInfo, connect, find_image, images_labelled
from harness.executors.wheelhouse import BUILD_DIR, LOCK, Wheelhouse, canonical, pip, prepare, wheel_key
from harness.provenance import REPO_ROOT, git_commit

DOCKER_DIR = REPO_ROOT / "docker"
DEFAULT_BASE = "python:3.11-slim-bookworm"
LOCAL_BASE = "podium-base:bookworm"
CUDA_IMAGE = "podium-scoring:cuda"
#: the local base's recipe; its hash labels the image so a changed recipe makes a new base
DEBOOTSTRAP = dict(suite="bookworm", variant="minbase", mirror="http://deb.debian.org/debian",
                   include="python3,python3-venv,python3-dev,ca-certificates,g++")  # g++, Python.h: torch.compile
LABEL_INPUTS = "org.podium.inputs"
LABEL_BASE_RECIPE = "org.podium.base-recipe"

Say = Callable[[str], None]


@dataclass(frozen=True)
class BuildConfig:
    """Options of ``podium docker build``."""

    base: str | None = None
    make_base: bool = False
    tag: str | None = None
    submission: Path | None = None
    cuda: bool = False
    no_cache: bool = False


@dataclass(frozen=True)
class BuildResult:
    image: ImageInfo
    built: bool  # False: an image from the same inputs was reused
    seconds: float


# ---- base image ------------------------------------------------------------------------------------------------
def _recipe_hash() -> str:
    return hashlib.blake2b(json.dumps(DEBOOTSTRAP, sort_keys=True).encode(), digest_size=8).hexdigest()


def make_local_base(client: Any, say: Say) -> ImageInfo:
    """``podium-base:bookworm`` from debootstrap + docker import, or the existing one made from the same recipe."""
    existing = find_image(client, LOCAL_BASE)
    if existing is not None and existing.labels.get(LABEL_BASE_RECIPE) == _recipe_hash():
        say(f"base: reusing the local base {LOCAL_BASE} ({existing.id[:19]})")
        return existing
    if shutil.which("debootstrap") is None or os.geteuid() != 0:
        raise ExecutorError("making a local base image needs root and debootstrap (`sudo apt-get install "
                            "debootstrap`, then run `sudo podium docker build --make-base`), or pass --base IMAGE "
                            "naming a local image with Python 3.11")
    say(f"base: making {LOCAL_BASE} with debootstrap ({DEBOOTSTRAP['suite']}, {DEBOOTSTRAP['include']}); "
        "about 70 s, once")
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="podium-base-", dir=BUILD_DIR) as tmp:
        rootfs, archive = Path(tmp) / "rootfs", Path(tmp) / "rootfs.tar"
        _run(["debootstrap", f"--variant={DEBOOTSTRAP['variant']}", f"--include={DEBOOTSTRAP['include']}",
              DEBOOTSTRAP["suite"], str(rootfs), DEBOOTSTRAP["mirror"]], "debootstrap")
        _run(["tar", "-C", str(rootfs), "--numeric-owner", "--exclude=./var/cache/apt/archives/*.deb",
              "--exclude=./var/lib/apt/lists/*", "-cf", str(archive), "."], "tar the root filesystem")
        repository, tag = LOCAL_BASE.split(":")
        client.api.import_image_from_file(str(archive), repository=repository, tag=tag, changes=[
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "ENV LANG=C.UTF-8",
            f"LABEL {LABEL_BASE_RECIPE}={_recipe_hash()}", 'CMD ["/bin/bash"]'])
    made = find_image(client, LOCAL_BASE)
    assert made is not None
    return made


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise ExecutorError(f"{what} failed (exit {done.returncode}):\n{tail}")


def resolve_base(client: Any, config: BuildConfig, say: Say) -> ImageInfo:
    """The base image: made locally, found here, or pulled; the default falls back to a local one if none works."""
    import docker

    if config.make_base:
        return make_local_base(client, say)
    name = config.base or DEFAULT_BASE
    found = find_image(client, name)
    if found is not None:
        say(f"base: {name} ({found.id[:19]})")
        return found
    try:
        client.images.pull(name)
    except docker.errors.APIError as exc:
        if config.base is not None:
            raise ExecutorError(f"base image {name!r} is not here and cannot be pulled ({exc.explanation}); "
                                "use --make-base for a local Debian base") from None
        say(f"base: {name} is not here and cannot be pulled ({exc.explanation or exc}); using a local Debian "
            f"bookworm base ({LOCAL_BASE}) instead")
        return make_local_base(client, say)
    return find_image(client, name)  # type: ignore[return-value]


def check_python(client: Any, base: ImageInfo) -> None:
    """The wheelhouse holds CPython 3.11 wheels: refuse a base with another Python before building on it."""
    probe = "import sys; print('%d.%d' % sys.version_info[:2])"
    try:
        out = client.containers.run(base.id, ["python3", "-c", probe], network_mode="none", remove=True)
    except Exception as exc:  # noqa: BLE001 - no python3, or it does not start: say which base
        raise ExecutorError(f"base image {base.name} has no working python3 ({exc})") from None
    if out.decode().strip() != "3.11":
        raise ExecutorError(f"base image {base.name} has Python {out.decode().strip()}; the image needs 3.11")


# ---- building ------------------------------------------------------------------------------------------------
def _context(files: dict[str, Path], folders: dict[str, Path]) -> io.BufferedRandom:
    """A build context as a tar file with fixed owners, modes and times, so unchanged inputs hit the layer cache.

    From each folder only the wheels and the lock: a bookkeeping file that changed must not invalidate a layer.
    """
    fh = tempfile.TemporaryFile()
    with tarfile.open(fileobj=fh, mode="w") as tar:
        entries = list(files.items()) + [(f"{arc}/{p.name}", p) for arc, folder in folders.items()
                                         for p in sorted(folder.iterdir()) if p.suffix == ".whl" or p.name == LOCK]
        for arcname, path in entries:
            info = tarfile.TarInfo(arcname)
            info.size, info.mode, info.mtime = path.stat().st_size, 0o644, 0
            with open(path, "rb") as data:
                tar.addfile(info, data)
    fh.seek(0)
    return fh  # type: ignore[return-value]


def _docker_build(client: Any, context: io.BufferedRandom, tag: str, buildargs: dict[str, str],
                  labels: dict[str, str], no_cache: bool, say: Say, dockerfile: str = "Dockerfile") -> ImageInfo:
    """One build through the engine's API; prints each step; returns the tagged image."""
    image_id = None
    for chunk in client.api.build(fileobj=context, custom_context=True, tag=tag, buildargs=buildargs, labels=labels,
                                  dockerfile=dockerfile, rm=True, forcerm=True, pull=False, nocache=no_cache,
                                  decode=True, timeout=BUILD_TIMEOUT_S):
        if "error" in chunk:
            raise ExecutorError(f"docker build failed: {chunk['error'].strip()}")
        line = chunk.get("stream", "").strip()
        if line.startswith("Step "):
            say(f"  {line[:150]}")
        image_id = (chunk.get("aux") or {}).get("ID", image_id)
    found = find_image(client, tag)
    if found is None or (image_id and found.id != image_id):
        raise ExecutorError(f"docker build of {tag} did not produce the image")
    return found


def build_scoring_image(client: Any, config: BuildConfig, say: Say) -> BuildResult:
    started = time.monotonic()
    variant = "cuda" if config.cuda else "cpu"
    if config.cuda and shutil.which("nvidia-smi") is None:
        raise ExecutorError("the CUDA image is built only on GPU machines (no nvidia-smi here); see docker/README.md")
    tag = config.tag or (CUDA_IMAGE if config.cuda else SCORING_IMAGE)
    base = resolve_base(client, config, say)
    say("wheelhouse: " + str((BUILD_DIR / "wheelhouse").relative_to(REPO_ROOT)) + ("" if variant == "cpu" else "-cuda"))
    house = prepare(variant, say)
    dockerfile = DOCKER_DIR / ("Dockerfile" if variant == "cpu" else "Dockerfile.cuda")
    inputs = hashlib.blake2b(f"{base.id}\0{house.inputs()}\0".encode() + dockerfile.read_bytes(),
                             digest_size=16).hexdigest()
    if not config.no_cache:
        same = images_labelled(client, LABEL_INPUTS, inputs)
        if same:
            client.api.tag(same[0].id, *tag.rsplit(":", 1))
            say(f"image: up to date (same inputs as {same[0].name})")
            return BuildResult(find_image(client, tag), False, time.monotonic() - started)  # type: ignore[arg-type]
    check_python(client, base)
    say(f"image: building {tag} on {base.name}")
    labels = {LABEL_INPUTS: inputs, LABEL_GIT_COMMIT: git_commit(), "org.podium.version": harness.__version__,
              "org.podium.base": f"{base.name}@{base.id}", "org.podium.variant": variant}
    context = _context({"Dockerfile": dockerfile}, {"deps": house.deps, "podium": house.podium.parent})
    with context:
        image = _docker_build(client, context, tag, {"BASE_IMAGE": base.id}, labels, config.no_cache, say)
    return BuildResult(image, True, time.monotonic() - started)


def build_submission_image(client: Any, config: BuildConfig, scoring: ImageInfo, say: Say) -> BuildResult:
    """The submission's requirements.txt, resolved now into the wheelhouse and installed in a layer of its own."""
    started = time.monotonic()
    folder = config.submission.resolve()  # type: ignore[union-attr]
    requirements = folder / "requirements.txt"
    tag = config.tag or submission_image_tag(folder, scoring.id)
    found = find_image(client, tag)
    if found is not None and not config.no_cache and found.labels.get("org.podium.scoring-image") == scoring.id:
        say(f"submission image: up to date ({tag})")
        return BuildResult(found, False, time.monotonic() - started)
    lock = client.containers.run(scoring.id, ["cat", f"/opt/podium/{LOCK}"], network_mode="none", remove=True)
    house = BUILD_DIR / "wheelhouse" / "submissions" / tag.split(":")[1]
    shutil.rmtree(house, ignore_errors=True)
    house.mkdir(parents=True)
    (house / "constraints.txt").write_bytes(lock)
    pip(["wheel", "--wheel-dir", str(house), "--find-links", str(BUILD_DIR / "wheelhouse" / "deps"), "-r",
         str(requirements), "-c", str(house / "constraints.txt")], say,
        f"resolve {requirements} against the scoring image's packages")
    installed = {canonical(line.split("==")[0]) for line in lock.decode().split()}
    for wheel in house.glob("*.whl"):
        if wheel_key(wheel.name)[0] in installed:  # already in the scoring image: not part of this layer
            wheel.unlink()
    say(f"image: building {tag} on {scoring.name}")
    labels = {LABEL_REQUIREMENTS: requirements_hash(folder) or "", "org.podium.scoring-image": scoring.id,
              LABEL_GIT_COMMIT: scoring.labels.get(LABEL_GIT_COMMIT, "")}
    context = _context({"Dockerfile": DOCKER_DIR / "Dockerfile.submission", "requirements.txt": requirements},
                       {"wheels": house})
    with context:
        image = _docker_build(client, context, tag, {"SCORING_IMAGE": scoring.id}, labels, config.no_cache, say)
    return BuildResult(image, True, time.monotonic() - started)


def build(config: BuildConfig, say: Say = print) -> BuildResult:
    """``podium docker build``: the scoring image, then the submission's layer when ``--submission`` is given."""
    client = connect(timeout=BUILD_TIMEOUT_S)
    if config.submission is None:
        return build_scoring_image(client, config, say)
    if not (config.submission / "requirements.txt").exists():
        raise ExecutorError(f"{config.submission} has no requirements.txt: its trials run in the scoring image as "
                            "it is (`podium docker build`)")
    scoring = build_scoring_image(client, BuildConfig(config.base, config.make_base, None, None, config.cuda), say)
    return build_submission_image(client, config, scoring.image, say)


__all__ = ["BuildConfig", "BuildResult", "DEFAULT_BASE", "LOCAL_BASE", "build", "Wheelhouse"]
