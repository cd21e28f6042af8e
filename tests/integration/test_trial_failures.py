"""Bad submissions end as a trial status with a clear reason, and the harness process keeps going.

Each case runs one real trial (supervisor -> worker process) of a fixture from ``tests/fixtures/bad_submissions/`` on
``digits_mlp``. Worker start-up costs 3-4 s per trial, so budgets are tiny and each fixture misbehaves within its
first few steps. Trials run with one thread: on a shared 2-core machine a second OpenMP thread waits on a busy core
and one step can take 100x longer; these tests are about outcomes, not speed.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from harness.runner.messages import TrialLimits, TrialRequest
from harness.runner import evaluator, forkserver
from harness.runner.supervisor import TrialOutcome, run_trial
from workloads import get_spec

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bad_submissions"
MiB, GiB = 2**20, 2**30
FAILS_HERE = "# fails here"  # marks the line a fixture's reason must point at


def run_fixture(name: str, workdir: Path, budget_s: float = 1.0, **limits: Any) -> TrialOutcome:
    request = TrialRequest(
        trial_id=name, submission_dir=str(FIXTURES / name), workload=get_spec("digits_mlp"),
        hardware_class="cpu-2core", budget_s=budget_s, hyperparameters={"learning_rate": 0.1}, seed=1, threads=1,
        limits=TrialLimits(**limits))
    return run_trial(request, workdir)


def marked_line(name: str) -> int:
    """The 1-based line of ``submission.py`` that carries the ``# fails here`` marker."""
    lines = (FIXTURES / name / "submission.py").read_text().splitlines()
    return next(i for i, line in enumerate(lines, start=1) if FAILS_HERE in line)


def is_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def dies_soon(pid: int, within_s: float = 2.0) -> bool:
    """SIGKILL is asynchronous: give a killed process a moment to be gone."""
    deadline = time.monotonic() + within_s
    while is_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def assert_nothing_left_running() -> None:
    """The trial's whole process tree is gone (zombies aside, which only wait for their reaper). The fork servers
    are the harness's own processes: they outlive trials by design and run no submission code."""
    servers = forkserver.server_pids() | evaluator.server_pids()
    children = [p for p in psutil.Process().children(recursive=True) if is_alive(p.pid) and p.pid not in servers]
    assert not children, f"processes left behind by the trial: {children}"


@dataclass(frozen=True)
class Case:
    fixture: str
    status: str
    reason: tuple[str, ...]  # substrings the reason must contain
    located: bool = False  # the reason must end with submission.py:<line of the "# fails here" marker>
    budget_s: float = 1.0
    limits: dict[str, Any] = field(default_factory=dict)
    max_wall_s: float = 30.0  # a kill must come soon, not after a default limit of minutes


CASES = [
    Case("raise_in_update", "failed", ("update_params raised ValueError: exploded on purpose",), located=True),
    Case("raise_in_init", "failed", ("init_optimizer_state raised KeyError", "no_such_hyperparameter"), located=True),
    Case("raise_in_data_selection", "failed", ("data_selection raised RuntimeError", "ran dry"), located=True),
    Case("nan_loss", "failed", ("non-finite training loss (nan) after 4 updates",)),  # steps count from 0
    Case("hang", "timed_out", ("a hang?", "at step 3", "1s grace"), limits={"hang_grace_s": 1.0}, max_wall_s=15.0),
    # The default hang grace (10 s) on purpose: touching 1.5 GiB takes seconds on a slow VM, and must not be
    # reported as a hang.
    Case("memory_blowup", "failed", ("memory limit exceeded", "1.50 GiB allowed"),
         limits={"memory_bytes": int(1.5 * GiB)}),
    Case("sys_exit", "failed", ("update_params called sys.exit(3)",), located=True),
    Case("os_exit", "failed", ("exited with code 7", "os._exit")),
    Case("segfault", "failed", ("crashed with SIGSEGV",)),
    Case("output_flood", "failed", ("output flood",), limits={"output_bytes": 1 * MiB}),
    Case("import_error", "failed", ("importing submission.py raised ModuleNotFoundError", "podium_no_such_module"),
         located=True),
    Case("syntax_error", "failed", ("importing submission.py raised SyntaxError",), located=True),
    Case("bad_batch_size", "failed", ("get_batch_size('digits_mlp') returned 0", "expected an int >= 1")),
    # A false claim of being done is a miss, never a reach, and the reason says what happened.
    Case("early_complete", "missed", ("raised TrainingComplete at step 2", "did not meet the target")),
    # TrainingComplete is allowed from update_params and data_selection only.
    Case("complete_in_prepare", "failed", ("prepare_for_eval raised TrainingComplete",), located=True),
    Case("wrong_return", "failed",
         ("update_params returned a tuple of 2 values", "expected (optimizer_state, params, model_state)")),
    # Stopping the harness's own clock (not just the time module) must not let a trial run forever.
    Case("harness_clock_tamper", "failed", ("clock tampering", "never reached"), budget_s=0.5,
         limits={"hang_grace_s": 0.5}, max_wall_s=20.0),
]


@pytest.mark.parametrize("case", CASES, ids=[c.fixture for c in CASES])
def test_bad_submission_becomes_a_status_with_a_reason(case: Case, tmp_path: Path) -> None:
    outcome = run_fixture(case.fixture, tmp_path, case.budget_s, **case.limits)

    assert (outcome.status, case.fixture) == (case.status, case.fixture), outcome.reason
    for expected in case.reason:
        assert expected in outcome.reason
    if case.located:
        assert outcome.reason.endswith(f" at submission.py:{marked_line(case.fixture)}")
    assert outcome.wall_s < case.max_wall_s
    assert outcome.log_path.stat().st_size <= 2 * TrialLimits(**case.limits).output_bytes  # the rlimit backstop
    assert_nothing_left_running()


def test_replacing_the_time_module_does_not_fool_the_clock(tmp_path: Path) -> None:
    """The fixture zeroes time.perf_counter, shrinks time.monotonic/time.time and sleeps 50 ms per update."""
    outcome = run_fixture("clock_tamper", tmp_path, budget_s=1.0)

    assert outcome.status == "missed", outcome.reason
    result = outcome.result
    assert result is not None and result.steps >= 5
    assert result.submission_time_s >= result.steps * 0.05
    assert result.submission_time_s >= result.loop_wall_s * 0.5  # time went on as usual for the harness
    for record in outcome.evals:
        assert record.submission_time_s >= record.step * 0.05
    assert outcome.estimated_submission_s > 0.5 * result.submission_time_s  # the supervisor saw it too


def test_harness_keeps_going_after_bad_trials(tmp_path: Path) -> None:
    """Bad trials one after another in this process, then a healthy one: it trains, and nothing leaks."""
    fds_before = len(os.listdir("/proc/self/fd"))

    crashed = run_fixture("segfault", tmp_path / "1")
    orphaned = run_fixture("orphan_child", tmp_path / "2", budget_s=0.5)
    healthy = run_fixture("healthy", tmp_path / "3", budget_s=0.5)

    assert crashed.status == "failed" and "SIGSEGV" in crashed.reason
    orphan_pid = int(orphaned.log_path.read_text().split("orphan pid ")[1].split()[0])
    # still running when the worker ended: it outlived the trial, which fails (harness.runner.reaper)
    assert orphaned.status == "failed" and f"outlived it (pid {orphan_pid}: sleep 1000" in orphaned.reason
    assert dies_soon(orphan_pid), "a process the submission started outlived its trial"
    assert healthy.status in ("reached", "missed"), healthy.reason
    assert healthy.result is not None and healthy.result.steps > 0 and healthy.result.n_evals > 0
    assert_nothing_left_running()
    assert len(os.listdir("/proc/self/fd")) <= fds_before  # pipes, logs and heartbeats are all closed
