"""The dynamic half of ``podium check``: a few real steps of a submission on a small workload."""

from __future__ import annotations

import tempfile
from pathlib import Path

from harness.runner.messages import TrialLimits, TrialRequest
from harness.runner.run import first_point
from harness.runner.supervisor import TrialOutcome, run_trial
from workloads import get_spec
from workloads.spec import DEFAULT_HARDWARE_CLASS


def smoke_run(folder: Path, workload: str = "digits_mlp", seconds: float = 2.0) -> TrialOutcome:
    """Run the submission's first hyperparameter point for ``seconds`` of submission time (targets ignored)."""
    spec = get_spec(workload)
    point = first_point(folder)
    request = TrialRequest(trial_id="check", submission_dir=str(folder.resolve()), workload=spec,
                           hardware_class=DEFAULT_HARDWARE_CLASS, budget_s=seconds, hyperparameters=point, seed=0,
                           limits=TrialLimits(hang_grace_s=max(5.0, seconds)))
    with tempfile.TemporaryDirectory(prefix="podium-check-") as workdir:
        return run_trial(request, Path(workdir))
