"""`podium parity`: a baseline and its JAX twin run side by side on the same seeds; the report holds both
frameworks' initial loss, steps and seconds to the target and first-step time, and refuses what it cannot compare."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness import parity
from harness.cli import app
from harness.demo import SUBMISSIONS_DIR
from workloads import get_spec

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PODIUM_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "target-curves"


def test_both_frameworks_run_the_same_seeds_and_the_report_compares_them(cache: Path) -> None:
    spec = get_spec("digits_mlp")
    folders = parity.twin_baselines("nadamw")
    torch_request = parity.parity_request(spec, folders["pytorch"], 0, "cpu-2core")
    jax_request = parity.parity_request(spec, folders["jax"], 0, "cpu-2core")
    assert torch_request.seed == jax_request.seed and (torch_request.framework, jax_request.framework) == (
        "pytorch", "jax")  # the same seed: the same data order in both frameworks
    assert parity.parity_request(spec, folders["jax"], 1, "cpu-2core").seed != jax_request.seed

    report = parity.measure([spec], "nadamw", seeds=1, max_steps=250)
    (workload,) = report["workloads"]
    rows = {r["framework"]: r for r in workload["rows"]}
    assert set(rows) == {"pytorch", "jax"} and rows["jax"]["baseline"] == "nadamw_jax"
    assert workload["initial_loss_agrees"], workload  # the twins start from the same distribution
    assert abs(rows["pytorch"]["initial_loss"] - 2.30) < 0.1
    for row in rows.values():
        assert row["runs"] == 1 and row["first_step_s"] > 0 and row["step_s"] > 0
        if row["reached"]:  # the first evaluation at the target, within the 250 updates run
            assert 0 < row["steps_to_target"] <= 250 and 0 < row["time_to_target_s"]
    # JAX compiles its jitted step in the first update: far longer than the updates after it
    assert rows["jax"]["first_step_s"] > 10 * rows["jax"]["step_s"]
    assert len(list(cache.glob("*.json"))) == 2  # both runs kept: a second report reads them back
    again = parity.measure([spec], "nadamw", seeds=1, max_steps=250)
    assert again["workloads"][0]["rows"] == workload["rows"]

    text = parity.markdown(report)
    assert "| digits_mlp | jax |" in text and "podium parity --baseline nadamw --seeds 1" in text


def test_the_command_prints_json_and_refuses_what_it_cannot_compare(cache: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    monkeypatch.setattr(parity, "setting_steps", lambda spec: 120)
    out = tmp_path / "parity.json"
    result = runner.invoke(app, ["parity", "-w", "digits_mlp", "--seeds", "1", "--format", "json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert json.loads(out.read_text()) == report and report["workloads"][0]["rows"][1]["framework"] == "jax"

    result = runner.invoke(app, ["parity", "-w", "minilm_rotten_tomatoes"])
    assert result.exit_code == 2 and "offered in pytorch only" in result.output
    result = runner.invoke(app, ["parity", "-b", "nesterov", "-w", "digits_mlp"])
    assert result.exit_code == 2 and "nesterov_jax" in result.output
    assert not (SUBMISSIONS_DIR / "training" / "nesterov_jax").exists()
    result = runner.invoke(app, ["parity", "-w", "digits_mlp", "--format", "yaml"])
    assert result.exit_code == 2 and "use table, json or markdown" in result.output

    # twins that do not start from the same model: the report says so and the command fails
    monkeypatch.setattr(parity, "initial_losses", lambda spec: {"pytorch": [2.30, 2.31], "jax": [2.50, 2.52]})
    result = runner.invoke(app, ["parity", "-w", "digits_mlp", "--seeds", "1"])
    assert result.exit_code == 1 and "initial losses differ by more than 3%" in result.output
    assert "+8.9%!" in result.output
