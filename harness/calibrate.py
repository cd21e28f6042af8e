"""``podium calibrate``: the noise floor of time-to-result on this hardware class, on both clocks.

One configuration (a baseline's first hyperparameter point) and one seed are run ``repeats`` times, one after the
other, pinned to the same cores. Everything that could change the result is fixed, so the spread of time-to-result is
the machine's timing noise: differences between submissions smaller than it are not meaningful.

Two clocks are measured: wall-clock submission time (the official, AlgoPerf-compatible clock) and CPU submission
time (CPU seconds of the trial process inside submission code, see :mod:`harness.runner.clock`). With ``cotenant``
the repeats run twice: on the machine as it is (``idle``), then with a documented co-tenant load on the trial's cores
(``cotenant``: one busy-loop process pinned to each of them, see :class:`harness.runner.contention.CoTenant`,
stopped when the repeats end, whatever happens). Each condition is stored per (hardware class, workload,
submission); ``podium results`` shows them.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console

from harness.provenance import cpu_model, git_commit
from harness.runner.contention import CoTenant
from harness.runner.messages import TrialRequest
from harness.runner.run import first_point
from harness.runner.supervisor import run_trial
from harness.store import ResultsStore
from harness.tracks.training import submission_framework
from workloads import get_spec

THREADS = 2
#: calibration runs get this many times the workload's budget: the noise floor is the spread of time-to-result, and
#: a slow run that a budget cut off would drop exactly the slow tail it should measure.
BUDGET_FACTOR = 3.0


def spread(values: list[float]) -> tuple[float, float, float | None]:
    """Mean, sample standard deviation and coefficient of variation.

    Example:
        >>> spread([1.0, 3.0])
        (2.0, 1.4142135623730951, 0.7071067811865476)
    """
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return mean, std, std / mean if mean else None


def repeat_trial(request: TrialRequest, repeats: int, label: str, console: Console) -> list[dict[str, Any]]:
    """Run ``request`` ``repeats`` times; each run's wall and CPU time-to-result and its contention verdict.

    Raises:
        RuntimeError: fewer than two runs reached the target.
    """
    runs = []
    with tempfile.TemporaryDirectory(prefix="podium-calibrate-") as workdir:
        for i in range(repeats):
            outcome = run_trial(request.model_copy(update={"trial_id": f"calibrate-{label}-{i}"}), Path(workdir))
            if outcome.status != "reached":  # no time-to-result: reported, left out of the spread
                console.print(f"  {label} run {i + 1}/{repeats}: {outcome.status}: {outcome.reason}", highlight=False)
                continue
            result, contention = outcome.result, outcome.contention
            runs.append(dict(wall=result.time_to_result_s, cpu=result.cpu_time_to_result_s,
                             contended=bool(contention and contention.contended)))
            share = f", foreign share {contention.foreign_share:.2f}" if contention and contention.foreign_share is not None else ""
            console.print(f"  {label} run {i + 1}/{repeats}: {runs[-1]['wall']:.3f}s to target, "
                          f"{runs[-1]['cpu']:.3f} CPU s ({result.steps} steps{share}"
                          f"{', contended' if runs[-1]['contended'] else ''})", highlight=False)
    if len(runs) < 2:
        raise RuntimeError(f"only {len(runs)} of {repeats} calibration runs ({label}) reached the target: no spread")
    return runs


def noise_row(runs: list[dict[str, Any]], load: str, base: dict[str, Any]) -> dict[str, Any]:
    """The stored noise-floor row of one load condition."""
    walls, cpus = [r["wall"] for r in runs], [r["cpu"] for r in runs]
    mean, std, cv = spread(walls)
    cpu_mean, cpu_std, cpu_cv = spread(cpus)
    return dict(base, load=load, repeats=len(runs), mean_s=mean, std_s=std, cv=cv, times_json=walls,
                cpu_mean_s=cpu_mean, cpu_std_s=cpu_std, cpu_cv=cpu_cv, cpu_times_json=cpus,
                contended_runs=sum(r["contended"] for r in runs))


def calibrate(workload: str, submission: Path, repeats: int, db: Path, hardware_class: str, seed: int,
              console: Console, cotenant: bool = False, target: float | None = None) -> dict:
    """Measure and store the noise floor; returns the ``idle`` row (the ``cotenant`` row is stored beside it).

    Args:
        cotenant: also repeat under the co-tenant load, started and stopped here.
        target: time the runs to this validation level instead of the workload's target (for a configuration and
            seed that do not reach it: the spread of the time to any fixed level measures the same machine noise).
    """
    spec = get_spec(workload)
    if target is not None:
        own = spec.targets_for(hardware_class).model_copy(update={"validation": target})
        spec = spec.model_copy(update={"targets": {**spec.targets, hardware_class: own}})
    point = first_point(submission)
    cores = sorted(os.sched_getaffinity(0))[:THREADS]
    request = TrialRequest(trial_id="calibrate", submission_dir=str(submission.resolve()), workload=spec,
                           hardware_class=hardware_class, budget_s=BUDGET_FACTOR * spec.budget_for(hardware_class),
                           hyperparameters=point, seed=seed, threads=len(cores), cpu_affinity=cores,
                           framework=submission_framework(spec, submission))
    base = dict(hardware_class=hardware_class, workload=workload, submission_name=submission.resolve().name,
                provenance_json={"cpu_model": cpu_model(), "git_commit": git_commit(), "seed": seed,
                                 "hyperparameters": point, "cores": cores, "budget_factor": BUDGET_FACTOR,
                                 "target": spec.targets_for(hardware_class).validation,
                                 "cotenant": "one busy-loop process pinned to each trial core"})
    rows = []
    for load in ("idle", "cotenant") if cotenant else ("idle",):
        with CoTenant(cores) if load == "cotenant" else contextlib.nullcontext():
            rows.append(noise_row(repeat_trial(request, repeats, load, console), load, base))
    store = ResultsStore(db)
    for row in rows:
        store.save_noise_floor(row)
        console.print(f"{row['load']}: coefficient of variation of time-to-result: wall {row['cv'] * 100:.1f}%, "
                      f"CPU {row['cpu_cv'] * 100:.1f}% ({row['contended_runs']} of {row['repeats']} runs contended)")
    return rows[0]
