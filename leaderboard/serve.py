"""``podium board``: serve the leaderboard app with Streamlit, on the loopback interface only.

The CLI parses its flags into a :class:`BoardConfig` and calls :func:`serve`, which checks the bundles, runs
``streamlit run leaderboard/server.py -- --bundle DIR ...`` (the app, ``app.py``, with its first paint) as a child
process and waits for it.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from leaderboard.bundle import BundleNotFoundError, open_bundle

APP = Path(__file__).resolve().parent / "server.py"  # the app (app.py) with its first paint
ADDRESS = "127.0.0.1"  # never another interface: the board is a local viewer, with no authentication


class BoardError(RuntimeError):
    """The board cannot start (a folder is not a bundle, the port is taken); the message says which."""


@dataclass(frozen=True)
class BoardConfig:
    """Options of ``podium board``.

    Attributes:
        bundles: release bundle folders; the first is shown first.
        port: TCP port on 127.0.0.1.
        headless: do not open a browser.
    """

    bundles: tuple[Path, ...]
    port: int = 8501
    headless: bool = False

    @property
    def url(self) -> str:
        return f"http://{ADDRESS}:{self.port}"


def streamlit_command(config: BoardConfig, script: Path = APP) -> list[str]:
    """The ``streamlit run`` command line (``script``: ``server.py``, or ``app.py`` for the app without its first
    paint, which ``benchmarks/board_browser.py`` compares).

    >>> cmd = streamlit_command(BoardConfig((Path("/b/r1"),), port=8600, headless=True))
    >>> cmd[cmd.index("--server.address") + 1], cmd[cmd.index("--") + 1:]
    ('127.0.0.1', ['--bundle', '/b/r1', '--url', 'http://127.0.0.1:8600'])
    """
    options = {"server.address": ADDRESS, "server.port": str(config.port),
               "server.headless": "true" if config.headless else "false", "browser.serverAddress": ADDRESS,
               "browser.gatherUsageStats": "false", "server.fileWatcherType": "none", "server.runOnSave": "false",
               "global.developmentMode": "false", "client.toolbarMode": "viewer"}
    bundles = [arg for folder in config.bundles for arg in ("--bundle", str(folder))]
    flags = [x for k, v in options.items() for x in (f"--{k}", v)]
    return [sys.executable, "-m", "streamlit", "run", str(script), *flags,
            "--", *bundles, "--url", config.url]


def check(config: BoardConfig) -> None:
    """Every folder is a bundle and the port is free, or :class:`BoardError` listing every problem."""
    problems = []
    for folder in config.bundles:
        try:
            open_bundle(folder)
        except BundleNotFoundError as exc:
            problems.append(str(exc))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((ADDRESS, config.port))
        except OSError:
            problems.append(f"port {config.port} on {ADDRESS} is in use; pick another with --port")
    if problems:
        raise BoardError("\n".join(problems))


def serve(config: BoardConfig, announce: Callable[[str], None] = print) -> int:
    """Run the app until it exits or is interrupted; returns Streamlit's exit code."""
    check(config)
    config = BoardConfig(tuple(p.resolve() for p in config.bundles), config.port, config.headless)
    process = subprocess.Popen(streamlit_command(config))
    announce(config.url)
    previous = signal.signal(signal.SIGTERM, lambda *_: process.terminate())  # stopping us stops the server
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        try:
            return process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
