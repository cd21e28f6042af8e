"""The target-setting procedure: ``podium targets set``. Re-runnable; its output goes to ``workloads/targets.json``.

For each workload (base and variants) on one hardware class:

1. **Curves.** Every reference baseline of the workload's track (``submissions/<track>/``) runs its first (best)
   search-space point - or the point ``--point BASELINE=N`` names, for a workload whose scale the first point does
   not suit (a transformer's learning rate is not a small CNN's); recorded in the provenance - on
   K >= 10 seeds (``derive_seed(release, baseline, workload, "target-setting", k)``) for a fixed number of updates,
   ``ceil(SETTING_STEPS_FACTOR x step_hint)``, evaluating validation *and* test every ``step_hint / EVALS_PER_HINT``
   updates. A curve over *steps* does not depend on how busy the machine was, so the levels below do not either;
   curves run with one thread each (``--workers`` of them at a time), which keeps a loaded machine from making
   threads spin-wait for each other.
2. **Sustained level.** Per seed, the best level the validation metric *held* for ``SUSTAIN_EVALS`` consecutive
   evaluations (the max over windows of the window's min). A single lucky evaluation - one example on a small
   split - cannot set a target.
3. **Best baseline** = the one with the best median sustained level.
4. **Validation target** = the level that at least ``SUCCESS_RATE`` (90%) of the best baseline's seeds sustained
   (with 10 seeds: the second worst) times the workload's ``target_fraction`` (1 unless its spec says why not),
   rounded towards easier at 4 decimals.
5. **Budget** = ``BUDGET_FACTOR`` (3, as AlgoPerf: about three times what the reference needs) x the median number of
   updates the best baseline needed to first meet the target x its time per update. The time per update is measured
   apart from the curves, with the hardware class's threads, one run at a time on an idle machine: the *fastest* of
   ``SPEED_RUNS`` short runs (submission seconds / updates), the estimate least moved by other load, which only ever
   slows a run down. Rounded up to 0.5 s.
6. **Test target** = the test metric that at least 90% of the best baseline's seeds had at their first evaluation
   meeting the validation target, rounded towards easier.
7. **Success rate** per baseline = the share of its seeds that met the validation target within the budget (its own
   updates-to-target x its own fastest time per update). Stored with the target; ``podium targets show`` prints it.

``podium targets set --rates-only --baseline B`` keeps the stored targets and budget and records baseline B's success
rate at them (:func:`measure_rates`): for a workload whose target one baseline set.

``podium targets set --budgets-only`` re-measures only the time per update (the fastest of 3 short runs per baseline)
and re-derives budgets and success rates from the stored updates-to-target: the curves, which cost most, need not
be re-run when only the machine's speed is in question.

**Compression workloads** (:func:`derive_compression_targets`) have no curve: each baseline compresses the dense
model once per seed (one run at a time, with the class's threads, since its seconds and its latency ratio are read
against the clock), and the saved model is measured like a scored trial's, the dense model too. The validation and
test targets are *floors*: ``floor_fraction`` (99%) of the dense model's metric. The ratio target (bytes or
latency over the dense model's) is the ratio at least half of the baselines that compress at all reach, each on 90%
of its seeds while keeping the floor (why not the best one's: :func:`derive_compression_targets`); the budget is
``BUDGET_FACTOR`` x the median compress seconds of the slowest baseline that reaches it. Runs are kept like curves,
and the workloads that compress one model for different goals (bytes, latency) share them (:func:`measured_twin`).

**Resuming.** Each finished curve is kept under ``$PODIUM_CACHE_DIR/target-curves/`` (default
``~/.cache/podium/target-curves``), keyed by everything that determines it: the workload's definition (its targets,
budgets and evaluation period aside: a curve evaluates every N updates), the baseline folder's content and first
point, the seed, the number of updates, the evaluation cadence, the hardware class and the threads. An interrupted
``podium targets set`` (a MiniLM curve is ~10 minutes on one core) re-run with the same arguments picks up where it
stopped; ``--fresh`` ignores the kept curves. Each kept curve records the harness commit it ran on; the provenance
lists them.

The procedure refuses to start on a busy machine (1-minute load above ``BUSY_LOAD``) unless forced; the load
before and after each workload, and whether it was forced, are in the provenance with the date, hardware class, CPU
model, threads, harness commit, baselines and their hyperparameters, seeds, per-seed levels, and the command.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import statistics
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console

from harness.executors import ExecutorError
from harness.provenance import cpu_capability, cpu_model, git_commit, hash_tree
from harness.runner.made import ensure_made
from harness.runner.messages import TrialLimits, TrialRequest
from harness.runner.run import BENCHMARK_RELEASE, first_point, search_space_of
from harness.runner.supervisor import run_trial
from harness.tracks.compression import MEASUREMENT_PROTOCOL
from harness.tracks.training import submission_framework
from harness.tuning.seeds import derive_seed
from workloads import TARGETS_FILE, WORKLOADS, get_spec
from workloads.common.data import cache_root
from workloads.spec import WorkloadSpec

BUDGET_FACTOR = 3.0
SUCCESS_RATE = 0.9
SUSTAIN_EVALS = 3
MIN_SEEDS = 10
SETTING_STEPS_FACTOR = 1.25  # run a little past step_hint: the baselines' schedules end there
EVALS_PER_HINT = 12
BUSY_LOAD = 0.5  # 1-minute load average above which the machine counts as busy
SPEED_RUNS = 3  # budgets-only re-measurement: runs per baseline and workload ...
SPEED_STEPS = 300  # ... of this many updates each
SETTING_CAP_S = 900.0
CURVE_THREADS = 1  # threads per curve run (curves are counted in updates; see step 1)
CLASS_THREADS = {"cpu-2core": 2}  # threads per trial on each hardware class, as `podium run` uses them  # safety cap (submission seconds) for one step-capped target-setting run


T = TypeVar("T")


class TargetSettingError(RuntimeError):
    """The procedure cannot run or cannot derive a target; the message says why."""


@dataclass(frozen=True)
class CurvePoint:
    """One evaluation of a target-setting run."""

    step: int
    submission_s: float
    validation: float
    test: float


Curve = list[CurvePoint]


def floor4(value: float, higher_is_better: bool = True) -> float:
    """Round a target towards 'easier' at 4 decimals (down for accuracy, up for a loss).

    >>> floor4(0.87659), floor4(0.12341, higher_is_better=False)
    (0.8765, 0.1235)
    """
    scaled = value * 10_000
    return (math.floor(scaled + 1e-9) if higher_is_better else math.ceil(scaled - 1e-9)) / 10_000


def sustained_level(values: list[float], window: int = SUSTAIN_EVALS, higher_is_better: bool = True) -> float:
    """The best level held for ``window`` consecutive evaluations (max over windows of the window's worst value).

    >>> sustained_level([0.90, 0.99, 0.91, 0.95, 0.96, 0.95])
    0.95
    >>> sustained_level([0.5, 0.3, 0.4], window=2, higher_is_better=False)
    0.4
    """
    if not values:
        raise TargetSettingError("a target-setting run produced no evaluation")
    window = min(window, len(values))
    sign = 1 if higher_is_better else -1
    return sign * max(min(sign * v for v in values[i:i + window]) for i in range(len(values) - window + 1))


def level_reached_by(levels: list[float], share: float = SUCCESS_RATE, higher_is_better: bool = True) -> float:
    """The best level that at least ``share`` of the values reach.

    >>> level_reached_by([0.91, 0.95, 0.93, 0.90, 0.94, 0.96, 0.92, 0.97, 0.98, 0.99])
    0.91
    """
    ordered = sorted(levels, reverse=higher_is_better)  # best first
    return ordered[math.ceil(share * len(ordered) - 1e-9) - 1]


def first_hit(curve: Curve, target: float, higher_is_better: bool = True) -> CurvePoint | None:
    """The first evaluation that meets ``target``, or None."""
    meets = (lambda v: v >= target) if higher_is_better else (lambda v: v <= target)
    return next((p for p in curve if meets(p.validation)), None)


def round_budget(seconds: float) -> float:
    """Round a budget up to 0.5 s (at least 1 s).

    >>> round_budget(4.1), round_budget(0.2)
    (4.5, 1.0)
    """
    return max(1.0, math.ceil(seconds * 2 - 1e-9) / 2)


def derive_targets(spec: WorkloadSpec, curves_by_baseline: dict[str, list[Curve]],
                   per_step: dict[str, float]) -> dict[str, Any]:
    """Steps 2-7 of the procedure, as a pure function of the curves and each baseline's seconds per update."""
    hib = spec.higher_is_better
    sign = 1 if hib else -1
    levels = {b: [sustained_level([p.validation for p in c], higher_is_better=hib) for c in curves]
              for b, curves in curves_by_baseline.items()}
    best = max(levels, key=lambda b: sign * statistics.median(levels[b]))
    validation = quality_floor(level_reached_by(levels[best], higher_is_better=hib), spec.target_fraction, hib)
    hits = {b: [first_hit(c, validation, hib) for c in curves] for b, curves in curves_by_baseline.items()}
    steps = {b: [h.step if h else None for h in hs] for b, hs in hits.items()}
    budget, success = budget_and_success(steps, per_step, best)
    test = floor4(level_reached_by([h.test for h in hits[best] if h], higher_is_better=hib), hib)
    return {"validation": validation, "test": test, "budget_s": budget, "best_baseline": best,
            "sustained_level_per_seed": levels, "success_rate": success, "steps_to_target": steps,
            "seconds_per_step": per_step, "test_at_validation_target": [h.test if h else None for h in hits[best]]}


def budget_and_success(steps_to_target: dict[str, list[int | None]], per_step: dict[str, float],
                       best: str) -> tuple[float, dict[str, float]]:
    """Steps 5 and 7: the budget from the best baseline's median updates-to-target x its time per update, and each
    baseline's share of seeds that meet the target within it (None: never met).

    >>> budget_and_success({"a": [100, 200, None], "b": [700, 50, 60]}, {"a": 0.01, "b": 0.01}, "a")
    (6.0, {'a': 0.6666666666666666, 'b': 0.6666666666666666})
    """
    median_steps = statistics.median(math.inf if s is None else s for s in steps_to_target[best])
    budget = round_budget(BUDGET_FACTOR * median_steps * per_step[best])
    return budget, {b: success_rate(steps, per_step[b], budget) for b, steps in steps_to_target.items()}


def success_rate(steps_to_target: list[int | None], per_step: float, budget: float) -> float:
    """The share of seeds whose updates to the target (None: never met) fit in ``budget`` at ``per_step`` seconds
    an update."""
    return sum(1 for s in steps_to_target if s is not None and s * per_step <= budget) / len(steps_to_target)


def setting_steps(spec: WorkloadSpec) -> int:
    """Updates in one target-setting run: a little past ``step_hint``, where the baselines' schedules end."""
    return math.ceil(SETTING_STEPS_FACTOR * spec.step_hint)


def write_stored(stored: dict[str, Any]) -> None:
    """Write ``targets.json`` (called after each workload, so an interrupted run keeps what it finished)."""
    TARGETS_FILE.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")


def setting_point(baseline: Path, point: int = 1) -> dict[str, Any]:
    """The ``point``-th (1-based) hyperparameter point a study of ``baseline`` tries first (sample seed 0): its
    fixed points in order, or its quasi-random sequence."""
    if point == 1:
        return first_point(baseline)
    space = search_space_of(baseline)
    if space.is_empty:
        raise TargetSettingError(f"--point {baseline.name}={point}: {baseline.name} has no search space")
    try:
        return space.sample(point, 0)[point - 1]
    except ValueError as exc:  # a list of fixed points shorter than `point`
        raise TargetSettingError(f"--point {baseline.name}={point}: {exc}") from None


def setting_request(spec: WorkloadSpec, baseline: Path, seed_index: int, hardware_class: str,
                    threads: int = CURVE_THREADS, point: int = 1) -> TrialRequest:
    """One step-capped target-setting trial: no early stop, validation and test every N updates."""
    steps = setting_steps(spec)
    return TrialRequest(
        trial_id=f"targets-{spec.name}-{baseline.name}-{seed_index}", submission_dir=str(baseline.resolve()),
        workload=spec, hardware_class=hardware_class, mode="target_setting", budget_s=SETTING_CAP_S,
        max_steps=steps, eval_every_steps=max(1, spec.step_hint // EVALS_PER_HINT),
        hyperparameters=setting_point(baseline, point),
        seed=derive_seed(BENCHMARK_RELEASE, baseline.name, spec.name, "target-setting", seed_index),
        threads=threads, limits=TrialLimits(wall_factor=1.5), framework=submission_framework(spec, baseline))


def curves_dir() -> Path:
    """``$PODIUM_CACHE_DIR/target-curves`` (default ``~/.cache/podium/target-curves``)."""
    return cache_root() / "target-curves"


def curve_key(request: TrialRequest) -> str:
    """What determines a curve (see "Resuming" above), hashed; the trial id and the workload's targets are not."""
    spec = {k: v for k, v in request.workload.hash_payload().items()
            if k not in ("targets", "budget_s", "target_fraction", "eval_period_s")}
    payload = {"workload": spec, "baseline": hash_tree(Path(request.submission_dir)),
               "hyperparameters": request.hyperparameters, "seed": request.seed, "max_steps": request.max_steps,
               "eval_every_steps": request.eval_every_steps, "hardware_class": request.hardware_class,
               "threads": request.threads, "release": BENCHMARK_RELEASE}
    if request.framework != "pytorch":  # a JAX baseline's curve is its own (PyTorch keys stay what they were)
        payload["framework"] = request.framework
    if request.workload.compression is not None:  # a kept compression run holds the measurement's numbers too
        payload["measurement"] = MEASUREMENT_PROTOCOL
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def run_curves(spec: WorkloadSpec, baseline: Path, seeds: int, hardware_class: str, workers: int = 1,
               console: Console | None = None, fresh: bool = False, point: int = 1) -> list[Curve]:
    """Per seed, the evaluations of one step-capped target-setting trial (``workers`` trials at a time); a curve
    kept by an earlier, interrupted run is reused unless ``fresh``."""
    from concurrent.futures import ThreadPoolExecutor

    with tempfile.TemporaryDirectory(prefix="podium-targets-") as workdir, ThreadPoolExecutor(workers) as pool:
        runs = [pool.submit(_curve, spec, baseline, k, hardware_class, Path(workdir), fresh, point) for k in range(seeds)]
        curves = []
        for k, future in enumerate(runs):
            curve, kept = future.result()
            curves.append(curve)
            if console is not None:
                level = sustained_level([p.validation for p in curve], higher_is_better=spec.higher_is_better)
                console.print(f"    seed {k + 1}/{seeds}: {len(curve)} evaluations, sustained {level:.4f}"
                              + (" (kept from an earlier run)" if kept else ""), highlight=False)
    return curves


def curve_commits(spec: WorkloadSpec, baseline: Path, seeds: int, hardware_class: str, point: int = 1) -> list[str]:
    """The harness commits that the kept curves of ``baseline`` on ``spec`` ran on (for the provenance)."""
    commits = set()
    for k in range(seeds):
        path = curves_dir() / f"{curve_key(setting_request(spec, baseline, k, hardware_class, point=point))}.json"
        if path.exists():
            commits.add(json.loads(path.read_text()).get("harness_commit") or "unknown")
    return sorted(commits)


def _curve(spec: WorkloadSpec, baseline: Path, seed_index: int, hardware_class: str, workdir: Path,
           fresh: bool = False, point: int = 1) -> tuple[Curve, bool]:
    request = setting_request(spec, baseline, seed_index, hardware_class, point=point)

    def run() -> dict[str, Any]:
        outcome = run_trial(request, workdir)
        if outcome.status in ("failed", "timed_out"):
            raise TargetSettingError(f"target-setting run of {baseline.name} on {spec.name} {outcome.status}: "
                                     f"{outcome.reason}")
        metric = spec.metric
        # the test split is evaluated only where validation reached a new best (the only possible first hits)
        return {"points": [vars(CurvePoint(r.step, r.submission_time_s, r.metrics[metric],
                                           r.metrics.get(f"test_{metric}", math.nan))) for r in outcome.evals]}

    return kept_run(request, spec, baseline, seed_index, fresh, run,
                    lambda kept: [CurvePoint(**p) for p in kept["points"]])


def kept_run(request: TrialRequest, spec: WorkloadSpec, baseline: Path, seed_index: int, fresh: bool,
             run: Callable[[], dict[str, Any]], parse: Callable[[dict[str, Any]], T]) -> tuple[T, bool]:
    """``parse`` of what ``run()`` returns for ``request``, kept under :func:`curves_dir` by :func:`curve_key`: read
    back when an earlier run kept it (unless ``fresh``), else run and kept atomically (a killed run leaves no
    half-written file). Returns it and whether it was kept from before."""
    kept = curves_dir() / f"{curve_key(request)}.json"
    if kept.exists() and not fresh:
        try:
            return parse(json.loads(kept.read_text())), True
        except (ValueError, KeyError, TypeError):
            kept.unlink()  # a torn or foreign file: run it again
    payload = {"workload": spec.name, "baseline": baseline.name, "seed_index": seed_index,
               "harness_commit": git_commit(), **run()}
    kept.parent.mkdir(parents=True, exist_ok=True)
    partial = kept.with_suffix(f".{os.getpid()}.{seed_index}.tmp")
    partial.write_text(json.dumps(payload))
    partial.replace(kept)
    return parse(payload), False


# --- The compression track: one compress call per seed, measured; floors from the dense model. --------------------


@dataclass(frozen=True)
class CompressionRun:
    """One target-setting compression of the dense model: quality, ratios to the dense model, compress seconds."""

    validation: float
    test: float
    bytes_ratio: float
    latency_ratio: float
    submission_s: float
    dense_validation: float
    dense_test: float


def compression_request(spec: WorkloadSpec, baseline: Path, seed_index: int, hardware_class: str,
                        point: int = 1) -> TrialRequest:
    """One target-setting compression: the class's threads (its compress time sets the budget), measured, not
    judged."""
    return TrialRequest(
        trial_id=f"targets-{spec.name}-{baseline.name}-{seed_index}", submission_dir=str(baseline.resolve()),
        workload=spec, hardware_class=hardware_class, mode="target_setting", budget_s=SETTING_CAP_S,
        hyperparameters=setting_point(baseline, point),
        seed=derive_seed(BENCHMARK_RELEASE, baseline.name, spec.name, "target-setting", seed_index),
        threads=CLASS_THREADS.get(hardware_class, 2), limits=TrialLimits(wall_factor=1.5))


#: what a compression workload's goal adds to the model it compresses: workloads that differ only in these (and in
#: ``compression.measure``) share runs
GOAL_FIELDS = ("name", "description", "targets", "budget_s")


def measured_twin(spec: WorkloadSpec) -> WorkloadSpec:
    """The workload whose target-setting runs ``spec`` shares: of the compression workloads that compress the same
    dense model in the same way (equal in everything but :data:`GOAL_FIELDS`, e.g. ``fashion_cnn_compress`` and
    ``fashion_cnn_compress_latency``), the first by name. A run measures every ratio, bytes and latency alike, and a
    target-setting run is not judged against any goal, so one set of compressions serves each goal's derivation: the
    second goal's targets cost no new runs (its seeds are the first's, kept like curves).

    >>> measured_twin(get_spec("fashion_cnn_compress_latency")).name
    'fashion_cnn_compress'
    """
    def model(s: WorkloadSpec) -> dict[str, Any]:
        payload = {k: v for k, v in s.hash_payload().items() if k not in GOAL_FIELDS}
        return {**payload, "compression": {k: v for k, v in (payload.get("compression") or {}).items()
                                           if k != "measure"}}

    twins = [get_spec(n) for n in WORKLOADS.names() if get_spec(n).track == "compression"]
    return min((t for t in twins if model(t) == model(spec)), key=lambda t: t.name, default=spec)


def run_compressions(spec: WorkloadSpec, baseline: Path, seeds: int, hardware_class: str,
                     console: Console | None = None, fresh: bool = False, point: int = 1) -> list[CompressionRun]:
    """Per seed, one target-setting compression, one at a time (compress seconds and latency ratios are measured
    against the clock, so runs never share the machine); kept like curves, and shared with the workloads that compress
    the same model for another goal (:func:`measured_twin`)."""
    spec = measured_twin(spec)
    runs = []
    with tempfile.TemporaryDirectory(prefix="podium-targets-") as workdir:
        for k in range(seeds):
            request = compression_request(spec, baseline, k, hardware_class, point)

            def run() -> dict[str, Any]:
                outcome = run_trial(request, Path(workdir))
                if outcome.status in ("failed", "timed_out") or outcome.result is None:
                    raise TargetSettingError(f"target-setting run of {baseline.name} on {spec.name} "
                                             f"{outcome.status}: {outcome.reason}")
                result, metric = outcome.result, spec.metric
                numbers = result.measurements
                return {"run": vars(CompressionRun(
                    result.validation[metric], result.test[metric], numbers["bytes_ratio"], numbers["latency_ratio"],
                    result.submission_time_s, numbers["dense_validation"], numbers["dense_test"]))}

            compression, kept = kept_run(request, spec, baseline, k, fresh, run,
                                         lambda payload: CompressionRun(**payload["run"]))
            runs.append(compression)
            if console is not None:
                console.print(f"    seed {k + 1}/{seeds}: {spec.metric} {compression.validation:.4f}, bytes "
                              f"{compression.bytes_ratio:.3f}x, latency {compression.latency_ratio:.3f}x, "
                              f"{compression.submission_s:.1f}s" + (" (kept from an earlier run)" if kept else ""),
                              highlight=False)
    return runs


def quality_floor(dense: float, fraction: float, higher_is_better: bool = True) -> float:
    """``fraction`` of a reference quality (a dense model's; the best baseline's level), rounded towards easier: ``fraction x dense`` for accuracy,
    ``dense / fraction`` for a loss or perplexity.

    >>> quality_floor(0.8852, 0.99), quality_floor(20.0, 0.99, higher_is_better=False)
    (0.8763, 20.2021)
    """
    return floor4(fraction * dense if higher_is_better else dense / fraction, higher_is_better)


def derive_compression_targets(spec: WorkloadSpec, runs_by_baseline: dict[str, list[CompressionRun]]) -> dict[str, Any]:
    """The compression procedure's targets, a pure function of the runs:

    1. **Floors**: ``floor_fraction`` of the dense model's validation and test metric (:func:`quality_floor`).
    2. Per baseline and seed, the ratio the workload's target bounds (``compression.measure``); infinity for a seed
       whose model fell below the validation floor. **Level** per baseline: the ratio at least ``SUCCESS_RATE``
       (90%) of its seeds reached (with 10 seeds, the second worst).
    3. **Target ratio**: the median level among the baselines that compress at all (level below 1): the level at
       least half of them reach, rounded up at 4 decimals; the baseline whose level it is *sets* the target. Not the
       best baseline's level, as the training track's targets are: there, more time lets another method reach the
       target; here time buys no better ratio, so a target only the best method reaches would score every other one
       infinite and say nothing about their speed. Half the baselines clearing it keeps it a real bar (the other
       half does not clear it), the ranking among those that do is by time, and the leaderboard's Pareto charts
       show every method's whole trade-off.
    4. **Budget** = ``BUDGET_FACTOR`` x the median compress seconds of the slowest baseline whose level meets the
       target, rounded up to 0.5 s: every reference method that reaches the ratio does so well within it (the
       setting baseline alone could be one that takes no time, PyTorch's int8, and leave no room for a method
       that compresses better by fine-tuning).
    5. **Success rate** per baseline: the share of its seeds at or above the floor, at or under the ratio, within the
       budget.
    """
    if spec.compression is None:
        raise TargetSettingError(f"{spec.name} is not a compression workload")
    hib, fraction, measure = spec.higher_is_better, spec.compression.floor_fraction, spec.compression.measure
    runs = [r for rs in runs_by_baseline.values() for r in rs]
    dense_validation, dense_test = statistics.median(r.dense_validation for r in runs), statistics.median(
        r.dense_test for r in runs)
    validation, test = quality_floor(dense_validation, fraction, hib), quality_floor(dense_test, fraction, hib)
    ratios = {b: [getattr(r, measure) if spec.meets(r.validation, validation) else math.inf for r in rs]
              for b, rs in runs_by_baseline.items()}
    levels = {b: level_reached_by(rs, higher_is_better=False) for b, rs in ratios.items()}
    compressing = sorted((level, b) for b, level in levels.items() if level < 1.0)
    if not compressing:
        raise TargetSettingError(f"no baseline brought {measure} below 1 while keeping the {spec.metric} floor "
                                 f"{validation:.4f} ({fraction:.0%} of the dense model's {dense_validation:.4f}) on "
                                 f"{SUCCESS_RATE:.0%} of its seeds: there is no target to set")
    setting = compressing[math.ceil(len(compressing) / 2) - 1][1]
    ratio = floor4(levels[setting], higher_is_better=False)
    reaching = [b for b, level in levels.items() if level <= levels[setting]]
    budget = round_budget(BUDGET_FACTOR * max(statistics.median(r.submission_s for r in runs_by_baseline[b])
                                              for b in reaching))
    success = {b: sum(1 for r, q in zip(rs, ratios[b]) if q <= ratio and r.submission_s <= budget) / len(rs)
               for b, rs in runs_by_baseline.items()}
    return {"validation": validation, "test": test, "compression_ratio": ratio, "budget_s": budget,
            "best_baseline": compressing[0][1], "target_baseline": setting, "success_rate": success,
            "floor_fraction": fraction, "measure": measure,
            "dense": {"validation": dense_validation, "test": dense_test}, "ratio_level": levels,
            "ratio_per_seed": {b: [getattr(r, measure) for r in rs] for b, rs in runs_by_baseline.items()},
            "validation_per_seed": {b: [r.validation for r in rs] for b, rs in runs_by_baseline.items()},
            "compress_seconds": {b: [r.submission_s for r in rs] for b, rs in runs_by_baseline.items()}}


def measure_speed(spec: WorkloadSpec, baseline: Path, hardware_class: str, runs: int | None = None,
                  point: int = 1) -> float:
    """The fastest of ``runs`` (default ``SPEED_RUNS``) short runs' submission seconds per update."""
    runs = runs or SPEED_RUNS
    steps = min(SPEED_STEPS, setting_steps(spec))
    threads = CLASS_THREADS.get(hardware_class, 2)
    rates = []
    with tempfile.TemporaryDirectory(prefix="podium-speed-") as workdir:
        for k in range(runs):
            request = setting_request(spec, baseline, k, hardware_class, threads, point).model_copy(
                update={"max_steps": steps, "eval_every_steps": steps, "trial_id": f"speed-{spec.name}-{k}"})
            outcome = run_trial(request, Path(workdir))
            if outcome.result is None or outcome.status in ("failed", "timed_out") or not outcome.result.steps:
                raise TargetSettingError(f"speed run of {baseline.name} on {spec.name} {outcome.status}: "
                                         f"{outcome.reason}")
            rates.append(outcome.result.submission_time_s / outcome.result.steps)
    return min(rates)


def rebudget(names: list[str] | None, hardware_class: str, write: bool, console: Console,
             force: bool = False) -> dict[str, Any]:
    """Re-measure only the time per update (short runs, on an idle machine) and re-derive budgets and success rates
    from the stored updates-to-target. The curves, and so the targets, are unchanged."""
    from harness.demo import baselines

    check_idle(force)  # once, before our own runs load the machine
    stored = json.loads(TARGETS_FILE.read_text())
    for name in names or sorted(stored["workloads"]):
        entry = stored["workloads"].get(name, {}).get(hardware_class)
        if entry is None:
            raise TargetSettingError(f"{name} has no targets for {hardware_class}: run `podium targets set` first")
        load_before, spec, prov = os.getloadavg()[0], get_spec(name), entry["provenance"]
        if spec.track == "compression":
            raise TargetSettingError(f"{name}: a compression workload's budget comes from its runs' compress "
                                     "seconds; re-run `podium targets set` on it (kept runs are reused with "
                                     "their seconds: pass --fresh to measure them again)")
        points = prov.get("points", {})
        per_step = {b.name: measure_speed(spec, b, hardware_class, point=points.get(b.name, 1))
                    for b in baselines(spec.track, tuple(prov["steps_to_target"]))}
        budget, success = budget_and_success(prov["steps_to_target"], per_step, prov["best_baseline"])
        prov.update(seconds_per_step=per_step, success_rate=success, budget_measured={
            "date": datetime.now(UTC).isoformat(timespec="seconds"), "runs": SPEED_RUNS, "updates": SPEED_STEPS,
            "forced": force, "load_average_1min": {"before": round(load_before, 2),
                                                   "after": round(os.getloadavg()[0], 2)},
            "command": f"podium targets set --budgets-only --workload {name}" + (" --force" if force else "")})
        entry["budget_s"] = budget
        console.print(f"{name}: budget {budget:.1f}s, success " + ", ".join(
            f"{b} {r:.0%}" for b, r in sorted(success.items())), highlight=False)
        if write:
            write_stored(stored)
    return stored


def measure_rates(names: list[str], seeds: int, hardware_class: str, write: bool, console: Console,
                  only: tuple[str, ...], force: bool = False, workers: int = 1, fresh: bool = False,
                  points: dict[str, int] | None = None) -> dict[str, Any]:
    """Keep the stored targets and budget of each of ``names``; run curves for the baselines ``only`` names (the
    same seeds, updates and cadence as the procedure's) and record how often each meets the stored target within
    the stored budget: its success rate, steps to target, sustained levels and time per update join the provenance
    under ``rates_measured``. For a workload whose target one baseline set (``--baseline adamw``), this answers
    "do the other reference baselines reach it?" without moving it. A baseline whose median sustained level beats
    the target setter's is reported: a full ``podium targets set`` with both would set a harder target."""
    from harness.demo import baselines as named_baselines

    points = dict(points or {})
    if seeds < MIN_SEEDS and not force:
        raise TargetSettingError(f"--seeds {seeds}: a success rate needs at least {MIN_SEEDS} seeds (--force to try "
                                 "anyway)")
    check_idle(force)
    stored = json.loads(TARGETS_FILE.read_text())
    for name in names:
        entry = stored["workloads"].get(name, {}).get(hardware_class)
        if entry is None:
            raise TargetSettingError(f"{name} has no targets for {hardware_class}: run `podium targets set` first")
        spec, prov = get_spec(name), entry["provenance"]
        if spec.track == "compression":
            raise TargetSettingError(f"{name}: a compression workload's success rates come with its targets; run "
                                     "`podium targets set` on it with every baseline")
        hib, target, budget, setter = spec.higher_is_better, entry["validation"], entry["budget_s"], \
            prov["best_baseline"]
        chosen = named_baselines(spec.track, only)
        if missing := sorted(set(only) - {b.name for b in chosen}):
            raise TargetSettingError(f"--baseline {', '.join(missing)}: no such reference baseline of the "
                                     f"{spec.track} track (submissions/{spec.track}/)")
        for baseline in chosen:
            point = points.get(baseline.name, 1)
            console.print(f"{name}: {baseline.name} x {seeds} seeds at the stored target {target:.4f} (budget "
                          f"{budget:.1f}s)", highlight=False)
            load_before = os.getloadavg()[0]
            curves = run_curves(spec, baseline, seeds, hardware_class, workers, console, fresh, point)
            per_step = measure_speed(spec, baseline, hardware_class, point=point)
            steps = [h.step if (h := first_hit(c, target, hib)) else None for c in curves]
            levels = [sustained_level([p.validation for p in c], higher_is_better=hib) for c in curves]
            rate = success_rate(steps, per_step, budget)
            prov.setdefault("steps_to_target", {})[baseline.name] = steps
            prov.setdefault("seconds_per_step", {})[baseline.name] = per_step
            prov.setdefault("sustained_level_per_seed", {})[baseline.name] = levels
            prov.setdefault("success_rate", {})[baseline.name] = rate
            prov.setdefault("rates_measured", {})[baseline.name] = {
                "date": datetime.now(UTC).isoformat(timespec="seconds"), "seeds": seeds, "forced": force,
                "hyperparameters": setting_point(baseline, point), "point": point, "harness_commit": git_commit(),
                "load_average_1min": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
                "command": f"podium targets set --rates-only --workload {name} --baseline {baseline.name} --seeds "
                           f"{seeds} --hardware-class {hardware_class}" + (f" --point {baseline.name}={point}"
                                                                           if point != 1 else "")
                           + (" --force" if force else "")}
            setter_levels = prov.get("sustained_level_per_seed", {}).get(setter)
            note = ""
            if baseline.name != setter and setter_levels and \
                    (1 if hib else -1) * (statistics.median(levels) - statistics.median(setter_levels)) > 0:
                note = (f"; its median sustained level {statistics.median(levels):.4f} beats {setter}'s "
                        f"{statistics.median(setter_levels):.4f}: a full `podium targets set` with both would set "
                        "a harder target")
            console.print(f"  -> {baseline.name}: success {rate:.0%} ({sum(s is not None for s in steps)}/{seeds} "
                          f"seeds meet {target:.4f}; {per_step * 1000:.1f} ms an update){note}", highlight=False)
            if write:
                write_stored(stored)
    return stored


def check_idle(force: bool) -> float:
    """The 1-minute load average; refuses a busy machine unless forced."""
    load = os.getloadavg()[0]
    if load > BUSY_LOAD and not force:
        raise TargetSettingError(
            f"the machine is busy (1-minute load average {load:.2f} > {BUSY_LOAD}): budgets are set against the "
            "clock, so stop other work and retry, or pass --force (recorded in the provenance)")
    return load


def set_targets(names: list[str] | None, seeds: int, hardware_class: str, write: bool, console: Console,
                force: bool = False, workers: int = 1, only: tuple[str, ...] | None = None,
                fresh: bool = False, points: dict[str, int] | None = None) -> dict[str, Any]:
    """Run the procedure for ``names`` (default: every workload) on the baselines of each workload's track (only
    ``only`` when given: recorded in the provenance); write each result as soon as it is derived. Curves kept by an
    interrupted run are reused unless ``fresh``. ``points`` maps a baseline to the 1-based search-space point it runs
    (default: its first)."""
    points = dict(points or {})
    from harness.demo import baselines as all_baselines

    def baselines() -> list[Path]:
        chosen = all_baselines(spec.track, only) if only else all_track_baselines(spec.track)
        if not chosen:
            raise TargetSettingError(f"no reference baseline of the {spec.track} track"
                                     + (f" named {', '.join(only)}" if only else ""))
        return chosen

    if seeds < MIN_SEEDS and not force:
        raise TargetSettingError(f"--seeds {seeds}: the procedure needs at least {MIN_SEEDS} seeds per baseline "
                                 "for a 90% success rate to mean anything (--force to try anyway, e.g. for a test)")
    check_idle(force)
    stored = json.loads(TARGETS_FILE.read_text()) if TARGETS_FILE.exists() else {"workloads": {}}
    for name in names or [n for n in WORKLOADS.names() if hardware_class in get_spec(n).budget_s]:
        spec = get_spec(name)
        try:  # before any run: made inside one, a model would count in the run's initialisation and time it out
            ensure_made(spec, say=lambda text: console.print(text, highlight=False))
        except ExecutorError as exc:
            raise TargetSettingError(str(exc)) from None
        if spec.track == "compression":
            stored["workloads"].setdefault(name, {})[hardware_class] = _compression_targets(
                spec, baselines(), seeds, hardware_class, console, force, fresh, points, workers)
            if write:
                write_stored(stored)
            continue
        curves = {}
        for baseline in baselines():
            console.print(f"{name}: {baseline.name} x {seeds} seeds, {setting_steps(spec)} updates each",
                          highlight=False)
            curves[baseline.name] = run_curves(spec, baseline, seeds, hardware_class, workers, console, fresh,
                                               points.get(baseline.name, 1))
        load_before = os.getloadavg()[0]  # our own curve runs count in it: only the start is checked
        per_step = {b.name: measure_speed(spec, b, hardware_class, point=points.get(b.name, 1)) for b in baselines()}
        derived = derive_targets(spec, curves, per_step)
        provenance = _provenance(name, seeds, hardware_class, force, load_before, derived, baselines(), points)
        provenance["curve_commits"] = sorted({c for b in baselines() for c in
                                              curve_commits(spec, b, seeds, hardware_class, points.get(b.name, 1))})
        console.print(f"  -> validation {derived['validation']:.4f}, test {derived['test']:.4f}, budget "
                      f"{derived['budget_s']:.1f}s (best baseline {derived['best_baseline']}, success "
                      f"{derived['success_rate'][derived['best_baseline']]:.0%})", highlight=False)
        stored["workloads"].setdefault(name, {})[hardware_class] = {
            "validation": derived["validation"], "test": derived["test"], "budget_s": derived["budget_s"],
            "provenance": provenance}
        if write:  # after each workload, so an interrupted run keeps what it finished
            write_stored(stored)
    return stored


def _compression_targets(spec: WorkloadSpec, baselines: list[Path], seeds: int, hardware_class: str,
                         console: Console, force: bool, fresh: bool, points: dict[str, int],
                         workers: int) -> dict[str, Any]:
    """The compression procedure on one workload (:func:`derive_compression_targets`): its stored entry."""
    if workers > 1:
        console.print("  (compression runs go one at a time: their seconds and latency ratios are measured against "
                      "the clock; --workers is ignored)", highlight=False)
    load_before = os.getloadavg()[0]
    runs = {}
    for baseline in baselines:
        console.print(f"{spec.name}: {baseline.name} x {seeds} seeds", highlight=False)
        runs[baseline.name] = run_compressions(spec, baseline, seeds, hardware_class, console, fresh,
                                               points.get(baseline.name, 1))
    derived = derive_compression_targets(spec, runs)
    provenance = _provenance(spec.name, seeds, hardware_class, force, load_before, derived, baselines, points)
    provenance.update(procedure="harness/targets.py (compression: floors from the dense model; the ratio at least "
                                "half the compressing baselines reach on 90% of their seeds; budget 3x the median "
                                "compress time of the slowest baseline that reaches it)",
                      threads=CLASS_THREADS.get(hardware_class, 2), runs_of=measured_twin(spec).name)
    for key in ("curve_threads", "speed_runs", "speed_updates", "sustain_evals"):
        provenance.pop(key)
    console.print(f"  -> floor {derived['validation']:.4f} (test {derived['test']:.4f}), {derived['measure']} <= "
                  f"{derived['compression_ratio']:.4f}, budget {derived['budget_s']:.1f}s (set by "
                  f"{derived['target_baseline']}; success " + ", ".join(
                      f"{b} {r:.0%}" for b, r in sorted(derived["success_rate"].items())) + ")",
                  highlight=False)
    return {"validation": derived["validation"], "test": derived["test"], "budget_s": derived["budget_s"],
            "compression_ratio": derived["compression_ratio"], "provenance": provenance}


def _provenance(name: str, seeds: int, hardware_class: str, force: bool, load_before: float,
                derived: dict[str, Any], baselines: list[Path], points: dict[str, int]) -> dict[str, Any]:
    subset = "".join(f" --baseline {b.name}" for b in baselines) if len(baselines) < len(
        all_track_baselines(get_spec(name).track)) else ""
    chosen = {b.name: points[b.name] for b in baselines if points.get(b.name, 1) != 1}
    subset += "".join(f" --point {b}={k}" for b, k in chosen.items())
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"), "hardware_class": hardware_class,
        "cpu_model": cpu_model(), "cpu_capability": cpu_capability(), "threads": CLASS_THREADS.get(hardware_class, 2),
        "curve_threads": CURVE_THREADS, "speed_runs": SPEED_RUNS, "speed_updates": SPEED_STEPS, "harness_commit": git_commit(), "release": BENCHMARK_RELEASE,
        "procedure": "harness/targets.py (step-capped curves, sustained level, 90% success)",
        "budget_factor": BUDGET_FACTOR, "success_rate_goal": SUCCESS_RATE, "sustain_evals": SUSTAIN_EVALS,
        "seeds": seeds, "forced": force, "baselines": {b.name: setting_point(b, points.get(b.name, 1)) for b in baselines},
        "points": chosen, **({"target_fraction": frac} if (frac := get_spec(name).target_fraction) != 1.0 else {}),
        "command": f"podium targets set --workload {name} --seeds {seeds} --hardware-class {hardware_class}"
                   + subset + (" --force" if force else ""),
        "load_average_1min": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        **{k: v for k, v in derived.items() if k not in ("validation", "test", "budget_s", "compression_ratio")},
    }


def all_track_baselines(track: str) -> list[Path]:
    """The baselines target setting runs by default: the track's reference baselines in PyTorch. Targets are
    framework-neutral quality levels and budgets; a JAX twin (``adamw_jax``) runs the same point of the same rule,
    and what its framework changes is measured by ``podium parity``, not folded into the targets (``--baseline
    adamw_jax`` still runs one)."""
    from harness.demo import baselines
    from harness.tracks.training import framework_of

    return [b for b in baselines(track) if track != "training" or framework_of(b) == "pytorch"]


def targets_rows(stored: dict[str, Any], hardware_class: str) -> list[dict[str, Any]]:
    """One row per workload for ``podium targets show``: targets, budget, success rate per baseline, seeds, date,
    load (and whether the procedure was forced on a busy machine)."""
    rows = []
    for name, per_hw in sorted(stored.get("workloads", {}).items()):
        entry = per_hw.get(hardware_class)
        if entry is None:
            continue
        prov = entry.get("provenance", {})
        rates = prov.get("success_rate", {})
        spec = WORKLOADS.get(name) if name in WORKLOADS else None
        ratio = entry.get("compression_ratio")
        rows.append(dict(workload=name, track=spec.track if spec else "unknown", base=spec.base if spec else None,
                         ratio=f"{ratio:.4f}" if ratio is not None else "",
                         validation=entry["validation"], test=entry["test"],
                         budget_s=entry.get("budget_s"),
                         best=prov.get("target_baseline") or prov.get("best_baseline", ""),
                         success=dict(sorted(rates.items())),
                         seeds=prov.get("seeds"), date=str(prov.get("date", ""))[:10],
                         load=prov.get("load_average_1min", {}).get("before"), forced=prov.get("forced", False)))
    return rows
