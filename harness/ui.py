"""Terminal display: a rich progress view of a run, and the results table."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from harness.runner.run import RunProgress
from harness.scoring.reasons import MISS, infinity_marker
from harness.tuning.plan import PlanEntry, RunPlan
from harness.runner.supervisor import TrialOutcome

STATUS_STYLE = {"reached": "green", "missed": "yellow", "failed": "red", "timed_out": "red", "running": "cyan"}


class RichProgress(RunProgress):
    """A bar for the run (with an estimate of the time left) and one per running trial (submission time / budget)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), console=console)
        self._run: TaskID | None = None
        self._tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._done_now = 0
        self._trials_per_study: int | None = None

    def __enter__(self) -> RichProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def run_started(self, plan: RunPlan, skipped: int) -> None:
        if skipped:
            self.console.print(f"Resuming run {plan.run_id}: {skipped} of {len(plan.entries)} trials already finished.")
        self._run = self.progress.add_task(f"run {plan.run_id}", total=len(plan.entries), completed=skipped,
                                           detail="")
        self._trials_per_study = plan.trials

    def phase_started(self, role: str, entries: list[PlanEntry]) -> None:
        if role == "tuning" and not entries and self._trials_per_study == 1:
            self.console.print("[bold]tuning[/]: none (--trials 1: each study's one point, the search space's first, "
                               "is scored directly on the held-out seeds)", highlight=False)
        if not entries:
            return
        self.console.print(f"[bold]{role}[/]: {len(entries)} trials")
        points = {(e.study, e.point): e.hyperparameters for e in entries if e.hyperparameters is not None}
        for (study, point), hyperparameters in sorted(points.items()):
            self.console.print(f"  s{study} p{point}: {point_text(hyperparameters)}", highlight=False)

    def note(self, text: str) -> None:
        self.console.print(text, highlight=False)

    def trial_started(self, entry: PlanEntry) -> None:
        with self._lock:
            label = f"  {entry.workload} s{entry.study} {entry.role} p{entry.point} seed{entry.seed_index}"
            self._tasks[entry.trial_id] = self.progress.add_task(label, total=round(entry.budget_s), detail="starting")

    def trial_polled(self, entry: PlanEntry, submission_s: float, step: int) -> None:
        task = self._tasks.get(entry.trial_id)
        if task is not None:
            self.progress.update(task, completed=min(submission_s, entry.budget_s),
                                 detail=f"step {step}, {submission_s:.1f}/{entry.budget_s:.0f}s")

    def trial_evaluated(self, entry: PlanEntry, record: Any) -> None:
        task = self._tasks.get(entry.trial_id)
        if task is not None:
            metrics = ", ".join(f"{k} {v:.4f}" for k, v in record.metrics.items())
            self.progress.update(task, detail=f"step {record.step}: {metrics}")

    def trial_finished(self, entry: PlanEntry, outcome: TrialOutcome | None, reason: str = "") -> None:
        with self._lock:
            task = self._tasks.pop(entry.trial_id, None)
            if task is not None:
                self.progress.remove_task(task)
            self._done_now += 1
            self.progress.advance(self._run)
            self.progress.update(self._run, detail=self._eta())
        status = outcome.status if outcome else "missed"
        ttr = outcome.result.time_to_result_s if outcome and outcome.result and status == "reached" else None
        detail = f"{ttr:.2f}s to target" if ttr is not None else (outcome.reason if outcome else f"not run: {reason}")
        point = f"p{entry.point}" if entry.point >= 0 else "p-"  # p-: no point was selected (see the reason)
        self.console.print(f"  [{STATUS_STYLE.get(status, 'white')}]{status:9}[/] {entry.workload:28} "
                           f"s{entry.study} {entry.role:7} {point} seed{entry.seed_index}  {detail}",
                           highlight=False)

    def trial_retried(self, entry: PlanEntry, outcome: TrialOutcome, attempt: int) -> None:
        share = outcome.contention.foreign_share if outcome.contention else None
        self.console.print(f"  [yellow]contended[/] {entry.workload:28} s{entry.study} {entry.role:7} p{entry.point} "
                           f"seed{entry.seed_index}  attempt {attempt}: {_maybe(share)} of its cores taken by "
                           f"something else; re-running", highlight=False)

    def _eta(self) -> str:
        """Time left ~ (mean wall time of the trials finished in this session) x (trials left)."""
        task = self.progress.tasks[self._run]
        left = (task.total or 0) - task.completed
        if not self._done_now or left <= 0:
            return ""
        per_trial = (time.monotonic() - self._started) / self._done_now
        return f"~{per_trial * left / 60:.1f} min left"


#: how the results table names a metric other than accuracy beside its value
METRIC_MARKS = {"perplexity": "ppl ↓"}


def _metric(raw: str | None, workload: str) -> str:
    """The trial's value of its workload's metric: ``"0.8031"`` for accuracy, ``"135.5 ppl ↓"`` for another (so a
    column that mixes workloads says which is which, and that lower is better where it is)."""
    from workloads import WORKLOADS

    spec = WORKLOADS.get(workload) if workload in WORKLOADS else None
    key = spec.metric if spec is not None else "accuracy"
    value = json.loads(raw).get(key) if raw else None
    if value is None:
        return "-"
    if key == "accuracy":
        return f"{value:.4f}"
    mark = METRIC_MARKS.get(key, key + ("" if spec.higher_is_better else " ↓"))
    return f"{value:.4g} {mark}"


def results_table(rows: list[dict[str, Any]], title: str = "Trials", wide: bool = False) -> Any:
    """Trials, one row each, with the notes (why a trial missed or failed, whether it was contended) as numbered
    footnotes under the table, so that a row stays one line. Workload names and trial labels are never cut; with one
    submission its name goes into the title. The validation value is the workload's own metric (:func:`_metric`).
    ``wide`` adds CPU time to target, steps, submission and evaluation seconds, the first update's seconds (training
    trials: a JAX step compiles there), the test metric, the target and, for a compression trial, the ratio its
    workload's target bounds (deflated bytes or batch-1 p50 latency over the dense model's, as measured; at 80
    columns the plain table has no room for it, and a missed trial's note gives it)."""
    from rich import box

    submissions = sorted({r["submission_name"] for r in rows})
    ratios = [_compression_ratio(r) if wide else "" for r in rows]
    show_ratio = any(ratios)
    firsts = [_first_step(r) if wide else "" for r in rows]
    show_first = any(firsts)
    one = len(submissions) == 1
    table = Table(title=title + (f": {submissions[0]}" if one else ""), box=box.SIMPLE_HEAD, pad_edge=False,
                  collapse_padding=True)
    if not one:
        table.add_column("submission", no_wrap=True)
    table.add_column("workload", no_wrap=True)
    table.add_column("trial", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("time to\ntarget s", justify="right", overflow="fold")
    extra = ("CPU to\ntarget s", "steps", "sub s", "eval s") if wide else ()
    for column in extra:
        table.add_column(column, justify="right", overflow="fold")
    if show_first:
        table.add_column("first\nstep s", justify="right", overflow="fold")
    table.add_column("val", justify="right", overflow="fold")
    if wide:
        table.add_column("test", justify="right", overflow="fold")
        table.add_column("target", justify="right", overflow="fold")
    if show_ratio:
        table.add_column("ratio", justify="right", overflow="fold")
    table.add_column("note", no_wrap=True)
    notes = Footnotes()
    for r, ratio, first in zip(rows, ratios, firsts):
        style = STATUS_STYLE.get(r["status"], "white")
        ttr, cpu_ttr = r.get("time_to_result_s"), r.get("cpu_time_to_result_s")
        marks = notes.mark((r.get("reason") or "").strip(), contention_note(r))
        cells = [r["workload"], _trial_label(r), f"[{style}]{r['status']}[/]", f"{ttr:.2f}" if ttr is not None else MISS]
        if wide:
            cells += [f"{cpu_ttr:.2f}" if cpu_ttr is not None else "-", str(r.get("steps") or "-"),
                      f"{r.get('submission_time_s') or 0:.2f}", f"{r.get('eval_time_s') or 0:.2f}"]
        if show_first:
            cells.append(first or "-")
        cells.append(_metric(r.get("validation_json"), r["workload"]))
        if wide:
            cells += [_metric(r.get("test_json"), r["workload"]),
                      f"{r['validation_target']:.4f}" if r.get("validation_target") is not None else "-"]
        if show_ratio:
            cells.append(ratio or "-")
        table.add_row(*([] if one else [r["submission_name"]]), *cells, marks)
    return notes.under(table)


def _first_step(r: dict[str, Any]) -> str:
    """A training trial's first update in submission seconds (a JAX step compiles there): ``"0.571"``; ``""``
    when not recorded (another track, a trial that failed before its first update, an older run)."""
    value = json.loads(r["measurements_json"]).get("first_step_s") if r.get("measurements_json") else None
    return f"{value:.3f}" if isinstance(value, (int, float)) else ""


def _compression_ratio(r: dict[str, Any]) -> str:
    """A compression trial's measured ratio for its workload's goal (bytes or latency, as the workload's name says:
    ``0.236``); ``""`` for a trial of another track or one with no measurements (it failed before the measuring
    process)."""
    from workloads import WORKLOADS

    if not r.get("measurements_json") or r["workload"] not in WORKLOADS:
        return ""
    goal = WORKLOADS.get(r["workload"]).compression
    value = json.loads(r["measurements_json"]).get(goal.measure) if goal is not None else None
    return f"{value:.3f}" if isinstance(value, (int, float)) else ""


class Footnotes:
    """Numbered notes under a table, so that a row stays one line: the same text gets the same number."""

    def __init__(self) -> None:
        self.numbers: dict[str, int] = {}

    def mark(self, *texts: str) -> str:
        return " ".join(f"[{self.numbers.setdefault(t, len(self.numbers) + 1)}]" for t in texts if t)

    def under(self, table: Table) -> Any:
        from rich.console import Group
        from rich.text import Text

        return Group(table, *(Text(f"[{k}] {t}") for t, k in self.numbers.items())) if self.numbers else table


def contention_note(r: dict[str, Any]) -> str:
    """A trial's contention, as a footnote: only when it was contended or re-run.

    >>> contention_note({"foreign_share": 0.48, "contended": 1, "attempts": 3})
    'contended: 0.48 of its cores taken by something else (3 attempts)'
    >>> contention_note({"foreign_share": 0.02, "contended": 0, "attempts": 1})
    ''
    """
    attempts = r.get("attempts") or 1
    if not r.get("contended") and attempts <= 1:
        return ""
    share = r.get("foreign_share")
    taken = f"{share:.2f} of its cores taken by something else" if share is not None else "its cores were shared"
    return (f"contended: {taken}" if r.get("contended") else f"re-run: {taken} at the last attempt") + (
        f" ({attempts} attempts)" if attempts > 1 else "")


def targets_table(rows: list[dict[str, Any]], hardware_class: str, source: str) -> Any:
    """``podium targets show``: one table per track (its reference baselines are the columns), a workload's name
    never cut; a column other than the name wraps. The notes (seeds, dates, machine load, forced runs) are text under
    the tables, which wraps at any width."""
    from rich import box
    from rich.console import Group
    from rich.text import Text

    parts: list[Any] = []
    for track in sorted({r["track"] for r in rows}):
        mine = [r for r in rows if r["track"] == track]
        names = sorted({b for r in mine for b in r["success"]})
        table = Table(title=f"{track} targets on {hardware_class} ({source})", box=box.SIMPLE_HEAD, pad_edge=False,
                      collapse_padding=True, title_justify="left")
        table.add_column("workload", no_wrap=True)
        ratios = any(r.get("ratio") for r in mine)  # a compression workload's ratio target
        # the rates go under the table when side by side they would not fit 80 columns: more than three baselines,
        # or the longest workload name (never cut) leaves too little room for them beside the numbers
        longest = max(len(r["workload"]) + (2 if r.get("base") else 0) for r in mine)
        wanted = longest + 9 * (4 if ratios else 3) + sum(max(len(b), 5) + 1 for b in names)
        listed = len(names) > 3 or wanted > 80
        for column in ("val", "test", *(["ratio"] if ratios else []), "budget"):
            table.add_column(column, justify="right", overflow="fold")
        for column in [] if listed else names:  # a baseline's name is typed (--baseline): never cut
            table.add_column(column, justify="right", overflow="fold", min_width=len(column))
        lines = []
        for r in mine:
            budget = f"{r['budget_s']:g}" if r["budget_s"] is not None else "declared"
            rates = [f"{r['success'][b]:.0%}" + ("*" if b == r["best"] else "") if b in r["success"] else "-"
                     for b in names]
            name = f"↳ {r['workload']}" if r.get("base") else r["workload"]
            table.add_row(name, f"{r['validation']:.4f}", f"{r['test']:.4f}",
                          *([r.get("ratio") or ""] if ratios else []), budget, *([] if listed else rates))
            lines.append(f"{r['workload']}: " + ", ".join(f"{b} {rate}" for b, rate in zip(names, rates)
                                                         if rate != "-"))
        parts.append(table)
        if listed:
            parts.append(Text("Success per baseline: " + "; ".join(lines) + ".\n"))
    loads = [r["load"] for r in rows if r["load"] is not None]
    forced = [r["workload"] for r in rows if r["forced"]]
    parts.append(Text(
        "val/test: the validation and test targets (a compression workload's: its quality floors; ratio: the most its "
        "bytes or latency may be over the dense model's). budget: seconds of submission time. Per baseline: the share "
        "of its target-setting seeds that met the target within the budget (* sets the target). ↳: a held-out variant "
        f"of the workload above. Seeds: {', '.join(sorted({str(r['seeds']) for r in rows}))}; set on "
        f"{', '.join(sorted({r['date'] for r in rows}))}"
        + (f"; 1-minute load before {min(loads):.2f}-{max(loads):.2f}" if loads else "")
        + (f"; forced on a busy machine for: {', '.join(forced)}" if forced else "")
        + ". `podium targets show --json` prints the whole provenance."))
    return Group(*parts)


def workloads_table(rows: list[dict[str, Any]], title: str, wide: bool = False) -> Table:
    """``podium workloads``: a workload's name, which the user types, is never cut or wrapped (a variant is marked ↳
    under its base); with ``wide`` the model is shown, folded to the space left."""
    from rich import box

    metrics = sorted({r["metric"] for r in rows})
    one_metric = len(metrics) == 1  # then it goes into the title, and the columns keep their room
    table = Table(title=title + (f"; metric: {metrics[0]}" if one_metric else ""), box=box.SIMPLE_HEAD,
                  pad_edge=False, collapse_padding=True)
    table.add_column("workload", no_wrap=True)
    one_track = len({r["track"] for r in rows}) == 1  # then the title names it
    if not one_track:
        table.add_column("track", overflow="fold")
    if wide:
        table.add_column("model", overflow="fold", ratio=1)
    if not one_metric:
        table.add_column("metric", overflow="fold")
    for header in ("val\ntarget", "test\ntarget", "budget\ns", "eval\nevery\ns"):
        table.add_column(header, justify="right", overflow="fold")
    table.add_column("frame-\nworks", overflow="fold")
    for r in rows:
        name = f"↳ {r['name']}" if r["variant"] else r["name"]
        table.add_row(name, *([] if one_track else [r["track"]]), *([r["model"]] if wide else []), *([] if one_metric else [r["metric"]]),
                      r["val"], r["test"], r["budget"], r["every"], r.get("frameworks", "pytorch"))
    return table


#: ``podium parity``'s column headers, narrow enough for 80 columns with the longest workload name
PARITY_HEADERS = {"workload": "workload", "framework": "frame-\nwork", "initial loss": "init\nloss", "gap": "gap",
                  "reached": "hit", "steps to target": "steps\nto\ntarget", "s to target": "s to\ntarget",
                  "first step s": "first\nstep s", "ms per update": "ms per\nupdate"}


def parity_table(rows: list[dict[str, str]], title: str) -> Table:
    """``podium parity``: one row per workload and framework (a workload's name only on its first row, PyTorch as
    ``torch``), numbers right-aligned; the rows are :func:`harness.parity.rows_for_display`'s."""
    from rich import box

    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 0))  # box spaces them
    heads = list(rows[0]) if rows else []
    for head in heads:
        left = head in ("workload", "framework")
        table.add_column(PARITY_HEADERS.get(head, head), no_wrap=head == "workload", overflow="fold",
                         justify="left" if left else "right",
                         min_width=max(len(r[head]) for r in rows) if head == "workload" else None)
    previous = None
    for r in rows:
        cells = [r[h] for h in heads]
        cells[heads.index("framework")] = r["framework"].replace("pytorch", "torch")
        if r["workload"] == previous:
            cells[0] = ""
        previous = r["workload"]
        table.add_row(*cells)
    return table


def point_text(hyperparameters: dict[str, Any]) -> str:
    """A hyperparameter point on one line.

    >>> point_text({"learning_rate": 0.0031622776, "warmup_factor": 0.05, "decay_shape": "cosine", "r": 8})
    'learning_rate=0.00316 warmup_factor=0.05 decay_shape=cosine r=8'
    """
    if not hyperparameters:
        return "(no hyperparameters)"
    return " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in hyperparameters.items())


def runs_table(rows: list[dict[str, Any]], title: str = "Runs") -> Table:
    """``podium runs``: one row a run. The run id, which the user types (`podium results --run`), is never cut; the
    submission, ruleset, label and hardware class are in it (``<submission>.<ruleset>.<label>.<hardware>``), the
    release is in the title when all runs share it."""
    from rich import box

    releases = sorted({r["release"] for r in rows})
    table = Table(title=title + (f" (release {releases[0]})" if len(releases) == 1 else ""), box=box.SIMPLE_HEAD,
                  pad_edge=False, collapse_padding=True)
    table.add_column("run id", no_wrap=True)  # the other columns wrap first
    table.add_column("track", overflow="fold")
    table.add_column("created\n(UTC)", overflow="fold")
    table.add_column("trials", justify="right", overflow="fold")
    table.add_column("reached/\nmissed/\nfailed", justify="right", overflow="fold")
    if len(releases) > 1:
        table.add_column("release")
    for r in rows:
        failed = f"[red]{r['failed']}[/]" if r["failed"] else "0"
        counts = f"{r['reached']}/{r['missed']}/{failed}"
        trials = str(r["trials"]) + (f" ({r['unfinished']} open)" if r["unfinished"] else "")
        table.add_row(r["run_id"], r["track"], str(r["created_at"])[5:16].replace("T", " "), trials, counts,
                      *([r["release"]] if len(releases) > 1 else []))
    if not rows:
        table.caption = "no runs yet: `podium run SUBMISSION` or `podium demo` makes one"
    return table


def _trial_label(r: dict[str, Any]) -> str:
    point = f"p{r['trial_index']}" if r["trial_index"] >= 0 else "p-"  # p-: no point was selected
    return f"s{r['study']} {r['role']} {point} seed{r.get('seed_index', 0)}"


#: the named parts of a trial's wall time, in order (see harness.runner.supervisor.account).
ACCOUNTING_COLUMNS = (("start", "spawn_time_s"), ("load", "startup_time_s"), ("init", "init_time_s"),
                      ("submission", "submission_time_s"), ("eval", "eval_time_s"), ("overhead", "overhead_time_s"),
                      ("tail", "tail_time_s"))


def accounting_table(rows: list[dict[str, Any]]) -> Table:
    """Where each trial's wall time went (seconds), what is in no column, and the evidence of contention."""
    table = Table(title="Time accounting (wall = start + load + init + submission + eval + overhead + tail) "
                        "and contention")
    for column in ("workload", "trial", "wall s", *(c for c, _ in ACCOUNTING_COLUMNS), "in no column",
                   "CPU sub s", "CPU share", "steal s", "invol. switches", "load", "cores"):
        table.add_column(column, overflow="fold", justify="left" if column in ("workload", "trial") else "right")
    for r in rows:
        wall = r.get("wall_time_s")
        parts = [r.get(key) for _, key in ACCOUNTING_COLUMNS]
        rest = f"{(wall - sum(parts)) / wall * 100:.1f}%" if wall and None not in parts else "-"
        table.add_row(r["workload"], _trial_label(r), _maybe(wall), *(_maybe(v) for v in parts), rest,
                      _maybe(r.get("cpu_submission_time_s")), _maybe(r.get("cpu_share")),
                      _maybe(r.get("cores_steal_s")), str(r.get("involuntary_switches") or "-"),
                      _maybe(r.get("load_mean"), 1), r.get("measured_cores") or "-")
    return table


def _maybe(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _seconds(value: float | None) -> str:
    return "inf" if value is None or value == float("inf") else f"{value:.2f}"


def interval_cell(lo: float | None, hi: float | None, note: str, digits: int = 2) -> str:
    """An interval as ``[lo, hi]``, or the note that says why there is none.

    >>> interval_cell(None, None, "single seed: no interval"), interval_cell(1.0, 2.5, "")
    ('single seed: no interval', '[1.00, 2.50]')
    """
    if lo is None or hi is None:
        return note or "-"
    fmt = (lambda v: "inf" if v == float("inf") else f"{v:.{digits}f}")
    return f"[{fmt(lo)}, {fmt(hi)}]"


def workload_times_table(rows: list[dict[str, Any]], details: dict[tuple[str, str], dict[str, Any]] | None = None,
                         wide: bool = False) -> Any:
    """Per run and workload: the official time ("time": median over studies of the median over scoring seeds) with its
    ``n`` (studies x scoring seeds), its 95% interval ("95% CI"), and the AlgoPerf-compatible time ("AlgoPerf":
    median over studies of the fastest tuning trial); why a time is infinite and why there is no interval are numbered notes under the table.
    ``wide`` adds the time of each study and the point each selected.

    ``details`` maps ``(run_id, workload)`` to :func:`harness.report.workload_details`; without it the ``n``,
    interval and cause columns show ``-``.
    """
    from rich import box

    submissions = sorted({(r["submission_name"], r["ruleset"]) for r in rows})
    rulesets = sorted({ruleset for _, ruleset in submissions})
    one, one_ruleset = len(submissions) == 1, len(rulesets) == 1  # a column that repeats one value goes in the title
    table = Table(title="Workload times (s of submission time; time: official, AlgoPerf: AlgoPerf's protocol; miss = "
                        "target not reached, see the note)"
                  + (f": {submissions[0][0]} ({submissions[0][1]})" if one else
                     f"; ruleset {rulesets[0]}" if one_ruleset else ""),
                  box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 0))  # the box's space between columns: at
    # 80 columns the names, "[12.02, 16.04]" and the notes fit on one line each
    if not one:
        table.add_column("submission", no_wrap=True)
    if not one_ruleset:
        table.add_column("ruleset", overflow="fold")
    table.add_column("workload", no_wrap=True)
    # short headers: at 80 columns longer ones folded every interval over two lines
    for column, width in (("time", 5), ("n", 1), ("95% CI", 14), ("AlgoPerf", 8)):  # "[12.02, 16.04]" is 14
        table.add_column(column, justify="right", overflow="fold", min_width=None if wide else width)
    if wide:
        table.add_column("per study", overflow="fold")
        table.add_column("selected", overflow="fold")
    table.add_column("note", no_wrap=True)
    notes = Footnotes()
    for r in rows:
        d = (details or {}).get((r["run_id"], r["workload"]), {})
        lo, hi = d.get("time_lo"), d.get("time_hi")
        interval = interval_cell(lo, hi, "") if lo is not None and hi is not None else "-"
        official = _seconds(r["workload_time_s"])
        cells = [r["workload"], infinity_marker(d.get("why") or "", named=False) if official == "inf" else official,
                 str(d.get("n", "-")), interval, MISS if _seconds(r["algoperf_time_s"]) == "inf" else
                 _seconds(r["algoperf_time_s"])]
        if wide:
            studies = json.loads(r["study_times_json"])
            selected = json.loads(r["selected_json"]).items()
            cells += [", ".join(_seconds(v) for v in studies.values()),
                      ", ".join(f"s{k}:p{v}" if v is not None else f"s{k}:-" for k, v in selected)]
        marks = notes.mark(d.get("why") or "", d.get("interval_note", "") if interval == "-" else "")
        table.add_row(*([] if one else [r["submission_name"]]), *([] if one_ruleset else [r["ruleset"]]), *cells,
                      marks)
    return notes.under(table)


def noise_floor_table(rows: list[dict[str, Any]]) -> Table:
    """Per workload and load condition: the spread of wall-clock and of CPU time-to-result."""
    table = Table(title="Noise floor (podium calibrate): spread of time-to-result for one configuration and seed")
    for column in ("hardware", "workload", "submission", "load", "repeats", "mean s", "std s", "CV", "CPU mean s",
                   "CPU CV", "contended runs"):
        table.add_column(column)
    for r in rows:
        table.add_row(r["hardware_class"], r["workload"], r["submission_name"], r.get("load") or "idle",
                      str(r["repeats"]), _seconds(r["mean_s"]), _seconds(r["std_s"]), _percent(r["cv"]),
                      _maybe(r.get("cpu_mean_s")), _percent(r.get("cpu_cv")), str(r.get("contended_runs") or 0))
    return table


def _percent(value: float | None) -> str:
    return f"{value * 100:.1f}%" if value is not None else "-"


def score_table(pool: Any, rows: list[Any]) -> Any:
    """One pool's leaderboard: score, its 95% interval and n, rank and best rank, speedup, per-workload ratios, and
    why each infinite ratio is infinite. Workload columns are numbered (``w1``...) with their whole names in a legend
    under the table, and the reasons are numbered notes, so a submission is one line at 80 columns. Below the
    minimum n the interval and best-rank cells are ``-`` and a note says why. An infinite ratio reads as
    :func:`harness.scoring.reasons.infinity_marker` words it (miss, variant miss, > r_max), its cause in the note."""
    from rich import box
    from rich.console import Group
    from rich.text import Text

    ns = sorted({r.n for r in rows})
    one_n = len(ns) == 1  # then n goes into the title
    table = Table(title=f"Benchmark scores: {pool.key} (score = area under the performance profile, r_max 4; "
                        f"n = studies x scoring seeds{f' = {ns[0]}' if one_n else ''})", box=box.SIMPLE_HEAD,
                  pad_edge=False, collapse_padding=True)
    # the submission's name is never cut; in a narrow terminal the other columns wrap (never truncate)
    table.add_column("rank", justify="right", overflow="fold")
    table.add_column("best\nrank", justify="right", overflow="fold")
    table.add_column("submission", no_wrap=True)
    if not one_n:
        table.add_column("n", justify="right", overflow="fold")
    table.add_column("score", justify="right", overflow="fold")
    table.add_column("95% interval", justify="right", overflow="fold")
    table.add_column("speed-\nup", justify="right", overflow="fold")  # against the pool's reference baseline
    legend = {w: f"w{k}" for k, w in enumerate(pool.base_workloads, 1)}
    for w, label in legend.items():
        table.add_column(label, justify="right", overflow="fold")
    table.add_column("note", overflow="fold")
    notes = Footnotes()
    for r in rows:
        ratios = [(infinity_marker(r.why.get(w, ""), named=False) if r.ratios[w] == float("inf")
                   else f"{r.ratios[w]:.2f}") for w in pool.base_workloads]
        whys = [f"{w}: {r.why[w]}" for w in pool.base_workloads + pool.variants if r.why.get(w)]
        interval = interval_cell(r.score_lo, r.score_hi, "", 2) if r.score_lo is not None else "-"
        said = [*whys, r.interval_note if interval == "-" or r.rank_bound is None else ""]
        marks = notes.mark("; ".join(t for t in said if t))  # one note a submission: the row stays narrow
        table.add_row(str(r.rank), str(r.rank_bound) if r.rank_bound is not None else "-", r.submission,
                      *([] if one_n else [str(r.n)]), f"{r.score:.3f}", interval, f"{r.speedup:.2f}x" if r.speedup is not None else "-",
                      *ratios, marks)
    names = Text("ratios to the best: " + ", ".join(f"{label} = {w}" for w, label in legend.items()))
    return Group(notes.under(table), names)
