"""No process of a trial survives it; a trial that leaves one behind fails (:mod:`harness.runner.reaper`).

Real ``digits_mlp`` trials of the fixtures ``fork_child`` (a plain child, in the trial's process group) and
``daemon_child`` (fork, ``setsid``, fork: a daemon in its own session, which the group kill misses), each started
both ways: forked by the fork server and as a new interpreter (``PODIUM_TRIAL_START=cold``). Honest trials keep
their status: every other trial test (``test_trial_failures``, ``test_warm_start``, ...) runs through the same check.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psutil
import pytest

from harness.runner.messages import TrialLimits, TrialRequest
from harness.runner.supervisor import TrialOutcome, run_trial
from workloads import get_spec

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bad_submissions"


def run_fixture(name: str, workdir: Path, budget_s: float = 0.5, cores: list[int] | None = None,
                **limits: float) -> TrialOutcome:
    request = TrialRequest(
        trial_id=name, submission_dir=str(FIXTURES / name), workload=get_spec("digits_mlp"),
        hardware_class="cpu-2core", budget_s=budget_s, hyperparameters={"learning_rate": 0.1}, seed=1, threads=1,
        cpu_affinity=cores, limits=TrialLimits(**limits))
    return run_trial(request, workdir)


def printed_pid(outcome: TrialOutcome, label: str) -> int:
    return int(outcome.log_path.read_text().split(f"{label} pid ")[1].split()[0])


def gone(pid: int) -> bool:
    """Not running and not a zombie either: killed and reaped. SIGKILL is asynchronous, but the supervisor waits
    for it before it returns the outcome, so no waiting here."""
    return not psutil.pid_exists(pid)


@pytest.fixture(params=["warm", "cold"])
def start(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PODIUM_TRIAL_START", request.param)
    return request.param


def test_a_child_alive_when_the_worker_ends_outlived_the_trial(start: str, tmp_path: Path) -> None:
    """A plain child that the group kill would take with it still counts: it was running when the trial ended."""
    outcome = run_fixture("fork_child", tmp_path)

    pid = printed_pid(outcome, "child")
    assert (outcome.start, outcome.status) == (start, "failed"), outcome.reason
    assert outcome.reason.startswith(f"a process the trial started outlived it (pid {pid}: ")
    assert outcome.reason.endswith("the trial's process group); killed")
    assert gone(pid)


def test_a_daemon_in_its_own_session_is_killed_and_fails_the_trial(start: str, tmp_path: Path) -> None:
    started = time.time()
    outcome = run_fixture("daemon_child", tmp_path)

    pid = printed_pid(outcome, "daemon")
    assert (outcome.start, outcome.status) == (start, "failed"), outcome.reason
    assert f"outlived it (pid {pid}: " in outcome.reason and "its own session); killed" in outcome.reason
    assert outcome.result is not None and outcome.result.steps > 0  # the trial itself ran to its end
    assert gone(pid)
    assert not [p for p in psutil.Process().children() if p.status() == psutil.STATUS_ZOMBIE
                and p.create_time() >= started]  # this trial's: earlier tests may leave other orphans here


def test_a_trial_ended_for_another_reason_keeps_it_and_names_the_daemon(tmp_path: Path) -> None:
    """Ended for another reason (here: the run was interrupted once the daemon had started), the trial keeps its
    status and first reason; the daemon in its own session survives the group kill and is named after it."""
    cancel = threading.Event()
    log = tmp_path / "daemon_child.log"

    def cancel_once_the_daemon_runs() -> None:
        deadline = time.monotonic() + 120
        while "daemon pid" not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
            time.sleep(0.05)
        cancel.set()

    threading.Thread(target=cancel_once_the_daemon_runs, daemon=True).start()
    request = TrialRequest(
        trial_id="daemon_child", submission_dir=str(FIXTURES / "daemon_child"), workload=get_spec("digits_mlp"),
        hardware_class="cpu-2core", budget_s=30.0, hyperparameters={"learning_rate": 0.1}, seed=1, threads=1)
    outcome = run_trial(request, tmp_path, cancel=cancel)

    pid = printed_pid(outcome, "daemon")
    assert outcome.status == "cancelled", outcome.reason
    assert f"; also, a process the trial started outlived it (pid {pid}: " in outcome.reason
    assert gone(pid)


def test_concurrent_trials_each_answer_for_their_own_processes(tmp_path: Path) -> None:
    """Two trials in threads of one process, as ``podium run --workers 2`` runs them: the daemon fails its own
    trial only, and the honest trial beside it ends as usual."""
    outcomes: dict[str, TrialOutcome] = {}

    def run(name: str) -> None:
        outcomes[name] = run_fixture(name, tmp_path / name)

    threads = [threading.Thread(target=run, args=(name,)) for name in ("daemon_child", "healthy")]
    for thread in threads:
        thread.start()
        time.sleep(0.2)
    for thread in threads:
        thread.join(timeout=300)

    daemon, healthy = outcomes["daemon_child"], outcomes["healthy"]
    assert daemon.status == "failed" and "its own session); killed" in daemon.reason, daemon.reason
    assert healthy.status in ("reached", "missed"), healthy.reason
    assert gone(printed_pid(daemon, "daemon"))
