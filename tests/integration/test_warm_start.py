"""Warm trial starts (:mod:`harness.runner.forkserver`) give the numbers a cold start gives, and each trial is
still a fresh process: what one submission does to the interpreter never reaches the next trial.

No duration is compared: the test checks where the trial ran, what it computed and what it could see.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import psutil
import pytest

from harness.runner import forkserver
from harness.runner.messages import TrialRequest
from harness.runner.supervisor import TrialOutcome, run_trial
from workloads import get_spec

HEALTHY = Path(__file__).resolve().parents[1] / "fixtures" / "bad_submissions" / "healthy"

#: Prepended to the healthy fixture: fails if an earlier trial's module-level change is visible, then makes one
#: (to numpy, torch and the harness's own worker module), and records what the process looks like from inside.
PROBE = '''
import json, os, sys
import numpy as _np, torch as _torch
import harness.runner.worker as _worker
_seen = [name for name, obj in (("numpy", _np), ("torch", _torch), ("worker", _worker)) if hasattr(obj, "_podium_leak")]
if _seen:
    raise RuntimeError(f"state from an earlier trial leaked into this one: {_seen}")
_np._podium_leak = _torch._podium_leak = _worker._podium_leak = True
with open(os.environ["PODIUM_PROBE_OUT"] + f".{os.getpid()}", "w") as _fh:
    json.dump(dict(ppid=os.getppid(), sid=os.getsid(0), pid=os.getpid(), cwd=os.getcwd(),
                   cores=sorted(os.sched_getaffinity(0)), stdin=os.readlink("/proc/self/fd/0"),
                   threads=os.environ.get("OMP_NUM_THREADS"), np_draw=float(_np.random.random())), _fh)
'''


@pytest.fixture
def probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "probe"
    shutil.copytree(HEALTHY, folder)
    source = (folder / "submission.py").read_text()
    head, rest = source.split("\nfrom __future__ import annotations\n", 1)
    (folder / "submission.py").write_text(f"{head}\nfrom __future__ import annotations\n{PROBE}\n{rest}")
    monkeypatch.setenv("PODIUM_PROBE_OUT", str(tmp_path / "probe-out"))
    return folder


def _run(folder: Path, trial_id: str, workdir: Path, cores: list[int] | None = None) -> TrialOutcome:
    request = TrialRequest(trial_id=trial_id, submission_dir=str(folder), workload=get_spec("digits_mlp"),
                           hardware_class="cpu-2core", budget_s=60.0, hyperparameters={"learning_rate": 0.1}, seed=4,
                           threads=1, cpu_affinity=cores, max_steps=60, eval_every_steps=20)
    return run_trial(request, workdir)


def _probes(tmp_path: Path) -> list[dict]:
    import json

    return [json.loads(p.read_text()) for p in sorted(tmp_path.glob("probe-out.*"))]


def test_warm_trials_are_fresh_set_up_children_of_the_supervisor(probe: Path, tmp_path: Path) -> None:
    core = sorted(os.sched_getaffinity(0))[-1]
    outcomes = [_run(probe, f"warm-{i}", tmp_path / "runs", [core]) for i in range(2)]
    assert [o.start for o in outcomes] == ["warm", "warm"]
    assert [o.status for o in outcomes] == ["missed", "missed"], [o.reason for o in outcomes]  # capped, no leak
    seen = _probes(tmp_path)
    assert len(seen) == 2
    for p in seen:
        assert p["ppid"] == os.getpid() and p["sid"] == p["pid"]  # our child (wait4), its own session (killpg)
        assert p["cores"] == [core] and p["threads"] == "1" and p["stdin"] == "/dev/null"
    assert seen[0]["np_draw"] != seen[1]["np_draw"]  # numpy's global generator is seeded afresh, as in a new process
    assert all(c.trial_cpu_s and c.trial_cpu_s > 0 for c in (o.contention for o in outcomes))


def test_warm_and_cold_starts_compute_the_same_trial(probe: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    warm = _run(probe, "same-warm", tmp_path / "runs")
    monkeypatch.setenv("PODIUM_TRIAL_START", "cold")
    cold = _run(probe, "same-cold", tmp_path / "runs")
    assert (warm.start, cold.start) == ("warm", "cold")
    assert warm.result.steps == cold.result.steps == 60
    assert [e.metrics for e in warm.evals] == [e.metrics for e in cold.evals]  # same seed, same updates: same numbers
    assert warm.result.test == cold.result.test


def test_a_dead_server_is_replaced(probe: Path, tmp_path: Path) -> None:
    assert _run(probe, "before", tmp_path / "runs").start == "warm"
    for pid in forkserver.server_pids():
        psutil.Process(pid).kill()
    after = _run(probe, "after", tmp_path / "runs")
    assert after.start == "warm" and after.status == "missed", after.reason
