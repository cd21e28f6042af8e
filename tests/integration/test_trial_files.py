"""What a trial may write, and the error it reports.

* The output cap limits what a trial prints (its log), not the files it writes: a trial may write files far larger
  than the cap into its scratch folder (``TMPDIR``, its working folder, the compile caches), up to the scratch limit.
* ``torch.compile`` works from a cold cache under the trial's limits (the C++ compiler's files are large).
* A submission that raises after seconds of real work is reported as that exception, never as clock tampering.

No duration is asserted; the compile test allows the first step all the time a slow machine needs.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from harness.runner.messages import TrialLimits, TrialRequest
from harness.runner.supervisor import TrialOutcome, run_trial
from workloads import get_spec

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bad_submissions"
MiB = 2**20


def _run(name: str, workdir: Path, budget_s: float = 1.0, hyperparameters: dict | None = None,
         max_steps: int | None = None, **limits: Any) -> TrialOutcome:
    request = TrialRequest(trial_id=name, submission_dir=str(FIXTURES / name), workload=get_spec("digits_mlp"),
                           hardware_class="cpu-2core", budget_s=budget_s,
                           hyperparameters={"learning_rate": 0.1, **(hyperparameters or {})}, seed=1, threads=1,
                           limits=TrialLimits(**limits), max_steps=max_steps, eval_every_steps=max_steps)
    return run_trial(request, workdir)


def test_files_larger_than_the_output_cap_are_allowed(tmp_path: Path) -> None:
    outcome = _run("writes_files", tmp_path, hyperparameters={"write_files": 3, "write_mib": 4},
                   output_bytes=1 * MiB, scratch_bytes=64 * MiB)
    assert outcome.status in ("reached", "missed"), outcome.reason
    assert not (tmp_path / "writes_files.scratch").exists()  # the scratch folder goes with the trial


def test_a_full_scratch_folder_fails_the_trial(tmp_path: Path) -> None:
    outcome = _run("writes_files", tmp_path, budget_s=3.0, hyperparameters={"write_files": 6, "write_mib": 3},
                   scratch_bytes=16 * MiB)
    assert outcome.status == "failed"
    assert "scratch folder full" in outcome.reason and "0.02 GiB allowed" in outcome.reason, outcome.reason


def test_one_file_past_the_scratch_limit_is_refused(tmp_path: Path) -> None:
    outcome = _run("writes_files", tmp_path, hyperparameters={"write_files": 1, "write_mib": 24},
                   scratch_bytes=16 * MiB)
    assert outcome.status == "failed"
    assert "update_params raised OSError" in outcome.reason and "File too large" in outcome.reason, outcome.reason


def test_an_exception_after_seconds_of_work_is_reported_as_that_exception(tmp_path: Path) -> None:
    outcome = _run("raise_after_work", tmp_path)
    line = next(i for i, text in enumerate((FIXTURES / "raise_after_work" / "submission.py").read_text().splitlines(),
                                           start=1) if "# fails here" in text)
    assert outcome.status == "failed"
    assert outcome.reason.startswith("update_params raised RuntimeError: gave up after real work"), outcome.reason
    assert f"submission.py:{line}" in outcome.reason and "tampering" not in outcome.reason
    assert outcome.result.submission_time_s >= 5.0  # the clock stopped at the exception, not before the work


@pytest.mark.skipif(shutil.which("g++") is None and shutil.which("c++") is None,
                    reason="torch.compile on CPU needs a C++ compiler; this machine has none")
def test_torch_compile_from_a_cold_cache_runs_under_the_trial_limits(tmp_path: Path) -> None:
    outcome = _run("compile_cold_cache", tmp_path, budget_s=600.0, max_steps=5)  # a budget for a slow compile
    assert outcome.status in ("reached", "missed"), outcome.reason
    assert outcome.result.steps == 5
    log = outcome.log_path.read_text()
    assert str(tmp_path / "compile_cold_cache.scratch") in log  # the compile cache was the trial's own, empty one


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("g++") is None and shutil.which("c++") is None,
                    reason="torch.compile on CPU needs a C++ compiler; this machine has none")
def test_check_says_a_slow_first_step_is_a_compilation(tmp_path: Path) -> None:
    import subprocess
    import sys

    folder = tmp_path / "compiled"
    shutil.copytree(FIXTURES / "compile_cold_cache", folder)
    (folder / "search_space.json").write_text('[{"learning_rate": 0.1}]')
    done = subprocess.run([sys.executable, "-m", "harness.cli", "check", str(folder)], capture_output=True,
                          text=True, env={**__import__("os").environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "a compilation, e.g. torch.compile" in done.stdout and "first step" in done.stdout, done.stdout
