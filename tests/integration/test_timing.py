"""The harness's time accounting, checked against a submission whose code takes a known time.

The fixture (``tests/fixtures/bad_submissions/known_sleeps/``) sleeps 0.3 s in ``init_optimizer_state``, 10 ms per
``update_params``, 20 ms per ``prepare_for_eval`` and 0.1 s per evaluation forward pass, and computes nothing. So
submission time must be ``steps * 10 ms + evaluations * 20 ms`` (a sleep never returns early, and oversleeping is
small), with neither initialisation nor evaluation in it. No assertion depends on how fast the machine is.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.runner.messages import TrialRequest
from harness.runner.supervisor import TrialOutcome, run_trial
from workloads import get_spec

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "bad_submissions" / "known_sleeps"
INIT_S, UPDATE_S, PREPARE_S, EVAL_FORWARD_S = 0.3, 0.010, 0.020, 0.1  # as in the fixture
RELATIVE, ABSOLUTE = 0.15, 0.05  # allowed oversleep and call overhead: 15% plus 50 ms


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> TrialOutcome:
    request = TrialRequest(trial_id="known_sleeps", submission_dir=str(FIXTURE), workload=get_spec("digits_mlp"),
                           hardware_class="cpu-2core", budget_s=1.0, seed=1, threads=1)
    return run_trial(request, tmp_path_factory.mktemp("timing"))


def assert_close_above(measured: float, expected: float) -> None:
    """At least the time slept, and at most that plus the allowed oversleep."""
    assert expected <= measured <= expected * (1 + RELATIVE) + ABSOLUTE, (measured, expected)


def test_trial_runs_its_budget_and_misses(outcome: TrialOutcome) -> None:
    assert outcome.status == "missed", outcome.reason
    result = outcome.result
    assert result is not None and result.steps > 10 and result.n_evals >= 2
    assert result.time_to_result_s is None
    assert 1.0 <= result.submission_time_s  # the loop ran until the budget was spent


def test_submission_time_is_updates_plus_prepare_for_eval(outcome: TrialOutcome) -> None:
    result = outcome.result
    assert_close_above(result.submission_time_s, result.steps * UPDATE_S + result.n_evals * PREPARE_S)


def test_each_evaluation_sees_only_submission_time_so_far(outcome: TrialOutcome) -> None:
    """Per evaluation: no initialisation (0.3 s) and no earlier evaluation (>= 0.1 s each) in submission time."""
    assert [r.eval_index for r in outcome.evals] == list(range(outcome.result.n_evals))
    for record in outcome.evals:
        assert_close_above(record.submission_time_s, record.step * UPDATE_S + (record.eval_index + 1) * PREPARE_S)
    assert outcome.evals[-1].submission_time_s == pytest.approx(outcome.result.submission_time_s)


def test_evaluation_is_recorded_but_not_counted(outcome: TrialOutcome) -> None:
    result = outcome.result
    assert all(record.eval_time_s > 0 for record in outcome.evals)
    # The result's evaluation time also holds the final test evaluation, which sends no record.
    assert result.eval_time_s > sum(r.eval_time_s for r in outcome.evals)
    assert result.submission_time_s <= result.loop_wall_s - result.eval_time_s + 1e-6  # evaluation is not in it


def test_no_submission_code_runs_during_evaluation(outcome: TrialOutcome) -> None:
    """The fixture hooks a 0.1 s sleep into its model's eval-mode forward; the harness evaluates its own copy of the
    model, so the hook never runs and evaluation cannot be used for free (untimed) work."""
    for record in outcome.evals:
        assert record.eval_time_s < EVAL_FORWARD_S


def test_initialisation_is_recorded_but_not_counted(outcome: TrialOutcome) -> None:
    result = outcome.result
    assert INIT_S <= result.init_time_s < INIT_S + 0.2
    assert outcome.evals[0].submission_time_s < INIT_S  # the first evaluation comes after ~0.25 s of updates


def test_loop_wall_is_submission_plus_evaluation_plus_overhead(outcome: TrialOutcome) -> None:
    result = outcome.result
    total = result.submission_time_s + result.eval_time_s + result.overhead_time_s
    assert total == pytest.approx(result.loop_wall_s, rel=1e-6)
    assert 0.0 <= result.overhead_time_s < 0.2 * result.loop_wall_s  # bookkeeping, not hidden submission work


def test_supervisor_wall_covers_the_worker_and_not_much_more(outcome: TrialOutcome) -> None:
    result = outcome.result
    inside = result.startup_time_s + result.init_time_s + result.loop_wall_s
    assert inside <= result.worker_wall_s <= outcome.wall_s
    # The rest is interpreter start and first imports (spawn), sending the result and reaping (tail): measured, so
    # the check holds however slow the machine (a constant allowance failed on a loaded machine: 5.6 s of imports).
    assert outcome.wall_s == pytest.approx(outcome.spawn_s + inside + outcome.tail_s, rel=0.01)


def test_supervisor_estimate_agrees_with_the_worker(outcome: TrialOutcome) -> None:
    """The supervisor's own sampled estimate (what catches clock tampering) is in the same range."""
    submission_s = outcome.result.submission_time_s
    assert 0.5 * submission_s <= outcome.estimated_submission_s <= 1.5 * submission_s + 0.2
