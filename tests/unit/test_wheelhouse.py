"""Podium's own wheel, as the scoring image installs it: the same source makes the same bytes."""

from __future__ import annotations

import hashlib
import time
import zipfile
from pathlib import Path

from harness.executors.wheelhouse import build_podium_wheel


def test_the_same_source_builds_the_same_wheel_bytes(tmp_path: Path) -> None:
    """An image's ``pip freeze`` records the wheel's sha256: a rebuild (a second later, another folder) must match."""
    first = build_podium_wheel(tmp_path / "a", say=lambda line: None)
    time.sleep(2.1)  # a zip entry's time has 2-second steps: a build at another time differs without the fix
    second = build_podium_wheel(tmp_path / "b", say=lambda line: None)
    assert first.name == second.name
    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()
    with zipfile.ZipFile(first) as wheel:
        names = wheel.namelist()
        assert "harness/cli.py" in names and not any("__pycache__" in n for n in names)
