"""Shared fixtures. Tests run offline: the hub is never contacted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
BASELINES = ROOT / "submissions" / "training"


@pytest.fixture
def adamw_dir() -> Path:
    return BASELINES / "adamw"
