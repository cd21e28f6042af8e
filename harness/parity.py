"""Framework parity: a training workload's reference baseline in PyTorch and in JAX, side by side.

AlgoPerf scores JAX and PyTorch submissions in one pool although its users report that a workload's two
implementations are not equally fast. Podium measures the difference instead of assuming it away. For each
workload offered in both frameworks (every training workload, :mod:`workloads.common.jax`), ``podium parity``
runs one baseline and its JAX twin (``nadamw`` and ``nadamw_jax`` by default: the same update rule, schedule, batch
size and hyperparameter point) and reports per framework:

* **initial loss**: the mean cross-entropy of :data:`INIT_SEEDS` fresh initialisations on the first
  :data:`INIT_EXAMPLES` training examples. The frameworks draw from the same distributions with different generators,
  so the means must agree within :data:`INITIAL_LOSS_TOLERANCE` (relative); a larger gap means the twins are not the
  same model and the row says so.
* **steps to target** and **time to target**: the first evaluation at or past the workload's validation target, in
  updates and in submission seconds, median over ``seeds`` step-capped runs (the target-setting runs' shape:
  :func:`harness.targets.setting_steps` updates, evaluated every ``step_hint / 12``; so steps are counted in
  evaluation intervals), with how many of the runs reached it.
* **first step**: the submission seconds of the first update (JAX compiles its jitted step there; AlgoPerf's rule
  charges it to the submission, and so does Podium), and the median seconds of the updates after it.

Both frameworks of one seed get the **same seed**, hence the same data order (a JAX input queue draws its
permutation with the PyTorch twin's generator); the two run one after the other, in alternating order from seed to
seed, with the hardware class's thread count, so that a machine's drift favours neither. Runs are kept under the
target-setting cache (:func:`harness.targets.kept_run`): an interrupted ``podium parity`` resumes, ``--fresh``
runs again. Timing numbers are only as good as the machine is quiet: the report carries the load average.
"""

from __future__ import annotations

import importlib
import math
import os
import statistics
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from harness.provenance import cpu_model, git_commit
from harness.runner.messages import TrialLimits, TrialRequest
from harness.runner.run import BENCHMARK_RELEASE
from harness.runner.supervisor import run_trial
from harness.targets import (CLASS_THREADS, EVALS_PER_HINT, SETTING_CAP_S, CurvePoint,
                             first_hit, kept_run, setting_point, setting_steps)
from harness.tracks.training import submission_framework
from harness.tuning.seeds import derive_seed
from workloads import WORKLOADS, get_spec
from workloads.spec import WorkloadSpec

INITIAL_LOSS_TOLERANCE = 0.03  # relative difference of the two frameworks' mean initial losses
INIT_SEEDS = 8
INIT_EXAMPLES = 512
DEFAULT_BASELINE = "nadamw"  # AlgoPerf's reference baseline, and the one that reaches every training target here
FRAMEWORKS = ("pytorch", "jax")


class ParityError(RuntimeError):
    """A parity run cannot go on (no twin baseline, a workload without a JAX twin, a trial that failed)."""


@dataclass
class FrameworkRow:
    """One framework's numbers on one workload."""

    framework: str
    baseline: str
    initial_loss: float
    initial_loss_sd: float
    runs: int
    reached: int
    steps_to_target: float | None  # median over the runs that reached it
    time_to_target_s: float | None
    first_step_s: float | None
    step_s: float | None  # median seconds per update after the first


@dataclass
class WorkloadParity:
    workload: str
    target: float
    metric: str
    rows: list[FrameworkRow] = field(default_factory=list)

    @property
    def initial_loss_gap(self) -> float:
        """Relative difference of the mean initial losses, JAX against PyTorch."""
        by = {r.framework: r.initial_loss for r in self.rows}
        return by["jax"] / by["pytorch"] - 1.0

    @property
    def initial_loss_agrees(self) -> bool:
        return abs(self.initial_loss_gap) <= INITIAL_LOSS_TOLERANCE


def twin_baselines(name: str) -> dict[str, Path]:
    """``{"pytorch": submissions/training/<name>, "jax": submissions/training/<name>_jax}``."""
    from harness.demo import SUBMISSIONS_DIR

    folders = {"pytorch": SUBMISSIONS_DIR / "training" / name.removesuffix("_jax"),
               "jax": SUBMISSIONS_DIR / "training" / (name.removesuffix("_jax") + "_jax")}
    missing = [str(p) for p in folders.values() if not (p / "submission.py").exists()]
    if missing:
        raise ParityError(f"--baseline {name}: parity needs the baseline in both frameworks; missing "
                          f"{', '.join(missing)}")
    return folders


def parity_workloads(names: list[str] | None) -> list[WorkloadSpec]:
    """``names`` (default: every workload offered in both frameworks)."""
    if not names:
        return [get_spec(n) for n in WORKLOADS.names() if set(FRAMEWORKS) <= set(get_spec(n).frameworks)]
    specs = []
    for name in names:
        if name not in WORKLOADS:
            raise ParityError(f"unknown workload {name!r}; `podium workloads` lists them")
        spec = get_spec(name)
        if not set(FRAMEWORKS) <= set(spec.frameworks):
            raise ParityError(f"{name} is offered in {', '.join(spec.frameworks)} only: parity compares PyTorch "
                              "and JAX")
        specs.append(spec)
    return specs


def _build(path: str, *args: Any, **kwargs: Any) -> Any:
    module, function = path.split(":")
    return getattr(importlib.import_module(module), function)(*args, **kwargs)


def twins(spec: WorkloadSpec, hardware_class: str = "cpu-2core") -> tuple[Any, Any, Any]:
    """The workload's PyTorch object, its evaluator, and its JAX twin, built on the CPU."""
    import torch

    torch_workload, evaluator = _build(spec.builder, spec, hardware_class, torch.device("cpu"), **spec.builder_kwargs)
    return torch_workload, evaluator, _build(spec.jax_builder, spec, hardware_class, **spec.builder_kwargs)


def initial_losses(spec: WorkloadSpec, seeds: int = INIT_SEEDS, examples: int = INIT_EXAMPLES,
                   hardware_class: str = "cpu-2core") -> dict[str, list[float]]:
    """Per framework, the mean cross-entropy of each of ``seeds`` fresh initialisations (each framework's own
    generator) on the first ``examples`` training examples, in evaluation mode."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import torch

    from harness.tracks.training import ForwardPassMode

    torch_workload, _, jax_workload = twins(spec, hardware_class)
    x, y = jax_workload._train_x[:examples], jax_workload._train_y[:examples]
    out: dict[str, list[float]] = {"pytorch": [], "jax": []}
    for seed in range(seeds):
        params, state = jax_workload.init_model_fn(jax.random.PRNGKey(seed))
        logits, _ = jax_workload.model_fn(params, {"inputs": jnp.asarray(x)}, state, ForwardPassMode.EVAL, None, False)
        out["jax"].append(float(jax_workload.loss_fn(jnp.asarray(y), logits)["summed"]) / len(y))
        model, _ = torch_workload.init_model_fn(np.array([seed, 0], dtype=np.uint32))
        model.eval()
        with torch.no_grad():
            torch_logits = model(torch.from_numpy(np.asarray(x)))
        out["pytorch"].append(float(torch.nn.functional.cross_entropy(torch_logits, torch.from_numpy(y).long())))
    return out


def parity_request(spec: WorkloadSpec, baseline: Path, seed_index: int, hardware_class: str,
                   max_steps: int | None = None) -> TrialRequest:
    """One step-capped run of ``baseline`` (no early stop, validation every ``step_hint / 12`` updates) with the
    seed both frameworks share, on the hardware class's threads."""
    pair = baseline.name.removesuffix("_jax")
    return TrialRequest(
        trial_id=f"parity-{spec.name}-{baseline.name}-{seed_index}", submission_dir=str(baseline.resolve()),
        workload=spec, hardware_class=hardware_class, mode="target_setting", budget_s=SETTING_CAP_S,
        max_steps=max_steps or setting_steps(spec), eval_every_steps=max(1, spec.step_hint // EVALS_PER_HINT),
        hyperparameters=setting_point(baseline), seed=derive_seed(BENCHMARK_RELEASE, pair, spec.name, "parity",
                                                                  seed_index),
        threads=CLASS_THREADS.get(hardware_class, 2), limits=TrialLimits(wall_factor=1.5),
        framework=submission_framework(spec, baseline))


def parity_run(request: TrialRequest, spec: WorkloadSpec, baseline: Path, seed_index: int, fresh: bool,
               workdir: Path) -> tuple[dict[str, Any], bool]:
    """The evaluations, first-step seconds and per-update seconds of one run (kept; see the module's doc)."""

    def run() -> dict[str, Any]:
        outcome = run_trial(request, workdir)
        if outcome.status in ("failed", "timed_out") or outcome.result is None:
            raise ParityError(f"parity run of {baseline.name} on {spec.name} {outcome.status}: {outcome.reason}")
        result = outcome.result
        first = (result.measurements or {}).get("first_step_s")
        after = (result.submission_time_s - first) / (result.steps - 1) if first is not None and result.steps > 1 \
            else None
        metric = spec.metric
        return {"points": [vars(CurvePoint(r.step, r.submission_time_s, r.metrics[metric],
                                           r.metrics.get(f"test_{metric}", math.nan))) for r in outcome.evals],
                "first_step_s": first, "step_s": after, "steps": result.steps}

    return kept_run(request, spec, baseline, seed_index, fresh, run, lambda kept: kept)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def measure(specs: list[WorkloadSpec], baseline: str = DEFAULT_BASELINE, seeds: int = 3,
            hardware_class: str = "cpu-2core", fresh: bool = False, console: Console | None = None,
            max_steps: int | None = None) -> dict[str, Any]:
    """Parity of every workload in ``specs``: the report ``podium parity`` prints (JSON-ready)."""
    if seeds < 1:
        raise ParityError(f"--seeds {seeds}: at least one run per framework")
    folders = twin_baselines(baseline)
    load_before = os.getloadavg()[0]
    workloads = []
    with tempfile.TemporaryDirectory(prefix="podium-parity-") as workdir:
        for spec in specs:
            if hardware_class not in spec.budget_s:
                raise ParityError(f"{spec.name} has no budget on {hardware_class}")
            losses = initial_losses(spec)
            runs: dict[str, list[dict[str, Any]]] = {f: [] for f in FRAMEWORKS}
            for k in range(seeds):
                for framework in FRAMEWORKS if k % 2 == 0 else FRAMEWORKS[::-1]:  # alternate: drift favours neither
                    folder = folders[framework]
                    request = parity_request(spec, folder, k, hardware_class, max_steps)
                    kept, was_kept = parity_run(request, spec, folder, k, fresh, Path(workdir))
                    runs[framework].append(kept)
                    if console is not None:
                        console.print(f"  {spec.name} {framework} seed {k + 1}/{seeds}: {kept['steps']} updates, "
                                      f"first step {kept['first_step_s'] or math.nan:.3f}s"
                                      + (" (kept from an earlier run)" if was_kept else ""), highlight=False)
            target = spec.targets_for(hardware_class).validation
            parity = WorkloadParity(spec.name, target, spec.metric)
            for framework in FRAMEWORKS:
                hits = [first_hit([CurvePoint(**p) for p in r["points"]], target, spec.higher_is_better)
                        for r in runs[framework]]
                hits = [h for h in hits if h is not None]
                parity.rows.append(FrameworkRow(
                    framework=framework, baseline=folders[framework].name,
                    initial_loss=statistics.fmean(losses[framework]),
                    initial_loss_sd=statistics.stdev(losses[framework]) if len(losses[framework]) > 1 else 0.0,
                    runs=len(runs[framework]), reached=len(hits),
                    steps_to_target=_median([h.step for h in hits]),
                    time_to_target_s=_median([h.submission_s for h in hits]),
                    first_step_s=_median([r["first_step_s"] for r in runs[framework] if r["first_step_s"] is not None]),
                    step_s=_median([r["step_s"] for r in runs[framework] if r["step_s"] is not None])))
            workloads.append(parity)
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "hardware_class": hardware_class,
            "cpu_model": cpu_model(), "harness_commit": git_commit(), "release": BENCHMARK_RELEASE,
            "baseline": baseline.removesuffix("_jax"), "seeds": seeds,
            "initial_loss": {"seeds": INIT_SEEDS, "examples": INIT_EXAMPLES, "tolerance": INITIAL_LOSS_TOLERANCE},
            "load_average_1min": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
            "command": f"podium parity --baseline {baseline.removesuffix('_jax')} --seeds {seeds} "
                       f"--hardware-class {hardware_class}" + _workload_options(specs),
            "workloads": [{**{k: v for k, v in asdict(w).items() if k != "rows"},
                           "initial_loss_gap": w.initial_loss_gap, "initial_loss_agrees": w.initial_loss_agrees,
                           "rows": [asdict(r) for r in w.rows]} for w in workloads]}


def _workload_options(specs: list[WorkloadSpec]) -> str:
    """`` --workload NAME`` for each of ``specs``, or nothing when they are the default (every twin)."""
    names = [s.name for s in specs]
    return "" if names == [s.name for s in parity_workloads(None)] else "".join(f" --workload {n}" for n in names)


def _fmt(value: float | None, spec: str, none: str = "-") -> str:
    return none if value is None else format(value, spec)


def rows_for_display(report: dict[str, Any]) -> list[dict[str, str]]:
    """One row per workload and framework, formatted: what the table and the Markdown show."""
    out = []
    for w in report["workloads"]:
        for r in w["rows"]:
            jax_row = r["framework"] == "jax"
            out.append({
                "workload": w["workload"], "framework": r["framework"],
                "initial loss": f"{r['initial_loss']:.3f}",
                "gap": (f"{w['initial_loss_gap']:+.1%}" + ("" if w["initial_loss_agrees"] else "!"))
                if jax_row else "",
                "reached": f"{r['reached']}/{r['runs']}",
                "steps to target": _fmt(r["steps_to_target"], ".0f", "never"),
                "s to target": _fmt(r["time_to_target_s"], ".2f", "never"),
                "first step s": _fmt(r["first_step_s"], ".3f"),
                "ms per update": _fmt(None if r["step_s"] is None else r["step_s"] * 1e3, ".2f"),
            })
    return out


def markdown(report: dict[str, Any]) -> str:
    """The report as a Markdown table with the command that made it (for the README)."""
    rows = rows_for_display(report)
    head = list(rows[0]) if rows else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r[h] for h in head) + " |" for r in rows]
    load = report["load_average_1min"]
    lines.append("")
    lines.append("Initial loss: mean over fresh initialisations; gap: JAX against PyTorch (`!` over the tolerance); "
                 "steps and seconds (submission time) to the validation target: medians over the runs that reached "
                 "it (reached: how many of how many); first step: the first update's submission seconds (JAX "
                 "compiles there); ms per update: after the first.")
    lines.append("")
    lines.append(f"`{report['command']}` on {report['cpu_model']} ({report['hardware_class']}), {report['date']}, "
                 f"harness {report['harness_commit'][:8]}, 1-min load {load['before']} -> {load['after']}; medians "
                 f"over {report['seeds']} runs per framework, initial loss over {report['initial_loss']['seeds']} "
                 f"initialisations ({report['initial_loss']['examples']} examples; tolerance "
                 f"{report['initial_loss']['tolerance']:.0%}).")
    return "\n".join(lines) + "\n"
