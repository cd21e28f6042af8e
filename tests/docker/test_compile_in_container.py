"""torch.compile from a cold cache in a fresh ``--network none`` container, under the trial's limits: the C++
compiler's files go to the container's scratch ``/tmp`` and are not taken for an output flood."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.executors.container import DockerRunner
from harness.runner.messages import TrialRequest
from workloads import get_spec

pytestmark = pytest.mark.docker
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "bad_submissions" / "compile_cold_cache"


def test_torch_compile_from_a_cold_cache_in_a_sealed_container(scoring_image: Any, tmp_path: Path) -> None:
    runner = DockerRunner.connect(scoring_image.image.name)
    request = TrialRequest(trial_id="compile", submission_dir=str(FIXTURE), workload=get_spec("digits_mlp"),
                           hardware_class="cpu-2core", budget_s=600.0, hyperparameters={"learning_rate": 0.1},
                           seed=1, threads=1, max_steps=5, eval_every_steps=5)  # a budget for a slow compile
    outcome = runner.run_trial(request, tmp_path)
    assert outcome.status in ("reached", "missed"), outcome.reason
    assert outcome.executor == "docker" and outcome.result.steps == 5
