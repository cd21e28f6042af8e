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

from harness.demo import SUBMISSIONS_DIR
from harness.runner.supervisor import run_trial
from harness.targets import setting_request
from workloads import TARGETS_FILE, WORKLOADS, get_spec

HARDWARE = "cpu-2core"


def provenance(name: str) -> dict:
    return json.loads(TARGETS_FILE.read_text())["workloads"][name][HARDWARE]["provenance"]


def reaching_seed(name: str, baseline: str | None = None) -> tuple[str, int]:
    """A baseline (default: the best) and the first of its target-setting seeds that met the target."""
    prov = provenance(name)
    baseline = baseline or prov["best_baseline"]
    steps = prov["steps_to_target"][baseline]
    return baseline, next(k for k, s in enumerate(steps) if s is not None)


#: a case whose update-capped run would take longer than this (the recorded seconds per update x the updates) is slow
SLOW_CASE_S = 60.0


def cases() -> list:
    """Every workload with targets here, by its best baseline; on the PEFT track also by LoRA and by full fine-tuning
    (slow) where one of their seeds met the target when it was set."""
    found = []
    for name in WORKLOADS.names():
        spec = get_spec(name)
        if HARDWARE not in spec.targets or spec.track == "compression":
            continue  # another hardware class (smollm2_sentiment: GPU classes only); compression: no curve, its own
            # test (tests/integration/test_compression_track.py)
        prov = provenance(name)
        slow = max(prov.get("seconds_per_step", {}).values(), default=0.0) * spec.step_hint > SLOW_CASE_S
        found.append(pytest.param(name, None, id=name, marks=[pytest.mark.slow] if slow else []))
        for other in ("lora", "full_finetune") if spec.track == "peft" else ():
            steps = prov["steps_to_target"].get(other)
            if other != prov["best_baseline"] and steps and any(s is not None for s in steps):
                found.append(pytest.param(name, other, id=f"{name}-{other}", marks=pytest.mark.slow))
    return found


@pytest.mark.parametrize(("name", "baseline"), cases())
def test_best_baseline_reaches_the_stored_target(name: str, baseline: str | None, tmp_path: Path) -> None:
    spec = get_spec(name)
    baseline, seed_index = reaching_seed(name, baseline)
    point = provenance(name).get("points", {}).get(baseline, 1)  # `podium targets set --point`, where it was used
    setting = setting_request(spec, SUBMISSIONS_DIR / spec.track / baseline, seed_index, HARDWARE, point=point)
    # The same seed, hyperparameters, update cap and evaluation grid as the target-setting run, scored for real.
    request = setting.model_copy(update={"mode": "score", "trial_id": f"reach-{name}"})
    outcome = run_trial(request, tmp_path)
    assert outcome.status == "reached", outcome.reason
    target = spec.targets_for(HARDWARE)
    assert spec.meets(outcome.result.validation[spec.metric], target.validation)
    assert set(outcome.result.test) == {"loss", spec.metric}
