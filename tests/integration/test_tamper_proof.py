"""Hostile submissions against what the harness guarantees by construction (README, "What each executor
guarantees"): evaluation data out of the submission's reach, a clock and records it cannot forge, nothing of it
running while the harness evaluates.

Each test runs real trials (supervisor -> worker process, evaluation in the evaluation server) of a fixture from
``tests/fixtures/bad_submissions/`` on ``digits_mlp``; the ones that show what the server prevents run the same
fixture again with evaluation in the trial's own process (``PODIUM_EVALUATION=worker``), where the attack works:
so each test can fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.runner import evaluator
from harness.runner.messages import TrialLimits, TrialRequest
from harness.runner.supervisor import TrialOutcome, run_trial
from workloads import get_spec

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bad_submissions"


def run_fixture(name: str, workdir: Path, budget_s: float = 1.0, **limits: float) -> TrialOutcome:
    request = TrialRequest(
        trial_id=name, submission_dir=str(FIXTURES / name), workload=get_spec("digits_mlp"),
        hardware_class="cpu-2core", budget_s=budget_s, hyperparameters={"learning_rate": 0.1}, seed=1, threads=1,
        limits=TrialLimits(**limits))
    return run_trial(request, workdir)


@pytest.fixture
def evaluation_in_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(evaluator.EVALUATION_ENV, "worker")


def test_held_out_data_is_not_reachable_from_the_submission(tmp_path: Path) -> None:
    outcome = run_fixture("peek_held_out", tmp_path)

    assert outcome.status in ("reached", "missed"), outcome.reason
    assert outcome.result is not None and outcome.result.test  # the supervisor recorded the test metrics


def test_with_evaluation_in_the_worker_the_same_search_finds_them(tmp_path: Path, evaluation_in_worker: None) -> None:
    outcome = run_fixture("peek_held_out", tmp_path)

    assert outcome.status == "failed" and "found held-out data" in outcome.reason, outcome.reason


def test_a_scored_trials_test_metrics_never_reach_the_worker(tmp_path: Path) -> None:
    """The healthy fixture's result: the test metrics are the server's, filled in by the supervisor."""
    outcome = run_fixture("healthy", tmp_path)

    assert outcome.status in ("reached", "missed"), outcome.reason
    assert set(outcome.result.test) >= {"accuracy", "loss"}
    assert outcome.result.test_target_met is not None
    assert [e.metrics for e in outcome.evals][-1] == outcome.result.validation


def test_forged_records_fail_the_trial(tmp_path: Path) -> None:
    outcome = run_fixture("forge_records", tmp_path)

    assert outcome.status == "failed", outcome.reason
    assert "forged records" in outcome.reason


def test_with_evaluation_in_the_worker_forged_records_would_stand(tmp_path: Path,
                                                                 evaluation_in_worker: None) -> None:
    """What the check above adds: without the server's own metrics there is nothing to hold the records against."""
    outcome = run_fixture("forge_records", tmp_path)

    assert outcome.status == "reached", outcome.reason


def test_a_stopped_clock_with_a_hidden_phase_is_caught(tmp_path: Path) -> None:
    """The heartbeat never shows the SUBMISSION phase and the harness clock stands still: only the supervisor's own
    observation (the loop's wall time less the evaluations it ran) sees the time pass."""
    outcome = run_fixture("hide_submission_phase", tmp_path, budget_s=0.5, hang_grace_s=0.5)

    assert outcome.status == "failed", outcome.reason
    assert "clock tampering" in outcome.reason
    assert outcome.estimated_submission_s > 0.5


def test_a_clock_that_runs_slow_is_caught(tmp_path: Path) -> None:
    """A worker that reports 60% of its submission time: 6 s reported for about 10 s used, a gap of about 4 s where
    about 2.5 s is allowed (:func:`harness.runner.supervisor.clock_allowance`: 1 s, 3% of 10 s, and 0.01 s for each
    of its ~120 evaluations). The old rule (70% of the estimate minus 2 s: 5 s) let it through."""
    request = TrialRequest(
        trial_id="slow", submission_dir=str(FIXTURES / "slow_clock"), workload=get_spec("digits_mlp"),
        hardware_class="cpu-2core", budget_s=6.0, hyperparameters={"learning_rate": 0.0}, seed=1, threads=1)
    outcome = run_trial(request, tmp_path)

    assert outcome.status == "failed" and "clock tampering" in outcome.reason, outcome.reason
    assert outcome.result is not None and outcome.result.submission_time_s <= 6.5
    assert outcome.estimated_submission_s > 8.0


def test_nothing_of_the_trial_runs_while_it_is_evaluated(tmp_path: Path) -> None:
    """A thread that computes without end is stopped with the rest of the trial during each evaluation: the trial's
    processes use no CPU while the server evaluates, and the trial ends normally."""
    outcome = run_fixture("compute_during_eval", tmp_path, budget_s=2.0)

    assert outcome.status in ("reached", "missed"), outcome.reason
    assert outcome.result.n_evals >= 1 and outcome.evaluation_wait_s > 0
    assert outcome.running_during_evaluation == []  # every process of the trial was stopped at each evaluation
    low, per_s = evaluator.WAIT_CPU_ALLOWANCE
    assert outcome.evaluation_wait_cpu_s <= low * outcome.result.n_evals + per_s * outcome.evaluation_wait_s


def test_a_trial_that_is_not_stopped_during_evaluation_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the test above rests on: without the stop, the busy thread is seen running and the trial fails."""
    monkeypatch.setattr(evaluator, "_signal_tree", lambda *args: [])

    outcome = run_fixture("compute_during_eval", tmp_path, budget_s=2.0)

    assert outcome.status == "failed", outcome.reason
    assert "ran while the harness evaluated it" in outcome.reason


def test_locally_the_dataset_files_are_readable(tmp_path: Path) -> None:
    """What the README's guarantee table says of the local executor: the trial runs as your user, who can read the
    dataset; the Docker executor's trials cannot (tests/docker/test_sealed_trials.py)."""
    outcome = run_fixture("read_dataset_files", tmp_path)

    assert outcome.status == "failed" and "found a dataset file" in outcome.reason, outcome.reason


def test_the_supervisors_evidence_is_stored_with_the_trial(tmp_path: Path) -> None:
    """``podium run`` stores what the supervisor observed beside the worker's account: its own estimate of the
    submission time (here close to the reported one: an honest trial) and where the trial was evaluated."""
    import json
    import os
    import subprocess
    import sys

    from harness.store import ResultsStore

    db = tmp_path / "r.db"
    adamw = Path(__file__).resolve().parents[2] / "submissions" / "training" / "adamw"
    command = [sys.executable, "-m", "harness.cli", "run", str(adamw), "--workload", "digits_mlp", "--trials", "1",
               "--scoring-seeds", "0", "--threads", "1", "--db", str(db)]
    out = subprocess.run(command, capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "200"})
    assert out.returncode == 0, out.stderr
    [trial] = ResultsStore(db).trials()
    evidence = json.loads(trial["provenance_json"])["evidence"]
    assert evidence["evaluated_by"] == "server" and evidence["evaluation_wait_s"] > 0
    assert 0.5 * evidence["observed_submission_s"] <= trial["submission_time_s"] <= evidence["observed_submission_s"]


# --- The PEFT track: the submission's model reaches the server as an exported program (harness/runner/program.py).

PEFT = Path(__file__).resolve().parents[2] / "submissions" / "peft"


def run_peft(folder: Path, workdir: Path, steps: int = 4, trial_id: str = "peft") -> TrialOutcome:
    request = TrialRequest(trial_id=trial_id, submission_dir=str(folder), workload=get_spec("fashion_cnn_transfer"),
                           hardware_class="cpu-2core", budget_s=600.0, seed=3, threads=1, max_steps=steps,
                           eval_every_steps=max(1, steps // 2), hyperparameters={"learning_rate": 0.003})
    return run_trial(request, workdir)


def test_a_peft_method_cannot_reach_the_held_out_data(tmp_path: Path) -> None:
    """The worker built the PEFT workload (its reference sample comes from the loaders) and then dropped every
    held-out example before the method's ``adapt`` ran."""
    outcome = run_peft(FIXTURES / "peek_held_out_peft", tmp_path)

    assert outcome.status in ("reached", "missed"), outcome.reason
    assert outcome.evaluation_wait_s > 0 and set(outcome.result.test) >= {"accuracy", "loss"}


def test_a_peft_method_that_hides_its_adapt_time_is_caught(tmp_path: Path) -> None:
    """``adapt`` (timed, before the loop) works 4 s and sets the harness clock back by as much: the worker reports
    about 0 s for it, and the supervisor, which timed ``adapt`` between the worker's marks, fails the trial."""
    outcome = run_peft(FIXTURES / "adapt_clock_tamper", tmp_path)

    assert outcome.status == "failed" and "clock tampering" in outcome.reason, outcome.reason
    assert outcome.estimated_submission_s > 4.0 > outcome.result.submission_time_s + 2.0


def test_with_evaluation_in_the_worker_a_peft_method_finds_them(tmp_path: Path, evaluation_in_worker: None) -> None:
    outcome = run_peft(FIXTURES / "peek_held_out_peft", tmp_path)

    assert outcome.status == "failed" and "found held-out data" in outcome.reason, outcome.reason


def test_a_peft_model_evaluated_as_its_program_scores_what_it_scores_in_the_worker(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """LoRA (a ``peft`` config) on the same seed, evaluated by the server from its exported program and then in the
    trial's own process: the same validation metrics at every evaluation, and the same test metrics."""
    served = run_peft(PEFT / "lora", tmp_path / "server", steps=20)
    monkeypatch.setenv(evaluator.EVALUATION_ENV, "worker")
    local = run_peft(PEFT / "lora", tmp_path / "worker", steps=20)

    assert served.status == local.status and served.evaluation_wait_s > 0 and local.evaluation_wait_s is None
    assert len(served.evals) == len(local.evals) >= 2
    for a, b in [*zip(served.evals, local.evals), (served.result, local.result)]:
        ours, theirs = (a.test, b.test) if a is served.result else (a.metrics, b.metrics)
        assert ours["accuracy"] == theirs["accuracy"]
        assert ours["loss"] == pytest.approx(theirs["loss"], rel=1e-5)


@pytest.mark.parametrize("baseline", sorted(p.name for p in PEFT.iterdir() if p.is_dir()))
def test_every_peft_baselines_model_is_evaluated_from_its_program(baseline: str, tmp_path: Path) -> None:
    """LoRA, IA3 and AdaLoRA (``peft`` configs), BitFit, a linear probe, full and half fine-tuning and a ladder side
    network (hand-written): each exports, and the server evaluates it."""
    outcome = run_peft(PEFT / baseline, tmp_path, steps=2, trial_id=baseline)

    assert outcome.status in ("reached", "missed"), outcome.reason
    assert outcome.evaluation_wait_s > 0 and set(outcome.result.test) >= {"accuracy", "loss"}


def test_a_peft_model_that_cannot_be_exported_fails_with_the_reason(tmp_path: Path) -> None:
    folder = tmp_path / "branchy"
    folder.mkdir()
    (folder / "submission.py").write_text('''
import torch


class Branchy(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        out = self.model(x)
        return out if out.sum() > 0 else -out  # Python control flow on a tensor's value


def adapt(model, workload, hyperparameters, rng):
    return Branchy(model)
''')
    outcome = run_peft(folder, tmp_path / "work")

    assert outcome.status == "failed", outcome.reason
    assert "could not be exported with torch.export" in outcome.reason
