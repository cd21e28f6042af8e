"""Every workload's stored target is reachable: the best baseline, on a seed the target-setting procedure recorded as
reaching it, meets it again in a real trial.

No wall-clock outcome is asserted (a busy machine must not fail this test): the trial is capped in *updates*, as the
target-setting runs are, with a generous time cap that only guards against a hang. Whether the target is met within
the benchmark's time budget is a timing question for ``podium calibrate`` and the demo, not for a default test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.demo import BASELINES_DIR
from harness.runner.supervisor import run_trial
from harness.targets import setting_request
from workloads import TARGETS_FILE, WORKLOADS, get_spec

HARDWARE = "cpu-2core"


def reaching_seed(name: str) -> tuple[str, int]:
    """The best baseline and the first of its target-setting seeds that met the target."""
    prov = json.loads(TARGETS_FILE.read_text())["workloads"][name][HARDWARE]["provenance"]
    best = prov["best_baseline"]
    steps = prov["steps_to_target"][best]
    return best, next(k for k, s in enumerate(steps) if s is not None)


@pytest.mark.parametrize("name", WORKLOADS.names())
def test_best_baseline_reaches_the_stored_target(name: str, tmp_path: Path) -> None:
    spec = get_spec(name)
    baseline, seed_index = reaching_seed(name)
    setting = setting_request(spec, BASELINES_DIR / baseline, seed_index, HARDWARE)
    # The same seed, hyperparameters, update cap and evaluation grid as the target-setting run, scored for real.
    request = setting.model_copy(update={"mode": "score", "trial_id": f"reach-{name}"})
    outcome = run_trial(request, tmp_path)
    assert outcome.status == "reached", outcome.reason
    target = spec.targets_for(HARDWARE)
    assert spec.meets(outcome.result.validation[spec.metric], target.validation)
    assert set(outcome.result.test) == {"loss", spec.metric}
