"""``podium check`` tells a compiling first step from a hang: per-step times from the smoke run's evaluations."""

from __future__ import annotations

from pathlib import Path

from harness.runner.messages import EvalRecord
from harness.runner.supervisor import TrialOutcome
from harness.smoke import StepTimes, step_times


def _outcome(marks: list[float]) -> TrialOutcome:
    evals = [EvalRecord(trial_id="t", eval_index=i, step=i + 1, submission_time_s=m, eval_time_s=0.0,
                        wall_time_s=m, metrics={"accuracy": 0.5}) for i, m in enumerate(marks)]
    return TrialOutcome("missed", "", None, 1.0, 0, 0.0, Path("log"), evals)


def test_a_slow_first_step_is_called_a_compilation() -> None:
    times = step_times(_outcome([30.0, 30.01, 30.02, 30.03]))
    assert times.first_s == 30.0 and abs(times.later_s - 0.01) < 1e-9 and times.slow_first
    assert "a compilation, e.g. torch.compile" in times.describe()


def test_even_steps_are_not() -> None:
    times = step_times(_outcome([0.01, 0.02, 0.03]))
    assert not times.slow_first and "compilation" not in times.describe()
    assert not StepTimes(0.5, None).slow_first and StepTimes(31.7, None).slow_first  # one step: over a second


def test_no_evaluation_no_times() -> None:
    assert step_times(_outcome([])) is None
