"""``podium demo``: every reference baseline on the lite suite, then the results table."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from harness.runner.run import RunConfig, execute
from harness.ui import RichProgress, results_table
from workloads import SUITES

BASELINES_DIR = Path(__file__).resolve().parent.parent / "submissions" / "training"


def baselines() -> list[Path]:
    return sorted(p for p in BASELINES_DIR.iterdir() if (p / "submission.py").exists())


def run_demo(db: Path, console: Console) -> None:
    """Run each baseline's first hyperparameter point on every lite workload (one trial each), then show results."""
    workloads = tuple(SUITES.get("lite"))
    rows = []
    for folder in baselines():
        console.rule(f"[bold]{folder.name}[/] on the lite suite")
        with RichProgress(console) as progress:
            run_id, store = execute(RunConfig(submission_dir=folder, workloads=workloads, label="lite", db=db), progress)
        rows += store.trials(run_id)
    console.print(results_table(rows, title="Podium demo: reference baselines on the lite suite (cpu-2core)"))
    console.print(f"Results database: {db}  (`podium results --db {db}`)")
