"""Fixtures of the leaderboard tests (the bundles themselves are built in ``board_bundles``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the editable install predates leaderboard/ (re-running `pip install -e .` maps it)
    sys.path.insert(0, str(ROOT))

from board_bundles import APP, RELEASE, VARIANTS, build_db  # noqa: E402
from harness.publish import publish  # noqa: E402


@pytest.fixture(scope="session")
def bundle_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_db(tmp_path_factory.mktemp("board"))


@pytest.fixture(scope="session")
def bundle(bundle_db: Path) -> Path:
    return publish(bundle_db, bundle_db.parent / "bundles", RELEASE, VARIANTS)


@pytest.fixture
def app(bundle: Path, monkeypatch: pytest.MonkeyPatch):
    """An AppTest of the board over the test bundle, not yet run."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("PODIUM_BOARD_BUNDLES", str(bundle))
    return AppTest.from_file(str(APP), default_timeout=60)
