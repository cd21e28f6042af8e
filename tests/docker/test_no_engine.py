"""Without a Docker engine, the docker executor and the image build each say so in one message and exit 2.

Not marked ``docker``: it needs no engine, and runs in the default (fast) suite.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def dead_socket(folder: Path) -> str:
    """A unix socket nobody listens on (what a stopped dockerd leaves behind)."""
    path = folder / "docker.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
    return f"unix://{path}"


def podium(*args: str, docker_host: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "DOCKER_HOST": docker_host, "COLUMNS": "300"})


def assert_one_clear_message(out: subprocess.CompletedProcess) -> None:
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("error:") == 1 and "Traceback" not in out.stderr
    for part in ("no Docker engine is reachable", "Connection refused", "apt-get install docker.io", "dockerd"):
        assert part in out.stderr, out.stderr


def test_docker_executor_without_an_engine(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    out = podium("run", str(ROOT / "submissions" / "training" / "adamw"), "--workload", "digits_mlp",
                 "--executor", "docker", "--db", str(db), docker_host=dead_socket(tmp_path))
    assert_one_clear_message(out)
    assert not db.exists()  # nothing was planned or recorded


def test_docker_build_without_an_engine(tmp_path: Path) -> None:
    assert_one_clear_message(podium("docker", "build", docker_host=dead_socket(tmp_path)))
