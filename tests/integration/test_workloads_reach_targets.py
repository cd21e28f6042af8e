"""Every lite workload and variant is reachable by the AdamW baseline within its budget (a real trial each)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.runner.messages import TrialRequest
from harness.runner.supervisor import run_trial
from workloads import WORKLOADS, get_spec


@pytest.mark.parametrize("name", WORKLOADS.names())
def test_adamw_reaches_validation_target(name: str, adamw_dir: Path, tmp_path: Path) -> None:
    spec = get_spec(name)
    hp = json.loads((adamw_dir / "search_space.json").read_text())[0]
    request = TrialRequest(trial_id=name, submission_dir=str(adamw_dir), workload=spec, hardware_class="cpu-2core",
                           budget_s=spec.budget_for("cpu-2core"), hyperparameters=hp, seed=7)
    outcome = run_trial(request, tmp_path)
    assert outcome.status == "reached", outcome.reason
    result = outcome.result
    assert result.time_to_result_s <= spec.budget_for("cpu-2core")
    target = spec.targets_for("cpu-2core")
    assert result.validation["accuracy"] >= target.validation
    assert set(result.test) == {"loss", "accuracy"}
