"""Every bad submission of the local failure suite ends with the same status and reason in a sealed container.

The cases are those of ``tests/integration/test_trial_failures.py`` (loaded from that file, so the two never drift):
the supervisor's watching and judging are shared, only the way the worker is started differs.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.executors.container import DockerRunner
from harness.runner.messages import TrialLimits, TrialRequest
from workloads import get_spec

pytestmark = pytest.mark.docker
SUITE = Path(__file__).resolve().parents[1] / "integration" / "test_trial_failures.py"
_spec = importlib.util.spec_from_file_location("local_trial_failure_cases", SUITE)
local = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(local)  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def runner(scoring_image: Any) -> DockerRunner:
    return DockerRunner.connect(scoring_image.image.name)


@pytest.mark.parametrize("case", local.CASES, ids=[c.fixture for c in local.CASES])
def test_bad_submission_fails_the_same_way_in_a_container(case: Any, runner: DockerRunner, tmp_path: Path) -> None:
    request = TrialRequest(
        trial_id=case.fixture, submission_dir=str(local.FIXTURES / case.fixture), workload=get_spec("digits_mlp"),
        hardware_class="cpu-2core", budget_s=case.budget_s, hyperparameters={"learning_rate": 0.1}, seed=1,
        threads=1, limits=TrialLimits(**case.limits))
    outcome = runner.run_trial(request, tmp_path)

    assert (outcome.status, case.fixture) == (case.status, case.fixture), outcome.reason
    for expected in case.reason:
        assert expected in outcome.reason
    if case.located:
        assert outcome.reason.endswith(f" at submission.py:{local.marked_line(case.fixture)}")
    assert outcome.wall_s < case.max_wall_s + 5  # + container start and removal
    assert outcome.executor == "docker" and outcome.image_digest == runner.image_digest
    assert not runner.client.containers.list(all=True, filters={"label": f"org.podium.trial={case.fixture}"})
