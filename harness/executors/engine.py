"""The connection to the Docker engine, and the one message a user sees when there is none.

Talks to the engine through the Docker SDK for Python (``docker``), which honours ``DOCKER_HOST`` like the CLI.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from harness.executors import ExecutorError

#: seconds one engine call may take; builds stream for minutes between lines (pip installing torch), so they get more.
API_TIMEOUT_S = 120
BUILD_TIMEOUT_S = 3600


def _cause(exc: BaseException, depth: int = 0) -> str:
    """The innermost OS-level reason inside the SDK's nested exceptions ("Connection refused", ...)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if depth < 6:
        for inner in (*exc.args, exc.__cause__, exc.__context__):
            if isinstance(inner, BaseException):
                found = _cause(inner, depth + 1)
                if found:
                    return found
    return ""


def unreachable_message(exc: BaseException) -> str:
    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    reason = _cause(exc) or str(exc).splitlines()[0][:200]
    return (f"no Docker engine is reachable at {where} ({reason}). The docker executor and `podium docker build` "
            "need one: install it with `sudo apt-get install docker.io`, start it with `sudo systemctl start docker` "
            "(without systemd: `sudo nohup dockerd > /var/log/dockerd.log 2>&1 &`), and check with `docker info`"
            + (" (or unset DOCKER_HOST, which points elsewhere)" if os.environ.get("DOCKER_HOST") else "")
            + (" (or add your user to the docker group)" if reason == "Permission denied" else "") + ".")


def connect(timeout: float = API_TIMEOUT_S) -> Any:
    """A ``docker.DockerClient`` for a reachable engine.

    Raises:
        ExecutorError: the SDK is missing or no engine answers (one message saying how to get one).
    """
    try:
        import docker
    except ImportError:
        raise ExecutorError("the docker executor needs the Docker SDK for Python, a Podium dependency: "
                            "pip install 'docker>=7'") from None
    try:
        client = docker.from_env(timeout=timeout)  # negotiates the API version, so a dead engine fails here
        client.ping()
    except docker.errors.DockerException as exc:
        raise ExecutorError(unreachable_message(exc)) from None
    return client


@dataclass(frozen=True)
class ImageInfo:
    """A local image: the name it was asked for, its ID (``sha256:...``, the digest of its config), labels, size."""

    name: str
    id: str
    labels: dict[str, str] = field(default_factory=dict)
    size_bytes: int = 0
    user: str = ""


def find_image(client: Any, name: str) -> ImageInfo | None:
    """The local image called ``name`` (a tag or an ID), or None. Never pulls."""
    import docker

    try:
        image = client.images.get(name)
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.APIError as exc:
        if getattr(exc, "status_code", None) in (400, 404):  # e.g. an unparseable reference
            return None
        raise
    config = image.attrs.get("Config") or {}
    return ImageInfo(name, image.id, dict(config.get("Labels") or {}), int(image.attrs.get("Size") or 0),
                     config.get("User") or "")


def images_labelled(client: Any, label: str, value: str) -> list[ImageInfo]:
    """Local images carrying ``label=value`` (how a build finds an image made from the same inputs)."""
    found = client.images.list(filters={"label": f"{label}={value}"})
    return [ImageInfo(image.tags[0] if image.tags else image.id, image.id,
                      dict((image.attrs.get("Config") or {}).get("Labels") or {}), int(image.attrs.get("Size") or 0))
            for image in found]
