"""`podium targets set` resumes: finished curves are kept and reused, keyed by what determines them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness import targets
from harness.demo import baselines
from workloads import get_spec


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PODIUM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(targets, "setting_steps", lambda spec: 60)  # a short curve: this tests the keeping
    return tmp_path / "cache" / "target-curves"


def test_a_finished_curve_is_kept_and_reused_and_a_changed_baseline_is_not(cache: Path, tmp_path: Path) -> None:
    spec = get_spec("digits_mlp")
    (adamw,) = baselines("training", ("adamw",))
    first = targets.run_curves(spec, adamw, 1, "cpu-2core")
    (kept,) = cache.glob("*.json")
    record = json.loads(kept.read_text())
    assert record["baseline"] == "adamw" and record["seed_index"] == 0 and len(record["points"]) == len(first[0])

    kept_time = kept.stat().st_mtime_ns
    assert targets.run_curves(spec, adamw, 1, "cpu-2core") == first  # reused: the file was not rewritten
    assert kept.stat().st_mtime_ns == kept_time
    assert targets.curve_commits(spec, adamw, 1, "cpu-2core") == [record["harness_commit"]]

    changed = tmp_path / "adamw"
    shutil.copytree(adamw, changed, ignore=shutil.ignore_patterns("__pycache__"))
    with (changed / "submission.py").open("a") as f:
        f.write("\n# a changed baseline is a different curve\n")
    targets.run_curves(spec, changed, 1, "cpu-2core")
    assert len(list(cache.glob("*.json"))) == 2

    def levels(curve: list[targets.CurvePoint]) -> list[tuple[int, float, float]]:
        return [(p.step, p.validation, p.test) for p in curve]  # seconds differ from run to run; levels do not

    kept.write_text("{torn")  # a torn file is run again, not trusted
    assert levels(targets.run_curves(spec, adamw, 1, "cpu-2core")[0]) == levels(first[0])
    assert json.loads(kept.read_text())["points"]
    rerun_time = kept.stat().st_mtime_ns
    targets.run_curves(spec, adamw, 1, "cpu-2core", fresh=True)  # --fresh runs it again
    assert kept.stat().st_mtime_ns != rerun_time
