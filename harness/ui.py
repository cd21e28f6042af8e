"""Terminal display: a rich progress view of a run, and the results table."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from harness.runner.run import PlannedTrial, RunProgress
from harness.runner.supervisor import TrialOutcome

STATUS_STYLE = {"reached": "green", "missed": "yellow", "failed": "red", "timed_out": "red", "running": "cyan"}


class RichProgress(RunProgress):
    """Two bars: trials done, and the current trial's submission time against its budget."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), console=console)
        self._run = self._trial = None

    def __enter__(self) -> RichProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def run_started(self, run_id: str, trials: list[PlannedTrial], skipped: int) -> None:
        if skipped:
            self.console.print(f"Resuming run {run_id}: {skipped} of {len(trials)} trials already finished.")
        self._run = self.progress.add_task(f"run {run_id}", total=len(trials), completed=skipped, detail="")

    def trial_started(self, trial: PlannedTrial) -> None:
        self._trial = self.progress.add_task(f"  {trial.workload} t{trial.index}", total=round(trial.budget_s),
                                             detail="starting")

    def trial_polled(self, trial: PlannedTrial, submission_s: float, step: int) -> None:
        self.progress.update(self._trial, completed=min(submission_s, trial.budget_s),
                             detail=f"step {step}, {submission_s:.1f}/{trial.budget_s:.0f}s")

    def trial_evaluated(self, trial: PlannedTrial, record: Any) -> None:
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in record.metrics.items())
        self.progress.update(self._trial, detail=f"step {record.step}: {metrics}")

    def trial_finished(self, trial: PlannedTrial, outcome: TrialOutcome) -> None:
        self.progress.remove_task(self._trial)
        self.progress.advance(self._run)
        style = STATUS_STYLE.get(outcome.status, "white")
        ttr = outcome.result.time_to_result_s if outcome.result and outcome.status == "reached" else None
        detail = f"{ttr:.2f}s to target" if ttr is not None else outcome.reason
        self.console.print(f"  [{style}]{outcome.status:9}[/] {trial.workload:28} t{trial.index}  {detail}",
                           highlight=False)


def _metric(raw: str | None, key: str = "accuracy") -> str:
    value = json.loads(raw).get(key) if raw else None
    return f"{value:.4f}" if value is not None else "-"


def results_table(rows: list[dict[str, Any]], title: str = "Trials") -> Table:
    table = Table(title=title)
    for column in ("submission", "workload", "trial", "status", "time to target s", "steps", "sub s", "eval s",
                   "val acc", "test acc", "target", "reason"):
        table.add_column(column, overflow="fold")
    for r in rows:
        style = STATUS_STYLE.get(r["status"], "white")
        ttr = r.get("time_to_result_s")
        table.add_row(r["submission_name"], r["workload"], f"s{r['study']}t{r['trial_index']}",
                      f"[{style}]{r['status']}[/]", f"{ttr:.2f}" if ttr is not None else "inf",
                      str(r.get("steps") or "-"), f"{r.get('submission_time_s') or 0:.2f}",
                      f"{r.get('eval_time_s') or 0:.2f}", _metric(r.get("validation_json")),
                      _metric(r.get("test_json")),
                      f"{r['validation_target']:.4f}" if r.get("validation_target") is not None else "-",
                      (r.get("reason") or "")[:160])
    return table
