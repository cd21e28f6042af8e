"""Real AlgoPerf baselines, ported mechanically, run as Podium trials and reach the digits target.

AlgoPerf's code is not part of Podium; point ``PODIUM_ALGOPERF_DIR`` at a checkout of
https://github.com/mlcommons/algorithmic-efficiency to run these tests (they are skipped otherwise).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.check import check_submission, format_report
from harness.port import port_algoperf
from harness.runner.messages import TrialRequest
from harness.runner.supervisor import run_trial
from workloads import get_spec

BASELINES = ("adamw", "nadamw")
# The hyperparameters of Podium's AdamW baseline; AlgoPerf's AdamW and NAdamW read the same names.
HYPERPARAMETERS = {"learning_rate": 0.003, "one_minus_beta1": 0.1, "beta2": 0.999, "weight_decay": 0.0001,
                   "warmup_factor": 0.02}


@pytest.fixture(scope="module")
def algoperf_dir() -> Path:
    location = os.environ.get("PODIUM_ALGOPERF_DIR")
    if not location:
        pytest.skip("set PODIUM_ALGOPERF_DIR to a checkout of github.com/mlcommons/algorithmic-efficiency "
                    "to port and run its AdamW and NAdamW PyTorch baselines")
    return Path(location)


@pytest.mark.parametrize("name", BASELINES)
def test_ported_algoperf_baseline_reaches_digits_target(name: str, algoperf_dir: Path, tmp_path: Path) -> None:
    source = algoperf_dir / "reference_algorithms" / "paper_baselines" / name / "pytorch" / "submission.py"
    if not source.is_file():
        pytest.fail(f"PODIUM_ALGOPERF_DIR is set, but {source} does not exist")
    folder = port_algoperf(source, tmp_path / name)
    report = check_submission(folder)
    assert report.ok, format_report(report)
    spec = get_spec("digits_mlp")
    request = TrialRequest(trial_id=f"algoperf-{name}", submission_dir=str(folder.resolve()), workload=spec,
                           hardware_class="cpu-2core", budget_s=spec.budget_for("cpu-2core"),
                           hyperparameters=HYPERPARAMETERS, seed=1)
    outcome = run_trial(request, tmp_path / "runs")
    assert outcome.status == "reached", f"{outcome.status}: {outcome.reason}"
