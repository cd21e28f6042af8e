"""``podium demo``: the main job. The reference baselines on each track's lite suite (with its held-out variants),
then scoring and a release bundle.

``podium demo`` runs every training baseline and :data:`DEMO_PEFT_BASELINES` of the PEFT track (so that the whole
demo stays within about 15 minutes on 2 cores); ``--track peft`` (or ``training``) runs every baseline of that track
alone."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from harness.publish import publish, workload_specs
from harness.report import build_pools, metrics_from_specs, score_pool, workload_details
from harness.runner.run import BENCHMARK_RELEASE, RunConfig, execute
from harness.ui import RichProgress, results_table, score_table, workload_times_table
from workloads import get_spec, scored_workloads, variant_bases
from workloads.spec import DEFAULT_HARDWARE_CLASS

SUBMISSIONS_DIR = Path(__file__).resolve().parent.parent / "submissions"
BASELINES_DIR = SUBMISSIONS_DIR / "training"
#: the PEFT baselines of the default demo: a parameter-efficient and a full method. A head-only probe would add the
#: cheap end of the Pareto charts, but it misses the lite targets (set by full fine-tuning) and so runs every trial
#: to its budget: ~190 s of a 15-minute demo (measured, 3 seeds); `--track peft` runs it.
DEMO_PEFT_BASELINES = ("lora", "full_finetune")
#: whether `podium demo` without --track runs the PEFT lite suite too (it does once every PEFT lite workload has targets)
PEFT_IN_DEFAULT_DEMO = True


def baselines(track: str = "training", names: tuple[str, ...] | None = None) -> list[Path]:
    """The reference baselines of a track (``submissions/<track>/*``): folders with ``submission.py`` or a PEFT
    ``adapter_config.json``; only ``names`` when given."""
    folder = SUBMISSIONS_DIR / track
    found = sorted(p for p in folder.iterdir() if (p / "submission.py").exists()
                   or (p / "adapter_config.json").exists()) if folder.is_dir() else []
    return [p for p in found if names is None or p.name in names]


#: Held-out scoring seeds per workload in the demo (``--scoring-seeds``): the fewest for which a workload time gets an
#: interval (:data:`harness.scoring.MIN_INTERVAL_N`). Most of the demo's time is budgets run out by trials that
#: miss, which scales with the seeds: with 3, both tracks took 21.9 minutes on an idle 2-core machine when the PEFT
#: part had three baselines (72 trials, 1,218 s of trial wall time; the training track alone 14.3 minutes).
DEMO_SCORING_SEEDS = 3


class DemoError(RuntimeError):
    """A reference baseline's trial failed: the harness, not the baseline, is broken. The message lists them."""


def failed_trials(rows: list[dict]) -> list[dict]:
    """Trials that ended ``failed`` or ``timed_out`` (a miss is a result; a failure of a baseline is a bug)."""
    return [r for r in rows if r["status"] in ("failed", "timed_out")]


def missing_targets(track: str, hardware_class: str = DEFAULT_HARDWARE_CLASS) -> list[str]:
    """The workloads of ``track``'s lite suite (with this release's variants) that have no targets yet."""
    return [w for w in scored_workloads("lite", BENCHMARK_RELEASE, track=track)
            if hardware_class not in get_spec(w).targets]


def demo_plan(track: str | None = None, console: Console | None = None) -> list[tuple[str, list[Path]]]:
    """``(track, baselines)`` the demo runs: every baseline of ``track``; by default every training baseline and
    :data:`DEMO_PEFT_BASELINES`, the latter only once every PEFT lite workload has targets (it says so otherwise:
    ``podium targets set`` makes them)."""
    if track is not None:
        missing = missing_targets(track)
        if missing:
            raise DemoError(f"no targets for {', '.join(missing)} on {DEFAULT_HARDWARE_CLASS}: run `podium targets "
                            f"set --workload NAME` first")
        return [(track, baselines(track))]
    plan = [("training", baselines("training"))]
    missing = missing_targets("peft")
    if missing or not PEFT_IN_DEFAULT_DEMO:
        if console is not None:
            why = (f"{', '.join(missing)} have no targets on {DEFAULT_HARDWARE_CLASS} yet" if missing else
                   "its budgets were measured on a loaded machine and would take the demo past 15 minutes")
            console.print(f"The PEFT lite suite is left out ({why}); `podium demo --track peft` runs it.",
                          highlight=False)
        return plan
    return [*plan, ("peft", baselines("peft", DEMO_PEFT_BASELINES))]


def run_demo(db: Path, console: Console, bundles: Path | None = None, track: str | None = None,
             scoring_seeds: int = DEMO_SCORING_SEEDS) -> Path:
    """Each baseline: its first hyperparameter point (a study with one point runs it on the held-out scoring seeds
    directly) on every workload and scored variant of its track's lite suite. Then ``podium score`` and
    ``podium publish``.

    Returns the bundle. Raises :class:`DemoError` after publishing when any baseline trial failed.
    """
    rows, times, names = [], [], []
    for track_name, folders in demo_plan(track, console):
        workloads = scored_workloads("lite", BENCHMARK_RELEASE, track=track_name)
        names += workloads
        for folder in folders:
            console.rule(f"[bold]{folder.name}[/] on the {track_name} track's lite suite ({len(workloads)} workloads)")
            config = RunConfig(submission_dir=folder, workloads=workloads, label="lite", db=db, trials=1,
                               scoring_seeds=scoring_seeds)
            with RichProgress(console) as progress:
                run_id, store = execute(config, progress)
            rows += store.trials(run_id)
            times += store.workload_times(run_id)
    console.print(results_table(rows, title="Podium demo: reference baselines on the lite suites (cpu-2core)"))
    metrics = metrics_from_specs(workload_specs(names))
    console.print(workload_times_table(times, workload_details(rows, metrics)))
    for pool in build_pools(store.trials(), variant_bases(), metrics):
        console.print(score_table(pool, score_pool(pool)))
    # The demo shows what a run records, contention flags included; a release for publication would re-run them.
    bundle = publish(db, bundles or db.parent / "bundles", BENCHMARK_RELEASE, variant_bases(), allow_contended=True)
    console.print(f"Results database: {db}   Release bundle: {bundle}")
    console.print(f"Next: `podium results --db {db}`, `podium score --db {db} --out DIR`, "
                  f"`podium publish --verify {bundle}`, `make board`")
    failed = failed_trials(rows)
    if failed:
        raise DemoError(f"{len(failed)} reference baseline trial(s) failed: " + "; ".join(
            f"{r['trial_id']}: {r['status']}: {r['reason']}" for r in failed[:5]))
    return bundle
