"""The target-setting procedure: ``podium targets set``. Re-runnable; its output goes to ``workloads/targets.json``.

For each workload (base and variants) on one hardware class:

1. Every reference baseline in ``submissions/training/`` runs its first (best) search-space point on K seeds
   (``derive_seed(release, baseline, workload, "target-setting", k)``) for ``budget / BUDGET_FACTOR`` seconds of
   submission time, in ``target_setting`` mode: no early stop, validation *and* test metrics at every evaluation.
2. For each baseline, each seed's best validation metric is taken; the best baseline is the one with the highest
   median of these (lowest, for lower-is-better metrics).
3. **Validation target** = the worst of the best baseline's per-seed best values, floored to 4 decimals: every seed of
   the reference reached it within a third of the budget. (AlgoPerf sets its budgets at about three times the time
   the reference needs; we fix the budget and derive the target from a third of it, which is the same ratio.)
4. **Test target** = the worst, over the same seeds, of the test metric at the first evaluation that met the
   validation target, floored to 4 decimals.

Provenance stored with each target: date, hardware class, CPU model, threads, harness commit, baselines and their
hyperparameters, seeds, per-seed values, the command, and the machine's load average before and after (targets are
set against the clock: run the procedure on an otherwise idle machine; it warns when the machine is busy).
"""

from __future__ import annotations

import json
import math
import os
import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from harness.provenance import cpu_model, git_commit
from harness.runner.messages import TrialRequest
from harness.runner.run import BENCHMARK_RELEASE, first_point
from harness.runner.supervisor import run_trial
from harness.tuning.seeds import derive_seed
from workloads import TARGETS_FILE, WORKLOADS, get_spec
from workloads.spec import WorkloadSpec

BUDGET_FACTOR = 3.0


def floor4(value: float, higher_is_better: bool = True) -> float:
    """Round a target towards 'easier' at 4 decimals (down for accuracy, up for a loss).

    >>> floor4(0.87659), floor4(0.12341, higher_is_better=False)
    (0.8765, 0.1235)
    """
    scaled = value * 10_000
    return (math.floor(scaled) if higher_is_better else math.ceil(scaled)) / 10_000


def run_curves(spec: WorkloadSpec, baseline: Path, seeds: int, hardware_class: str) -> list[list[dict[str, float]]]:
    """Per seed, the list of evaluation metrics of one target-setting trial."""
    point = first_point(baseline)
    curves = []
    with tempfile.TemporaryDirectory(prefix="podium-targets-") as workdir:
        for k in range(seeds):
            request = TrialRequest(
                trial_id=f"targets-{spec.name}-{baseline.name}-{k}", submission_dir=str(baseline.resolve()),
                workload=spec, hardware_class=hardware_class, mode="target_setting",
                budget_s=spec.budget_for(hardware_class) / BUDGET_FACTOR, hyperparameters=point,
                seed=derive_seed(BENCHMARK_RELEASE, baseline.name, spec.name, "target-setting", k))
            outcome = run_trial(request, Path(workdir))
            if outcome.status in ("failed", "timed_out"):
                raise RuntimeError(f"target-setting run of {baseline.name} on {spec.name} {outcome.status}: "
                                   f"{outcome.reason}")
            curves.append([record.metrics for record in outcome.evals])
    return curves


def derive_targets(spec: WorkloadSpec, curves_by_baseline: dict[str, list[list[dict[str, float]]]]) -> dict[str, Any]:
    """Steps 2-4 of the procedure, as a pure function of the curves."""
    metric, sign = spec.metric, (1 if spec.higher_is_better else -1)
    best_per_seed = {b: [max(sign * e[metric] for e in curve) * sign for curve in curves]
                     for b, curves in curves_by_baseline.items()}
    best = max(best_per_seed, key=lambda b: sign * statistics.median(best_per_seed[b]))
    validation = floor4(min(sign * v for v in best_per_seed[best]) * sign, spec.higher_is_better)
    test_at_target = [next(e[f"test_{metric}"] for e in curve if spec.meets(e[metric], validation))
                      for curve in curves_by_baseline[best]]
    test = floor4(min(sign * v for v in test_at_target) * sign, spec.higher_is_better)
    return {"validation": validation, "test": test, "best_baseline": best, "best_per_seed": best_per_seed,
            "test_at_validation_target": test_at_target}


def set_targets(names: list[str] | None, seeds: int, hardware_class: str, write: bool, console: Console) -> None:
    from harness.demo import baselines

    stored = json.loads(TARGETS_FILE.read_text()) if TARGETS_FILE.exists() else {"workloads": {}}
    busy = os.getloadavg()[0]
    if busy > 0.5:
        console.print(f"[yellow]warning:[/] load average {busy:.2f} before starting: targets are set against the "
                      "clock, so anything else running on this machine makes them easier. Stop other work first.")
    for name in names or WORKLOADS.names():
        load_before = os.getloadavg()[0]
        spec = get_spec(name)
        curves = {}
        for baseline in baselines():
            console.print(f"{name}: {baseline.name} x {seeds} seeds, {spec.budget_for(hardware_class) / BUDGET_FACTOR:.1f}s each")
            curves[baseline.name] = run_curves(spec, baseline, seeds, hardware_class)
        derived = derive_targets(spec, curves)
        provenance = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"), "hardware_class": hardware_class,
            "cpu_model": cpu_model(), "threads": 2, "harness_commit": git_commit(), "release": BENCHMARK_RELEASE,
            "procedure": "harness/targets.py", "budget_factor": BUDGET_FACTOR, "seeds": seeds,
            "baselines": {b.name: first_point(b) for b in baselines()},
            "command": f"podium targets set --workload {name} --seeds {seeds} --hardware-class {hardware_class}",
            "load_average_1min": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
            **{k: v for k, v in derived.items() if k not in ("validation", "test")},
        }
        console.print(f"  -> validation {derived['validation']:.4f}, test {derived['test']:.4f} "
                      f"(best baseline {derived['best_baseline']})")
        stored["workloads"].setdefault(name, {})[hardware_class] = {
            "validation": derived["validation"], "test": derived["test"], "provenance": provenance}
        if write:  # after each workload, so an interrupted run keeps what it finished
            TARGETS_FILE.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
