"""The supervisor's account of a trial's evaluations (harness/runner/evaluator.py: Evaluations): a scored trial's
test evaluation ends its timed loop for the supervisor's clock, and nothing is evaluated after it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.runner import evaluator
from harness.runner.messages import EvalRequest, TrialRequest
from workloads import get_spec


class Clock:
    """The supervisor's monotonic clock, moved by the test: no assertion here depends on how busy the machine is."""

    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now


def evaluations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: Clock,
                seconds: float) -> evaluator.Evaluations:
    """Evaluations of a trial with no process to stop, whose every evaluation takes ``seconds`` on ``clock`` (the
    server's part replaced: what is tested here is the supervisor's bookkeeping around it)."""
    monkeypatch.setattr(evaluator, "time", SimpleNamespace(monotonic=clock.monotonic))
    request = TrialRequest(trial_id="t", submission_dir=str(tmp_path), workload=get_spec("digits_mlp"),
                           hardware_class="cpu-2core", budget_s=10.0, seed=0)
    found = evaluator.Evaluations(request, tmp_path)

    def evaluate(order: EvalRequest) -> dict:
        clock.now += seconds
        return {"metrics": {"accuracy": 0.5, "loss": 1.0}}

    monkeypatch.setattr(found, "_evaluate", evaluate)
    return found


def ask(found: evaluator.Evaluations, split: str) -> dict:
    return found.answer(EvalRequest(trial_id="t", split=split, path="evaluate.pt"))


def test_the_loop_ends_at_the_test_evaluation_and_its_wait_is_not_taken_off(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    found = evaluations(tmp_path, monkeypatch, clock, seconds=2.0)
    found.loop()
    clock.now += 3.0  # submission time
    ask(found, "validation")  # a 2 s wait inside the loop
    clock.now += 3.0
    assert ask(found, "test") == evaluator.REPLY_WITHHELD
    clock.now += 5.0  # after the loop: the harness's measurements, not submission time
    found.finish()

    assert found.estimate(clock.now) == pytest.approx(6.0)
    assert found.waited_s == pytest.approx(4.0)  # both waits are evidence


def test_nothing_is_evaluated_after_a_scored_trials_test_evaluation(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    found = evaluations(tmp_path, monkeypatch, Clock(), seconds=0.0)
    found.loop()
    ask(found, "test")

    assert "after the test evaluation" in ask(found, "validation")["error"]
    assert found.validation == []
