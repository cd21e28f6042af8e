"""``podium``: the command line. Each command parses its flags into one config object and calls a library function.

Exit codes: 0 success; 1 the work ran but did not succeed (a failed check run); 2 bad input (a broken submission,
an unknown workload, a bad search space) - reported as one clear message per problem.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from harness.registry import UnknownNameError
from workloads import get_spec, variant_bases
from harness.runner.run import DEFAULT_DB, RunConfig

if TYPE_CHECKING:
    from harness.executors.engine import ImageInfo
    from harness.release import ReleasePlan

app = typer.Typer(
    help="Podium: a benchmark and leaderboard for machine-learning methods, measured by time-to-result.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, rich_markup_mode="rich")
targets_app = typer.Typer(help="Show or re-run the target-setting procedure.", no_args_is_help=True)
app.add_typer(targets_app, name="targets")
docker_app = typer.Typer(help="The sealed scoring image: build it (trials run in it with `podium run --executor "
                              "docker`).", no_args_is_help=True)
app.add_typer(docker_app, name="docker")
release_app = typer.Typer(help="Commit a release to a secret that draws its held-out variants, so that nobody can "
                               "compute them before submissions close (revealed by `podium publish "
                               "--release-secret`).", no_args_is_help=True)
app.add_typer(release_app, name="release")
console = Console()
err = Console(stderr=True)

# Every path is made absolute here, at the boundary (``resolve_path``), defaults included: trial workers run in
# another working directory, so a relative path that reached them would point somewhere else.
DbOption = Annotated[Path, typer.Option("--db", resolve_path=True, help="Results database (SQLite).")]
HardwareOption = Annotated[str, typer.Option("--hardware-class", help="Hardware class whose budgets/targets apply.")]
SecretOption = Annotated[Optional[Path], typer.Option(
    "--release-secret", resolve_path=True, metavar="FILE",
    help="The release's secret (from `podium release commit`; organiser only): draw the held-out variants with it "
         "instead of from the public release name.")]


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


@app.command()
def workloads(
    suite: Annotated[Optional[str], typer.Option(help="Only this suite's workloads (and their variants).")] = None,
    track: Annotated[Optional[str], typer.Option(help="Only this track's workloads: training, peft or compression (with "
                                                      "--suite: the track whose suite it is; default training).")] = None,
    hardware_class: HardwareOption = "cpu-2core",
    wide: Annotated[bool, typer.Option("--wide", help="Also show each workload's model.")] = False,
) -> None:
    """List workloads: track, metric, targets, budget, evaluation period and the frameworks a submission may be
    written in (the model with --wide). Variants are listed under their base workload (marked ↳). Names are never
    cut."""
    from harness.ui import workloads_table
    from workloads import SUITES, TRACKS, WORKLOADS, suite_key, variants_of

    if track is not None and track not in TRACKS:
        raise fail(f"unknown --track {track!r}: use one of {', '.join(TRACKS)}")
    try:
        names = (list(SUITES.get(suite_key(suite, track or "training"))) if suite else
                 [n for n in WORKLOADS.names() if WORKLOADS.get(n).base is None
                  and (track is None or WORKLOADS.get(n).track == track)])
    except UnknownNameError as exc:
        raise fail(str(exc)) from None
    title = (f"{track} track" if track else "all tracks") if not suite else f"{track or 'training'} suite {suite}"
    rows = []
    for name in names:
        for spec in [WORKLOADS.get(name), *variants_of(name)]:
            t = spec.targets.get(hardware_class)
            budget = spec.budget_s.get(hardware_class)
            rows.append(dict(name=spec.name, variant=spec.base is not None, track=spec.track, model=spec.model,
                             metric=f"{spec.metric} {'↑' if spec.higher_is_better else '↓'}", val=f"{t.validation:.4f}" if t else "-",
                             test=f"{t.test:.4f}" if t else "-", budget=f"{budget:g}" if budget else "-",
                             every="once" if spec.compression else f"{spec.eval_period_s:g}",
                             ratio=_ratio_target(spec, t), frameworks=" ".join(spec.frameworks)))
    compression = [f"{r['name']}: {r['ratio']}" for r in rows if r["ratio"]]
    console.print(workloads_table(rows, f"Workloads ({title}; targets and budgets for {hardware_class})", wide))
    if compression:
        console.print("Compression workloads: the val/test targets are quality floors, and the compressed model's "
                      "deflated bytes or batch-1 p50 latency over the dense model's may be at most: "
                      + "; ".join(compression) + " (eval every: once, after compress).", highlight=False)


def _ratio_target(spec: Any, targets: Any) -> str:
    """A compression workload's ratio target, e.g. ``bytes 0.25`` (``bytes -`` while unset); "" for other tracks."""
    if spec.compression is None:
        return ""
    what = spec.compression.measure.removesuffix("_ratio")
    bound = targets.compression_ratio if targets is not None else None
    return f"{what} {bound:.3g}" if bound is not None else f"{what} -"


@app.command()
def check(
    path: Annotated[Path, typer.Argument(resolve_path=True,
                                         help="Submission folder (submission.py, README.md, search_space.json).")],
    static_only: Annotated[bool, typer.Option("--static", help="Only validate; do not run any training step.")] = False,
    seconds: Annotated[float, typer.Option(help="Submission seconds for the smoke run.")] = 2.0,
    workload: Annotated[Optional[str], typer.Option(help="Workload for the smoke run (default: the track's "
                                                        "smallest: digits_mlp, fashion_cnn_transfer for a PEFT "
                                                        "method, fashion_cnn_compress for a compressor).")] = None,
) -> None:
    """Validate a submission (functions, signatures, search space, imports; for a PEFT config, its adapter_config.json),
    then run a few real steps (a compressor: its whole compress call, and the measurement of the model it returns).
    The track is recognised from the folder: adapter_config.json or a submission.py defining adapt() is a PEFT
    method, one defining compress() a compressor; any other submission.py a training algorithm."""
    from harness.check import check_submission, format_report
    from harness.tracks import TrackError, submission_track

    try:
        track = submission_track(path) if path.is_dir() else "training"
    except TrackError as exc:
        raise fail(str(exc)) from None
    workload = workload or SMOKE_WORKLOADS[track]
    report = check_submission(path)
    if not report.ok:
        err.print(format_report(report), highlight=False)
        raise typer.Exit(2)
    console.print(f"[green]✓[/] {path}: {track} track; contract, signatures and search space are valid")
    if static_only:
        return
    from harness.smoke import FIRST_STEP_ALLOWANCE_S, SMOKE_STEPS, smoke_run, step_times

    if track == "compression":
        _check_compressor(path, workload)
        return
    console.print(f"Running up to {SMOKE_STEPS} real steps on {workload} (a first step may take up to "
                  f"{FIRST_STEP_ALLOWANCE_S:.0f}s to compile)...")
    outcome = smoke_run(path, workload, seconds)
    steps = outcome.result.steps if outcome.result else 0
    times = step_times(outcome)
    if outcome.status in ("failed", "timed_out"):
        done = f" (after {steps} steps; {times.describe()})" if times else ""
        raise fail(f"{path}: the smoke run on {workload} {outcome.status}: {outcome.reason}{done}", code=1)
    last = outcome.evals[-1].metrics if outcome.evals else {}
    metric = get_spec(workload).metric
    reached = f"; validation {metric} {last[metric]:.4f} after the last" if metric in last else ""
    console.print(f"[green]✓[/] {path}: ran {steps} real step{'s' if steps != 1 else ''} on {workload} "
                  f"({outcome.result.submission_time_s:.2f}s of submission time"
                  f"{'; ' + times.describe() if times else ''}{reached})")
    if times and times.slow_first and steps < SMOKE_STEPS:
        console.print(f"  The first step used up the {seconds:g}s smoke budget; `--seconds {times.first_s + 2:.0f}` "
                      "runs the steps after it too.")


def _check_compressor(path: Path, workload: str) -> None:
    """The dynamic half of a compressor's check: one whole compress call on ``workload``, then the measurement."""
    from harness.smoke import smoke_run

    spec = get_spec(workload)
    budget = spec.budget_for("cpu-2core")
    console.print(f"Compressing {workload}'s dense model with the first search-space point (budget {budget:g}s), "
                  "then measuring the saved model in its own process...")
    outcome = smoke_run(path, workload)
    if outcome.status in ("failed", "timed_out") or outcome.result is None:
        raise fail(f"{path}: the check on {workload} {outcome.status}: {outcome.reason}", code=1)
    result, numbers, metric = outcome.result, outcome.result.measurements, spec.metric
    console.print(f"[green]✓[/] {path}: compress took {result.submission_time_s:.2f}s of submission time; "
                  f"validation {metric} {result.validation[metric]:.4f} (dense {numbers['dense_validation']:.4f}); "
                  f"{numbers['bytes'] / 1e3:.0f} kB deflated on disk ({numbers['bytes_ratio']:.3f}x dense), "
                  f"batch-1 p50 {numbers['latency_p50_ms']:.2f} ms ({numbers['latency_ratio']:.2f}x dense), "
                  f"sparsity {numbers['sparsity']:.1%}, {numbers['bits_per_weight']:.1f} bits a weight")
    if result.submission_time_s > budget:
        console.print(f"  [yellow]![/] over the workload's {budget:g}s budget: a scored trial would miss")


#: the workload ``podium check`` smoke-runs a submission on, per track: the track's quickest
SMOKE_WORKLOADS = {"training": "digits_mlp", "peft": "fashion_cnn_transfer", "compression": "fashion_cnn_compress"}


def _workload_names(workload: list[str] | None, suite: str | None, track: str = "training",
                    secret: str | None = None) -> tuple[tuple[str, ...], str | None]:
    """Workloads named one by one, or a track's suite: its base workloads plus the held-out variants of this
    release (drawn with the release ``secret`` when given)."""
    from harness.release import scored_workloads
    from harness.runner.run import BENCHMARK_RELEASE
    from workloads import WORKLOADS

    if bool(workload) == bool(suite):
        raise fail("give exactly one of --workload NAME (repeatable) or --suite NAME")
    if secret is not None and not suite:
        raise fail("--release-secret draws a suite's held-out variants: use it with --suite NAME")
    try:
        names = (scored_workloads(suite, BENCHMARK_RELEASE, secret, track=track) if suite else
                 tuple(WORKLOADS.get(w).name for w in workload or []))
    except UnknownNameError as exc:
        raise fail(str(exc)) from None
    return names, suite


def _load_secret(path: Path | None) -> str | None:
    """The release secret in ``path`` (None without one); exit 2 when it cannot be read."""
    from harness.release import ReleaseError, read_secret

    try:
        return read_secret(path) if path is not None else None
    except ReleaseError as exc:
        raise fail(str(exc)) from None


@app.command()
def run(
    path: Annotated[Path, typer.Argument(resolve_path=True, help="Submission folder.")],
    workload: Annotated[Optional[list[str]], typer.Option("--workload", "-w", help="Workload name (repeatable).")] = None,
    suite: Annotated[Optional[str], typer.Option(help="A suite of workloads, e.g. lite.")] = None,
    ruleset: Annotated[str, typer.Option(help="external (tune the search space) or self (no hyperparameters, "
                                               "3x budget).")] = "external",
    studies: Annotated[int, typer.Option(min=1, help="Independent studies; each draws its own sample.")] = 1,
    trials: Annotated[int, typer.Option(min=1, help="Hyperparameter points per study.")] = 1,
    tuning_seeds: Annotated[int, typer.Option(min=1, help="Tuning seeds per point (the selection uses these).")] = 1,
    scoring_seeds: Annotated[int, typer.Option(min=0, help="Held-out seeds on which the selected point is re-run.")] = 1,
    seed: Annotated[int, typer.Option(help="Base seed; every trial seed is derived from it by stable hashing.")] = 0,
    run_id: Annotated[Optional[str], typer.Option("--run-id", help="Name of the run (default: derived from "
                                                  "submission, ruleset, workloads, hardware).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Trials at a time (1 for publishable timings).")] = 1,
    threads: Annotated[int, typer.Option(min=1, help="Threads per trial (torch and BLAS).")] = 2,
    db: DbOption = DEFAULT_DB,
    hardware_class: HardwareOption = "cpu-2core",
    executor: Annotated[str, typer.Option(help="local (a process per trial), docker (a fresh sealed container per "
                                               "trial: no network, read-only inputs; see docker/README.md) or ray "
                                               "(each trial a task on a Ray cluster's node of the hardware class, "
                                               "under the same supervisor; see the README).")] = "local",
    address: Annotated[Optional[str], typer.Option(help="With --executor ray: the cluster's head, HOST:PORT "
                                                       "(default: the cluster running on this machine).")] = None,
    image: Annotated[Optional[str], typer.Option(help="Docker image for --executor docker (default: "
                                                     "podium-scoring:cpu, or the submission's own image when it "
                                                     "has a requirements.txt); with --executor ray, each trial runs "
                                                     "sealed in this image on its node.")] = None,
    attempts: Annotated[int, typer.Option(min=1, help="Attempts per trial: a trial whose cores something else took "
                                               "(contended) is re-run up to this many times in all; 1: never.")] = 3,
    build: Annotated[bool, typer.Option("--build", help="With --executor docker: first build the image (and the "
                                                        "submission's layer), or reuse it when its inputs are "
                                                        "unchanged, as `podium docker build` does.")] = False,
    release_secret: SecretOption = None,
) -> None:
    """Tune and score a submission: tuning trials, selection on tuning seeds, re-runs on held-out scoring seeds.

    Each trial runs in its own process (or container, with --executor docker); results are committed as they
    happen. The plan (every trial's seed and hyperparameters) is written first, to the database and to
    <db folder>/manifests/RUN_ID.json. Re-running the same command resumes the run; a changed plan, executor or
    image under the same --run-id is refused.
    """
    from harness.check import check_submission, format_report
    from harness.executors import ExecutorError, runner_for
    from harness.runner.run import PlanError, execute
    from harness.tracks import TrackError, submission_track
    from harness.ui import RichProgress, results_table, workload_times_table

    try:
        track = submission_track(path) if path.is_dir() else "training"
    except TrackError as exc:
        raise fail(str(exc)) from None
    names, label = _workload_names(workload, suite, track, _load_secret(release_secret))
    if ruleset not in ("external", "self"):
        raise fail(f"unknown --ruleset {ruleset!r}: use external or self")
    if executor not in ("local", "docker", "ray"):
        raise fail(f"unknown --executor {executor!r}: use local, docker or ray")
    if address is not None and executor != "ray":
        raise fail("--address is the Ray cluster's head: use it with --executor ray")
    config = RunConfig(submission_dir=path, workloads=names, label=label, run_id=run_id, ruleset=ruleset,
                       studies=studies, trials=trials, tuning_seeds=tuning_seeds, scoring_seeds=scoring_seeds,
                       seed=seed, db=db, hardware_class=hardware_class, threads=threads, workers=workers,
                       executor=executor, image=image, attempts=attempts, address=address)
    if build and executor != "docker":
        raise fail("--build builds the docker image: use it with --executor docker")
    try:
        if build:
            image = _build_image(base=None, make_base=False, submission=path if (path / "requirements.txt").exists()
                                 else None, tag=image, cuda=False, no_cache=False).name
        runner = runner_for(executor, image, path, address)  # first: no engine/image/cluster is said before anything
        if executor == "ray":
            capacity = runner.check_class(hardware_class)  # type: ignore[attr-defined]
            console.print(f"Each trial runs as a task on a Ray node of {hardware_class} ({capacity} at a time).",
                          highlight=False)
    except ExecutorError as exc:
        raise fail(str(exc)) from None
    report = check_submission(path, config.limits)  # imports the submission in a child, under a trial's limits
    if not report.ok:
        err.print(format_report(report), highlight=False)
        raise typer.Exit(2)
    if runner.executor == "docker":
        console.print(f"Each trial runs in a fresh sealed container from {runner.image.name} "  # type: ignore[attr-defined]
                      f"({runner.image_digest}).", highlight=False)
    try:
        with RichProgress(console) as progress:
            run_id, store = execute(config, progress, runner=runner)
    except (PlanError, ExecutorError) as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail("interrupted; finished trials are saved. Run the same command again to resume.", code=130) from None
    from harness.report import workload_details

    trials_of_run = store.trials(run_id)
    console.print(results_table(trials_of_run, title=f"Run {run_id}"))
    console.print(workload_times_table(store.workload_times(run_id),
                                       workload_details(trials_of_run, _metrics(trials_of_run))))
    console.print(f"Results in {db} (run {run_id}).")


@app.command()
def calibrate(
    workload: Annotated[str, typer.Option("--workload", "-w", help="Workload to calibrate.")],
    repeats: Annotated[int, typer.Option(min=2, help="Repetitions of the same configuration and seed.")] = 5,
    submission: Annotated[Path, typer.Option(resolve_path=True, help="Submission to repeat (a baseline by default).")] = Path(
        __file__).resolve().parent.parent / "submissions" / "training" / "adamw",
    seed: Annotated[int, typer.Option(help="The one seed every repetition uses.")] = 0,
    db: DbOption = DEFAULT_DB,
    hardware_class: HardwareOption = "cpu-2core",
    cotenant: Annotated[bool, typer.Option("--cotenant", help="Also repeat with a co-tenant load on the trial's "
                                                              "cores (one busy loop per core, stopped at the end).")] = False,
    target: Annotated[Optional[float], typer.Option(help="Time the runs to this validation level instead of the "
                                                         "workload's target (when this seed does not reach it).")] = None,
) -> None:
    """Measure the noise floor: re-run one configuration and seed R times; store the CV of wall and CPU
    time-to-result (idle, and with --cotenant under a co-tenant load)."""
    from harness.calibrate import calibrate as run_calibration
    from workloads import WORKLOADS

    try:
        WORKLOADS.get(workload)
    except UnknownNameError as exc:
        raise fail(str(exc)) from None
    console.print(f"Calibrating {workload} on {hardware_class}: {repeats} runs of {submission.name}, seed {seed}")
    try:
        row = run_calibration(workload, submission, repeats, db, hardware_class, seed, console, cotenant, target)
    except RuntimeError as exc:
        raise fail(str(exc), code=1) from None
    console.print(f"time-to-result {row['mean_s']:.3f}s +- {row['std_s']:.3f}s: coefficient of variation "
                  f"{row['cv'] * 100:.1f}% (stored in {db})")


@app.command()
def results(
    db: DbOption = DEFAULT_DB,
    run_id: Annotated[Optional[str], typer.Option("--run", help="Only this run.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    wide: Annotated[bool, typer.Option("--wide", help="Also CPU time to target, steps, submission and evaluation "
                                                      "seconds, the first update's seconds (a JAX step compiles "
                                                      "there), the test metric, target and (compression) the measured "
                                                      "bytes or latency ratio per trial.")] = False,
) -> None:
    """Show trials (status, reason, time-to-result, metrics), workload times under both protocols (with n, the
    interval or why there is none, and why a time is infinite), noise floor. JSON is strict: a miss is null."""
    from harness.report import strict_json, strict_json_fields, workload_details
    from harness.store import ResultsStore
    from harness.ui import accounting_table, noise_floor_table, results_table, workload_times_table

    if fmt not in ("table", "json"):
        raise fail(f"unknown --format {fmt!r}: use table or json")
    if not db.exists():
        raise fail(f"no results database at {db}; run `podium run ...` or `podium demo` first")
    store = ResultsStore(db)
    if run_id is not None:
        known_run(store, run_id, db)
    rows, times, noise = store.trials(run_id), store.workload_times(run_id), store.noise_floor()
    details = workload_details(rows, _metrics(rows))
    if fmt == "json":
        times = [{**w, **details.get((w["run_id"], w["workload"]), {})} for w in times]
        payload = {name: [strict_json_fields(r) for r in table]
                   for name, table in (("trials", rows), ("workload_times", times), ("noise_floor", noise))}
        sys.stdout.write(strict_json(payload, indent=1, default=str) + "\n")
        return
    console.print(results_table(rows, title=f"Trials in {db}", wide=wide))
    if wide:
        console.print(accounting_table(rows))
    else:
        console.print("(--wide adds per-trial CPU time, steps, the test metric, a compression trial's measured ratio "
                      "and the time accounting: start, load, init, submission, evaluation, overhead, tail, "
                      "contention)", highlight=False)
    if times:
        console.print(workload_times_table(times, details, wide=wide))
    if noise:
        console.print(noise_floor_table(noise))


def known_run(store: Any, run_id: str, db: Path) -> None:
    """Exit 2 with the closest run ids when ``run_id`` is not in the database."""
    import difflib

    ids = [r["run_id"] for r in store.runs()]
    if run_id not in ids:
        close = difflib.get_close_matches(run_id, ids, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else (
            f"; it has {len(ids)} run(s): `podium runs --db {db}` lists them" if ids else "; it has no runs yet")
        raise fail(f"no run {run_id!r} in {db}{hint}")


@app.command()
def runs(db: DbOption = DEFAULT_DB,
         fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table") -> None:
    """List the runs in a results database, oldest first: the run id (<submission>.<ruleset>.<label>.<hardware>,
    for `podium results --run`), track, when, and its trials reached/missed/failed; the release in the title (a
    column when runs differ). --format json gives every field."""
    from harness.report import strict_json
    from harness.store import ResultsStore
    from harness.ui import runs_table

    if fmt not in ("table", "json"):
        raise fail(f"unknown --format {fmt!r}: use table or json")
    if not db.exists():
        raise fail(f"no results database at {db}; run `podium run ...` or `podium demo` first")
    summaries = ResultsStore(db).run_summaries()
    if fmt == "json":
        sys.stdout.write(strict_json(summaries, indent=1, default=str) + "\n")
        return
    console.print(runs_table(summaries, title=f"Runs in {db}"))


@app.command()
def score(
    db: DbOption = DEFAULT_DB,
    fmt: Annotated[str, typer.Option("--format", help="table, json or csv (to stdout).")] = "table",
    out: Annotated[Optional[Path], typer.Option(resolve_path=True, help="Also write scores.csv, scores.json and the profile "
                                                      "figures (PNG, SVG) into this folder.")] = None,
    r_max: Annotated[float, typer.Option("--r-max", min=1.0, help="Ratios above this count as misses.")] = 4.0,
    bootstrap: Annotated[int, typer.Option(min=10, help="Bootstrap replicates for the intervals.")] = 1000,
) -> None:
    """Score every pool (track / ruleset / hardware class / release): performance profiles, benchmark score with a
    95% interval, best rank (``rank_bound`` in JSON and CSV), speedup against the reference baseline, per-workload
    ratios. Every score and time carries n (studies x scoring seeds); below the minimum n no interval or best rank is
    given, only why. In the table an infinite ratio reads miss, variant miss or > r_max, its cause in a note; JSON is
    strict: a miss is null, with its cause in ``why:<workload>`` (the same words)."""
    import io

    from harness.report import build_pools, score_pool, score_records, strict_json
    from harness.store import ResultsStore
    from harness.ui import score_table

    if fmt not in ("table", "json", "csv"):
        raise fail(f"unknown --format {fmt!r}: use table, json or csv")
    if not db.exists():
        raise fail(f"no results database at {db}; run `podium run ...` or `podium demo` first")
    trials = ResultsStore(db).trials()
    pools = build_pools(trials, variant_bases(), _metrics(trials))
    if not pools:
        raise fail(f"{db} has no finished trials to score")
    scored = [(pool, score_pool(pool, r_max=r_max, n_boot=bootstrap)) for pool in pools]
    records = [rec for pool, rows in scored for rec in score_records(pool, rows)]
    if out is not None:
        from harness.figures import render_profiles

        out.mkdir(parents=True, exist_ok=True)
        (out / "scores.json").write_text(strict_json(records, indent=1) + "\n")
        with open(out / "scores.csv", "w", newline="") as fh:
            _write_csv(fh, records)
        figures = [path for pool, rows in scored for path in render_profiles(pool, rows, out, r_max)]
        err.print(f"wrote {out / 'scores.csv'}, {out / 'scores.json'} and {len(figures)} figures")
    if fmt == "json":
        sys.stdout.write(strict_json(records, indent=1) + "\n")
    elif fmt == "csv":
        buffer = io.StringIO()
        _write_csv(buffer, records)
        sys.stdout.write(buffer.getvalue())
    else:
        for pool, rows in scored:
            console.print(score_table(pool, rows))


@app.command()
def publish(
    release: Annotated[Optional[str], typer.Option(help="Benchmark release to publish (default: the current one).")] = None,
    db: DbOption = DEFAULT_DB,
    out: Annotated[Optional[Path], typer.Option(resolve_path=True, help="Folder for release bundles; the bundle is "
                                                "OUT/RELEASE (default: the bundles folder beside --db).")] = None,
    verify_dir: Annotated[Optional[Path], typer.Option("--verify", resolve_path=True, help="Verify this bundle instead of writing "
                                                                      "one: re-hash every table, re-score.")] = None,
    allow_contended: Annotated[bool, typer.Option("--allow-contended", help="Publish even if some trials were "
                                                  "contended (their cores were taken by something else).")] = False,
    release_secret: Annotated[Optional[Path], typer.Option(
        "--release-secret", resolve_path=True, metavar="FILE", help="Reveal the release's secret in the manifest "
        "(with its commitment and the drawn variants); refused unless the runs scored the variants it draws.")] = None,
    release_plan: Annotated[Optional[Path], typer.Option(
        "--release-plan", resolve_path=True, metavar="PLAN", help="The release plan published before submissions "
        "closed (`podium release commit` wrote it): its commitment and candidate variants must be the bundle's. "
        "Default when publishing with --release-secret: <db folder>/manifests/release-plan-RELEASE.json, if "
        "there.")] = None,
) -> None:
    """Write a versioned release bundle (Parquet tables + manifest with hashes), or verify one with --verify.
    Pools whose score intervals are degenerate (too few runs, or zero width) are warned about on stderr and in
    the manifest's ``warnings``. With --release-secret the manifest reveals the secret that drew the held-out
    variants; --verify then checks it against its commitment (and --release-plan) and re-draws the variants.
    Without one, publishing and verifying warn that the variants were predictable."""
    from harness.publish import BundleError, bundle_warnings, publish as write_bundle
    from harness.release import ReleaseError, default_plan_path, read_plan
    from harness.runner.run import BENCHMARK_RELEASE

    release = release or BENCHMARK_RELEASE
    try:
        if release_plan is None and release_secret is not None and verify_dir is None:
            found = default_plan_path(db, release)
            release_plan = found if found.exists() else None
        plan = read_plan(release_plan) if release_plan is not None else None
    except ReleaseError as exc:
        raise fail(str(exc)) from None
    if verify_dir is not None:
        _verify_bundle(verify_dir, plan)
        return
    if not db.exists():
        raise fail(f"no results database at {db}; run `podium run ...` or `podium demo` first")
    try:
        bundle = write_bundle(db, out or db.parent / "bundles", release, variant_bases(),
                              allow_contended=allow_contended, secret=_load_secret(release_secret), plan=plan)
    except BundleError as exc:
        raise fail(str(exc)) from None
    for warning in bundle_warnings(bundle) + _draw_warnings(bundle):
        err.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    console.print(f"[green]✓[/] release bundle written to {bundle}")


def _draw_warnings(bundle: Path) -> list[str]:
    from harness.publish import bundle_draw_warnings

    return [f"{w} (`podium release commit` before submissions close, then `--release-secret`)"
            for w in bundle_draw_warnings(bundle)]


def _verify_bundle(bundle: Path, plan: "ReleasePlan | None") -> None:
    """``podium publish --verify``: exit 1 listing every problem; warn when its variants were predictable."""
    from harness.publish import verify

    problems = verify(bundle, variant_bases(), plan)
    if problems:
        err.print("\n".join(f"[red]✗[/] {p}" for p in problems), highlight=False)
        raise typer.Exit(1)
    for warning in _draw_warnings(bundle):
        err.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    console.print(f"[green]✓[/] {bundle}: every table matches its hash and the scores follow from the trials")
    draw = json.loads((bundle / "manifest.json").read_text())["scoring"].get("variant_draw") or {}
    if draw.get("secret") is not None:
        console.print(f"[green]✓[/] the revealed secret matches its commitment {draw['commitment']} and draws "
                      "exactly the scored variants" + ("; the commitment is the release plan's" if plan else
                      "; compare the commitment with the release plan published before submissions closed "
                      "(--release-plan PLAN does)"), highlight=False, soft_wrap=True)


def _metrics(trials: list[dict]) -> dict[str, tuple[str, bool]]:
    """``workload -> (metric, higher_is_better)`` of the trials' workloads, to name what a missed run reached."""
    from harness.publish import workload_specs
    from harness.report import metrics_from_specs

    return metrics_from_specs(workload_specs(sorted({t["workload"] for t in trials})))


def _write_csv(fh, records: list[dict]) -> None:
    import csv

    columns = list(dict.fromkeys(k for r in records for k in r))
    writer = csv.DictWriter(fh, fieldnames=columns)
    writer.writeheader()
    writer.writerows(records)


@app.command()
def demo(
    db: DbOption = DEFAULT_DB,
    track: Annotated[Optional[str], typer.Option(help="Only this track, with every one of its baselines on its "
                                                      "whole lite suite: training or peft. Default (15 minutes on "
                                                      "2 cores): adamw and nadamw on the training lite suite, lora "
                                                      "and full_finetune on fashion_cnn_transfer; it prints what it "
                                                      "leaves out.")] = None,
    baseline: Annotated[Optional[list[str]], typer.Option(metavar="NAME", help="With --track: only this baseline (repeat for "
                                                               "more), e.g. --track peft --baseline lora.")] = None,
    scoring_seeds: Annotated[int, typer.Option(min=1, help="Held-out scoring seeds per workload; below 3 no "
                                                           "interval is shown, and the demo is quicker.")] = 3,
    release_secret: SecretOption = None,
) -> None:
    """The main job: reference baselines on each track's lite suite and its held-out variants (3 scoring seeds
    each), then scoring and a release bundle. Without --track, the baselines and workloads that fit 15 minutes on 2
    cores (it prints what it leaves out). Exits 1 when any baseline trial failed (a miss is a result; a failure is a
    bug), 2 when there is nothing to run as asked."""
    import time

    from harness.demo import DemoError, demo_plan, run_demo
    from workloads import TRACKS

    if track is not None and track not in TRACKS:
        raise fail(f"unknown --track {track!r}: use one of {', '.join(TRACKS)}")
    only = tuple(baseline) if baseline else None
    secret = _load_secret(release_secret)
    try:
        demo_plan(track, only, secret)
    except DemoError as exc:
        raise fail(str(exc)) from None
    started = time.monotonic()
    try:
        run_demo(db, console, track=track, scoring_seeds=scoring_seeds, only=only, secret=secret)
    except DemoError as exc:
        raise fail(str(exc), code=1) from None
    console.print(f"Demo finished in {(time.monotonic() - started) / 60:.1f} minutes.")


@app.command("port-algoperf")
def port_algoperf(
    source: Annotated[Path, typer.Argument(resolve_path=True,
                                           help="An AlgoPerf submission (PyTorch or JAX): its submission.py, its "
                                                "folder, or an AlgoPerf method folder with pytorch/ and jax/.")],
    dest: Annotated[Path, typer.Argument(resolve_path=True, help="Folder to write the Podium submission into.")],
    framework: Annotated[Optional[str], typer.Option(
        help="Of a method folder with pytorch/ and jax/: which to port (default pytorch).")] = None,
) -> None:
    """Port an AlgoPerf submission, PyTorch or JAX, with the modules and files of its folder: rewrite imports
    (AlgoPerf's API, paths through the AlgoPerf repositories) and extend get_batch_size to Podium's workloads. A
    JAX submission trains the workloads' Flax twins (`podium workloads` lists each workload's frameworks)."""
    from harness.algoperf.port import PortError, port_algoperf as port

    try:
        port(source, dest, framework=framework)
    except (PortError, OSError) as exc:
        raise fail(str(exc)) from None
    console.print(f"[green]✓[/] wrote {dest}; check it with `podium check {dest}`")


@app.command()
def agreement(
    lite: Annotated[Path, typer.Argument(help="Score records of the lite suite: `podium score --format json` "
                                              "output, or scores.json / scores.csv from `podium score --out`.")],
    full: Annotated[Path, typer.Argument(help="Score records of the full suite, the same way.")],
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Does the lite suite rank submissions as the full suite does? Per pool (track, ruleset): Kendall's tau-b
    between the two suites' benchmark scores of the submissions scored in both, its p-value, and who is in only
    one; the lite suite's design goal is tau >= 0.9 (see harness/agreement.py for the procedure)."""
    from harness.agreement import GOAL_TAU, AgreementError, compare, read_scores, report

    if fmt not in ("table", "json"):
        raise fail(f"unknown --format {fmt!r}: use table or json")
    try:
        rows = compare(read_scores(lite), read_scores(full))
    except AgreementError as exc:
        raise fail(str(exc)) from None
    if fmt == "json":
        sys.stdout.write(json.dumps(report(rows), indent=1) + "\n")
        return
    from rich.table import Table

    table = Table(title=f"Lite against full: Kendall's tau-b (goal >= {GOAL_TAU})")
    for column in ("track", "ruleset", "common", "tau", "p", "lite order (best first)", "full order", "note"):
        table.add_column(column, overflow="fold")
    for r in rows:
        only = "; ".join(x for x in (f"only lite: {', '.join(r.only_lite)}" if r.only_lite else "",
                                     f"only full: {', '.join(r.only_full)}" if r.only_full else "") if x)
        table.add_row(r.track, r.ruleset, str(len(r.common)), "-" if r.tau is None else f"{r.tau:.3f}",
                      "-" if r.p_value is None else f"{r.p_value:.3g}", ", ".join(r.lite_order),
                      ", ".join(r.full_order), "; ".join(x for x in (r.note, only) if x))
    console.print(table)


@app.command()
def parity(
    workload: Annotated[Optional[list[str]], typer.Option("--workload", "-w", help="Workload (repeatable); default "
                                                          "every workload offered in PyTorch and JAX.")] = None,
    baseline: Annotated[str, typer.Option("--baseline", "-b", help="The baseline pair to run: NAME and NAME_jax "
                                                                   "under submissions/training/.")] = "nadamw",
    seeds: Annotated[int, typer.Option(min=1, help="Step-capped runs per framework (the same seeds for both).")] = 3,
    hardware_class: HardwareOption = "cpu-2core",
    fresh: Annotated[bool, typer.Option("--fresh", help="Re-run every run, ignoring those an interrupted run kept "
                                                        "in ~/.cache/podium/target-curves.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="table, json or markdown.")] = "table",
    out: Annotated[Optional[Path], typer.Option("--out", resolve_path=True, metavar="FILE",
                                                help="Also write the report as JSON to FILE.")] = None,
) -> None:
    """Framework parity: a baseline and its JAX twin on each workload, side by side: initial loss (must agree within
    3%), runs that reached the target, steps and submission seconds to it, the first update's seconds (JAX compiles
    there) and the seconds per update after it. Runs are kept: an interrupted run resumes (see harness/parity.py)."""
    from harness.parity import ParityError, markdown, measure, parity_workloads, rows_for_display
    from harness.report import strict_json

    if fmt not in ("table", "json", "markdown"):
        raise fail(f"unknown --format {fmt!r}: use table, json or markdown")
    try:
        specs = parity_workloads(workload)
        report = measure(specs, baseline, seeds, hardware_class, fresh, console if fmt == "table" else None)
    except ParityError as exc:
        raise fail(str(exc)) from None
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(strict_json(report, indent=1) + "\n")
    if fmt == "json":
        sys.stdout.write(strict_json(report, indent=1) + "\n")
    elif fmt == "markdown":
        sys.stdout.write(markdown(report))
    else:
        from harness.ui import parity_table

        rows = rows_for_display(report)
        console.print(parity_table(rows, title=f"Framework parity on {hardware_class} ({report['baseline']} and "
                                              f"{report['baseline']}_jax, {seeds} run(s) each)"))
        disagree = [w["workload"] for w in report["workloads"] if not w["initial_loss_agrees"]]
        if disagree:
            console.print(f"[red]initial losses differ by more than "
                          f"{report['initial_loss']['tolerance']:.0%}[/] on {', '.join(disagree)}", highlight=False)
    if any(not w["initial_loss_agrees"] for w in report["workloads"]):
        raise typer.Exit(1)


@release_app.command("commit")
def release_commit(
    release: Annotated[Optional[str], typer.Argument(
        metavar="RELEASE", help="The release to commit (default: the current one, which `podium run` and `podium "
        "publish` use).")] = None,
    secret: Annotated[Optional[Path], typer.Option(
        "--secret", resolve_path=True, metavar="FILE", help="Where to keep the secret, mode 0600 (default: "
        "$PODIUM_CONFIG_DIR/releases/RELEASE.secret, ~/.config/podium/releases/ when unset). Keep it private "
        "until publishing.")] = None,
    plan: Annotated[Optional[Path], typer.Option(
        "--plan", resolve_path=True, metavar="PLAN", help="Where to write the release plan to publish (default: "
        "<db folder>/manifests/release-plan-RELEASE.json).")] = None,
    db: DbOption = DEFAULT_DB,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing secret (its commitment, if already "
                                                        "published, no longer holds).")] = False,
) -> None:
    """Make a random 32-byte release secret and write the release plan with its commitment sha256(RELEASE:secret)
    and the candidate held-out variants. Publish the plan before submissions close; keep the secret. Runs draw
    the variants with it (`podium run --suite lite --release-secret FILE`), `podium publish --release-secret FILE`
    reveals it, and anyone checks the reveal with `podium publish --verify BUNDLE --release-plan PLAN`."""
    from harness.release import ReleaseError, commit_release, default_plan_path, default_secret_path
    from harness.runner.run import BENCHMARK_RELEASE

    release = release or BENCHMARK_RELEASE
    try:
        secret_path = secret or default_secret_path(release)
        plan_path = plan or default_plan_path(db, release)
        written = commit_release(release, secret_path, plan_path, variant_bases(), force=force)
    except (ReleaseError, OSError) as exc:
        raise fail(str(exc)) from None
    console.print(f"[green]✓[/] release {release}: secret in {secret_path} (mode 0600, keep it private until "
                  f"publishing); plan in {plan_path} (publish it now)", highlight=False, soft_wrap=True)
    console.print(f"commitment {written.commitment}", highlight=False, soft_wrap=True)


@targets_app.command("show")
def targets_show(
    hardware_class: HardwareOption = "cpu-2core",
    raw: Annotated[bool, typer.Option("--json", help="Print targets.json with the whole provenance instead.")] = False,
) -> None:
    """The stored targets and budgets, with each baseline's success rate, seeds, date and machine load."""
    from harness.targets import targets_rows
    from workloads import TARGETS_FILE

    if raw:
        sys.stdout.write(TARGETS_FILE.read_text())
        return
    from harness.ui import targets_table

    rows = targets_rows(json.loads(TARGETS_FILE.read_text()), hardware_class)
    if not rows:
        raise fail(f"no stored targets for hardware class {hardware_class!r} in {TARGETS_FILE.name}; set them with "
                   f"`podium targets set --hardware-class {hardware_class}`", code=2)
    console.print(targets_table(rows, hardware_class, TARGETS_FILE.name))


@targets_app.command("set")
def targets_set(
    workload: Annotated[Optional[list[str]], typer.Option("--workload", "-w", help="Workload (repeatable); default all.")] = None,
    seeds: Annotated[int, typer.Option(min=1, help="Seeds per baseline (at least 10 unless --force).")] = 10,
    hardware_class: HardwareOption = "cpu-2core",
    write: Annotated[bool, typer.Option(help="Write workloads/targets.json (otherwise only print).")] = True,
    force: Annotated[bool, typer.Option("--force", help="Run on a busy machine or with fewer seeds (recorded in "
                                                        "the provenance).")] = False,
    budgets_only: Annotated[bool, typer.Option("--budgets-only", help="Keep the stored targets; re-measure the time "
                                               "per update and re-derive budgets and success rates.")] = False,
    workers: Annotated[int, typer.Option(min=1, help="Curve runs at a time (one thread each; curves are counted in "
                                                     "updates, so this does not change them).")] = 1,
    baseline: Annotated[Optional[list[str]], typer.Option("--baseline", "-b", help="Only this reference baseline "
                                                          "(repeatable; default: every baseline of the workload's "
                                                          "track). Recorded in the provenance.")] = None,
    rates_only: Annotated[bool, typer.Option("--rates-only", help="Keep the stored targets and budgets; run the "
                                             "--baseline curves and record each one's success rate at them.")] = False,
    fresh: Annotated[bool, typer.Option("--fresh", help="Re-run every curve, ignoring those an interrupted run kept "
                                                        "in ~/.cache/podium/target-curves.")] = False,
    point: Annotated[Optional[list[str]], typer.Option("--point", help="BASELINE=N: run the baseline's N-th search-"
                                                       "space point (1-based) instead of its first, where the first "
                                                       "does not suit the workload (repeatable; recorded in the "
                                                       "provenance).")] = None,
) -> None:
    """Re-run the documented target-setting procedure on the reference baselines (see harness/targets.py):
    step-capped curves, the level 90% of the best baseline's seeds sustain, budget = 3 x its time to that level.
    Interrupted, it resumes: finished curves are kept and reused by the same command (--fresh to re-run them)."""
    from harness.targets import TargetSettingError, measure_rates, rebudget, set_targets

    try:
        for name in workload or []:
            get_spec(name)
        points = {}
        for item in point or []:
            name, _, index = item.partition("=")
            if not name or not index.isdigit() or int(index) < 1:
                raise TargetSettingError(f"--point {item!r}: expected BASELINE=N with N >= 1, e.g. full_finetune=2")
            points[name] = int(index)
        if budgets_only and rates_only:
            raise TargetSettingError("--budgets-only and --rates-only: choose one")
        if rates_only:
            if not workload or not baseline:
                raise TargetSettingError("--rates-only needs the workloads (--workload) and the baselines "
                                         "(--baseline) whose success rates to measure at the stored targets")
            measure_rates(workload, seeds, hardware_class, write, console, tuple(baseline), force=force,
                          workers=workers, fresh=fresh, points=points)
        elif budgets_only:
            rebudget(workload or None, hardware_class, write, console, force=force)
        else:
            set_targets(workload or None, seeds, hardware_class, write, console, force=force, workers=workers,
                        only=tuple(baseline) if baseline else None, fresh=fresh, points=points)
    except (TargetSettingError, UnknownNameError) as exc:
        raise fail(str(exc)) from None


@docker_app.command("build")
def docker_build(
    base: Annotated[Optional[str], typer.Option(help="Base image with Python 3.11 (default: python:3.11-slim-bookworm; "
                                                    "a local Debian base is made when it cannot be pulled).")] = None,
    make_base: Annotated[bool, typer.Option("--make-base", help="Build on a local Debian bookworm base made with "
                                                                "debootstrap (made once, then reused).")] = False,
    submission: Annotated[Optional[Path], typer.Option(resolve_path=True, help="Also build this submission's own image: its "
                                                            "requirements.txt layered on the scoring image.")] = None,
    tag: Annotated[Optional[str], typer.Option(help="Tag for the image (default: podium-scoring:cpu, or "
                                                   "podium-submission:NAME-HASH with --submission).")] = None,
    cuda: Annotated[bool, typer.Option("--cuda", help="The CUDA variant (docker/Dockerfile.cuda); GPU machines "
                                                     "only.")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Rebuild every layer, even when the inputs are "
                                                              "unchanged.")] = False,
) -> None:
    """Build the sealed scoring image from a local wheelhouse (the network is used only now), and print its ID."""
    from harness.executors import ExecutorError

    try:
        image = _build_image(base, make_base, submission, tag, cuda, no_cache)
    except ExecutorError as exc:
        raise fail(str(exc)) from None
    console.print(f"  run trials in it: podium run SUBMISSION --executor docker --image {image.name}", highlight=False,
                  soft_wrap=True)


def _build_image(base: str | None, make_base: bool, submission: Path | None, tag: str | None, cuda: bool,
                 no_cache: bool) -> "ImageInfo":
    """Build (or reuse) an image, printing the steps and the result; raises ExecutorError."""
    from harness.executors.images import BuildConfig, build

    config = BuildConfig(base=base, make_base=make_base, tag=tag, submission=submission, cuda=cuda, no_cache=no_cache)
    result = build(config, say=lambda line: console.print(line, highlight=False, markup=False, soft_wrap=True))
    image = result.image
    how = f"built in {result.seconds:.0f}s" if result.built else "up to date"
    console.print(f"[green]✓[/] {image.name}  {image.id}  ({image.size_bytes / 1e9:.2f} GB, {how})", highlight=False,
                  soft_wrap=True)
    return image


@app.command()
def board(
    bundle: Annotated[Optional[list[Path]], typer.Option(
        "--bundle", resolve_path=True, help="A release bundle folder (repeatable); default: podium-results/bundles/<current release>.")] = None,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to serve on (127.0.0.1 only).")] = 8501,
    headless: Annotated[bool, typer.Option("--headless", help="Do not open a browser.")] = False,
) -> None:
    """Serve the Streamlit leaderboard over release bundles, on 127.0.0.1 only; prints the URL."""
    try:
        import leaderboard  # noqa: F401
    except ModuleNotFoundError:  # an editable install made before leaderboard/ existed does not map it
        from harness.provenance import REPO_ROOT

        sys.path.insert(0, str(REPO_ROOT))
    from leaderboard.bundle import default_bundle_dir
    from leaderboard.serve import BoardConfig, BoardError, serve

    config = BoardConfig(tuple(bundle or [default_bundle_dir().resolve()]), port, headless)
    try:
        code = serve(config, announce=lambda url: console.print(f"Podium leaderboard at [bold]{url}[/] "
                                                                f"(Ctrl-C stops it)", highlight=False))
    except BoardError as exc:
        raise fail(str(exc)) from None
    raise typer.Exit(code)


def main() -> None:
    """The ``podium`` command. A dataset this machine lacks, or one the evaluation server cannot build a workload from,
    is the machine's problem, not a bug of the command that met it: one message saying what is missing and how to get
    it, exit 2 (what ran before it is stored)."""
    from harness.runner.evaluator import EvaluationServerError
    from workloads.common.data import ChecksumMismatchError, DatasetMissingError

    try:
        app()
    except (DatasetMissingError, ChecksumMismatchError, EvaluationServerError) as exc:
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/] {exc}", highlight=False)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
