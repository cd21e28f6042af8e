"""``podium calibrate``: the noise floor of time-to-result on this hardware class.

One configuration (a baseline's first hyperparameter point) and one seed are run ``repeats`` times, one after the
other. Everything that could change the result is fixed, so the spread of time-to-result is the machine's timing
noise: differences between submissions smaller than it are not meaningful. Stored per (hardware class, workload,
submission); ``podium results`` shows it.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from rich.console import Console

from harness.provenance import cpu_model, git_commit
from harness.runner.messages import TrialRequest
from harness.runner.run import first_point
from harness.runner.supervisor import run_trial
from harness.store import ResultsStore
from workloads import get_spec


def calibrate(workload: str, submission: Path, repeats: int, db: Path, hardware_class: str, seed: int,
              console: Console) -> dict:
    spec = get_spec(workload)
    point = first_point(submission)
    times: list[float] = []
    with tempfile.TemporaryDirectory(prefix="podium-calibrate-") as workdir:
        for i in range(repeats):
            request = TrialRequest(trial_id=f"calibrate-{i}", submission_dir=str(submission.resolve()), workload=spec,
                                   hardware_class=hardware_class, budget_s=spec.budget_for(hardware_class),
                                   hyperparameters=point, seed=seed)
            outcome = run_trial(request, Path(workdir))
            if outcome.status != "reached":
                raise RuntimeError(f"calibration run {i + 1} {outcome.status}: {outcome.reason}")
            times.append(outcome.result.time_to_result_s)
            console.print(f"  run {i + 1}/{repeats}: {times[-1]:.3f}s to target ({outcome.result.steps} steps)")
    mean = statistics.fmean(times)
    std = statistics.stdev(times) if len(times) > 1 else 0.0
    row = dict(hardware_class=hardware_class, workload=workload, submission_name=submission.resolve().name,
               repeats=repeats, mean_s=mean, std_s=std, cv=std / mean if mean else None, times_json=times,
               provenance_json={"cpu_model": cpu_model(), "git_commit": git_commit(), "seed": seed,
                                "hyperparameters": point})
    ResultsStore(db).save_noise_floor(row)
    return row
