"""Shared fixtures. Tests run offline: the hub is never contacted."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
BASELINES = ROOT / "submissions" / "training"


@pytest.fixture
def adamw_dir() -> Path:
    return BASELINES / "adamw"


def _count(db: Path, sql: str) -> int | None:
    """The count ``sql`` selects from the results database a running ``podium run`` writes; ``None`` before the
    file or its tables exist (the file comes first: a test polling it can look in between)."""
    if not db.exists():
        return None
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:
        return None


@pytest.fixture
def db_count() -> Callable[[Path, str], int | None]:
    """:func:`_count`, for tests that watch a run in another process or thread."""
    return _count
