"""Every second of a real trial's wall time is in a named column, and CPU submission time is recorded.

A short digits_mlp trial of the adamw baseline, run by the supervisor as in ``podium run``. The checks are
structural: the columns must add up to the wall time the supervisor measured (within 1%), whatever the machine's
speed; no duration is compared with a constant.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.runner.messages import TrialRequest
from harness.runner.run import first_point
from harness.runner.supervisor import TrialOutcome, run_trial
from workloads import get_spec

ADAMW = Path(__file__).resolve().parents[2] / "submissions" / "training" / "adamw"


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> TrialOutcome:
    request = TrialRequest(trial_id="accounting", submission_dir=str(ADAMW), workload=get_spec("digits_mlp"),
                           hardware_class="cpu-2core", budget_s=0.5, hyperparameters=first_point(ADAMW), seed=3,
                           threads=1)
    return run_trial(request, tmp_path_factory.mktemp("accounting"))


def test_named_columns_sum_to_the_wall_time_within_one_percent(outcome: TrialOutcome) -> None:
    assert outcome.status in ("reached", "missed"), outcome.reason
    r = outcome.result
    parts = [outcome.spawn_s, r.startup_time_s, r.init_time_s, r.submission_time_s, r.eval_time_s,
             r.overhead_time_s, outcome.tail_s]
    assert all(p is not None and p >= 0 for p in parts), parts
    assert sum(parts) == pytest.approx(outcome.wall_s, rel=0.01), (parts, outcome.wall_s)


def test_cpu_submission_time_is_recorded_per_evaluation(outcome: TrialOutcome) -> None:
    r = outcome.result
    cpu = [e.cpu_submission_time_s for e in outcome.evals]
    assert all(c is not None and c > 0 for c in cpu) and cpu == sorted(cpu)
    assert 0 < r.cpu_submission_time_s and cpu[-1] <= r.cpu_submission_time_s + 1e-9
    if outcome.status == "reached":
        assert r.cpu_time_to_result_s == next(e.cpu_submission_time_s for e in outcome.evals
                                              if e.submission_time_s == r.time_to_result_s)


def test_contention_evidence_is_recorded(outcome: TrialOutcome) -> None:
    c = outcome.contention
    assert c is not None and c.trial_cpu_s > 0 and c.cores_capacity_s > 0
    assert c.involuntary_switches is not None and c.load_mean is not None and c.cores
    assert c.trial_cpu_s >= outcome.result.cpu_submission_time_s  # the submission's CPU is part of the trial's
