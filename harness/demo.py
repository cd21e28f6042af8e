"""``podium demo``: the main job. Every reference baseline on the lite suite (with its held-out variants), then
scoring and a release bundle."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from harness.publish import publish
from harness.report import build_pools, score_pool
from harness.runner.run import BENCHMARK_RELEASE, RunConfig, execute
from harness.ui import RichProgress, results_table, score_table, workload_times_table
from workloads import scored_workloads, variant_bases

BASELINES_DIR = Path(__file__).resolve().parent.parent / "submissions" / "training"


def baselines() -> list[Path]:
    return sorted(p for p in BASELINES_DIR.iterdir() if (p / "submission.py").exists())


def run_demo(db: Path, console: Console, bundles: Path | None = None) -> Path:
    """Each baseline: its first hyperparameter point on one tuning seed, re-run on one held-out scoring seed, on
    every lite workload and scored variant. Then ``podium score`` and ``podium publish``. Returns the bundle."""
    workloads = scored_workloads("lite", BENCHMARK_RELEASE)
    rows, times = [], []
    for folder in baselines():
        console.rule(f"[bold]{folder.name}[/] on the lite suite ({len(workloads)} workloads)")
        config = RunConfig(submission_dir=folder, workloads=workloads, label="lite", db=db, trials=1,
                           scoring_seeds=1)
        with RichProgress(console) as progress:
            run_id, store = execute(config, progress)
        rows += store.trials(run_id)
        times += store.workload_times(run_id)
    console.print(results_table(rows, title="Podium demo: reference baselines on the lite suite (cpu-2core)"))
    console.print(workload_times_table(times))
    for pool in build_pools(store.trials(), variant_bases()):
        console.print(score_table(pool, score_pool(pool)))
    bundle = publish(db, bundles or db.parent / "bundles", BENCHMARK_RELEASE, variant_bases())
    console.print(f"Results database: {db}   Release bundle: {bundle}")
    console.print(f"Next: `podium results --db {db}`, `podium score --db {db} --out DIR`, "
                  f"`podium publish --verify {bundle}`")
    return bundle
