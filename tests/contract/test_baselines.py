"""Every submission folder under ``submissions/training`` passes the static check and has a usable search space."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.check import SEARCH_SPACE_FILE, check_submission, format_report
from harness.tuning.search_space import load_search_space

BASELINES = Path(__file__).resolve().parents[2] / "submissions" / "training"
FOLDERS = sorted(p for p in BASELINES.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))


def test_there_are_baselines() -> None:
    assert {"adamw", "nadamw", "nesterov"} <= {folder.name for folder in FOLDERS}


@pytest.mark.parametrize("folder", FOLDERS, ids=[folder.name for folder in FOLDERS])
def test_baseline_passes_check(folder: Path) -> None:
    report = check_submission(folder)
    assert report.ok, format_report(report)


@pytest.mark.parametrize("folder", FOLDERS, ids=[folder.name for folder in FOLDERS])
def test_baseline_search_space_loads(folder: Path) -> None:
    space = load_search_space(folder / SEARCH_SPACE_FILE)
    assert not space.is_empty
    assert space.sample(1, seed=0)[0]  # at least one point, and it names hyperparameters
