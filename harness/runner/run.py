"""A benchmark run: plan every trial, write the manifest, run the tuning trials, select, run the scoring trials.

Resume: the run id names the plan. Running the same command again continues the run: finished trials are kept,
an interrupted one restarts from scratch. A different plan under an existing run id is refused, and so is a
different environment: every trial of a run comes from one executor (and, for docker, one image).

Parallelism: ``workers`` trials at a time, each in its own process with ``threads`` threads, pinned to its own
cores when the machine has enough (recorded with each trial). One worker (the default) is the setting for
published numbers: parallel trials share memory bandwidth and caches, which slows each of them by an amount that
depends on what the neighbours do. Parallel runs are fine for exploration and for tuning on a machine with many
more cores than ``workers x threads``; the noise floor (``podium calibrate``) tells how much the timing moves.

Contention: a trial whose cores were taken by something else (see :mod:`harness.runner.contention`) is re-run, up
to ``attempts`` times in all; every attempt is recorded in the trial row (``attempts_json``), and the row holds the
first uncontended attempt, or the last one (still flagged ``contended``) when none was.
"""

from __future__ import annotations

import difflib
import json
import os
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

import harness
from harness.executors import TrialRunner, runner_for
from harness.provenance import git_commit, hash_tree
from harness.runner.made import ensure_made
from harness.runner.messages import EvalRecord, TrialLimits, TrialRequest
from harness.runner.supervisor import TrialOutcome
from harness.store import ResultsStore
from harness.tracks import WHAT, TrackError, submission_track
from harness.tracks.training import FrameworkError, framework_of, submission_framework
from harness.tuning.plan import PlanEntry, Ruleset, RunPlan, plan_entries
from harness.tuning.protocol import INF, TrialOutcomeRow, select_configuration, summarize
from harness.tuning.search_space import SearchSpace, load_search_space
from workloads import get_spec
from workloads.spec import DEFAULT_HARDWARE_CLASS

#: The benchmark release: seeds, targets and budgets are only comparable within one release.
BENCHMARK_RELEASE = "2026.11-dev"
DEFAULT_DB = Path("podium-results/results.db")


class PlanError(ValueError):
    """The run cannot be planned or resumed as asked; the message says why and what to do."""


class RunConfig(BaseModel):
    """Options of ``podium run``, parsed from the CLI into one object."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    submission_dir: Path
    workloads: tuple[str, ...]
    label: str | None = None  # the suite name, used in the default run id
    run_id: str | None = None
    ruleset: Ruleset = "external"
    studies: int = Field(1, ge=1)
    trials: int = Field(1, ge=1)
    tuning_seeds: int = Field(1, ge=1)
    scoring_seeds: int = Field(1, ge=0)
    seed: int = 0
    db: Path = DEFAULT_DB
    hardware_class: str = DEFAULT_HARDWARE_CLASS
    threads: int = Field(2, ge=1)
    workers: int = Field(1, ge=1)
    release: str = BENCHMARK_RELEASE
    limits: TrialLimits = Field(default_factory=TrialLimits)
    #: ``local``: each trial in a process here; ``docker``: each trial in a fresh sealed container from ``image``
    #: (default: the scoring image, or the submission's own layer on it when it has a requirements.txt).
    executor: Literal["local", "docker", "ray"] = "local"
    image: str | None = None
    #: ``ray``: the cluster's head (``HOST:PORT``); None joins the cluster running on this machine
    address: str | None = None
    #: attempts per trial in all: a contended trial is re-run until one attempt is not contended (1: never re-run).
    attempts: int = Field(3, ge=1)

    @field_validator("submission_dir", "db")
    @classmethod
    def _absolute(cls, path: Path) -> Path:
        """Paths are made absolute once, here: trial workers start in another working directory."""
        return Path(os.path.abspath(path.expanduser()))

    @property
    def workdir(self) -> Path:
        return self.db.parent / "trials"

    def default_run_id(self) -> str:
        label = self.label or "+".join(self.workloads)
        return f"{self.submission_dir.resolve().name}.{self.ruleset}.{label}.{self.hardware_class}"


def search_space_of(folder: Path) -> SearchSpace:
    path = folder / "search_space.json"
    return load_search_space(path) if path.exists() else SearchSpace.empty()


def first_point(folder: Path) -> dict[str, Any]:
    """A submission's first hyperparameter point: its first fixed point, the first quasi-random point of its space
    (sample seed 0), or ``{}`` when it has no search space. What smoke runs, calibration and target setting use."""
    space = search_space_of(folder)
    return {} if space.is_empty else space.sample(1, 0)[0]


def run_track(config: RunConfig) -> str:
    """The track of a run: its workloads' track, which must be the submission folder's own (see
    :func:`harness.tracks.submission_track`)."""
    tracks = {get_spec(w).track: w for w in config.workloads}
    if len(tracks) > 1:
        raise PlanError("one run covers one track; these workloads belong to several: "
                        + ", ".join(f"{w} ({t})" for t, w in sorted(tracks.items())))
    track = next(iter(tracks), "training")
    folder = config.submission_dir.resolve()
    try:
        own = submission_track(folder)
    except TrackError as error:
        raise PlanError(str(error)) from None
    if own != track:
        raise PlanError(f"{folder} is {WHAT.get(own, own)}, but {', '.join(config.workloads)} "
                        f"{'is a' if len(config.workloads) == 1 else 'are'} {track}-track workload"
                        f"{'' if len(config.workloads) == 1 else 's'}; pick workloads of the {own} track "
                        f"(`podium workloads --track {own}`)")
    try:
        framework = framework_of(folder) if track == "training" else "pytorch"
    except FrameworkError as error:
        raise PlanError(str(error)) from None
    missing = [w for w in config.workloads if framework not in get_spec(w).frameworks]
    if missing:
        raise PlanError(f"{folder} is written in {framework}, which {', '.join(missing)} "
                        f"{'is' if len(missing) == 1 else 'are'} not offered in (`podium workloads` shows each "
                        "workload's frameworks)")
    return track


def make_plan(config: RunConfig) -> RunPlan:
    """The full plan, derived only from the config and the submission folder."""
    folder = config.submission_dir.resolve()
    run_track(config)
    space = search_space_of(folder)
    if config.ruleset == "self" and not space.is_empty:
        raise PlanError(f"{folder / 'search_space.json'}: the self-tuning ruleset takes no search space (the "
                        "submission must tune itself); remove the file or use --ruleset external")
    header = RunPlan(run_id=config.run_id or config.default_run_id(), release=config.release,
                     submission=folder.name, submission_hash=hash_tree(folder), ruleset=config.ruleset,
                     hardware_class=config.hardware_class, workloads=config.workloads, studies=config.studies,
                     trials=1 if config.ruleset == "self" else config.trials, tuning_seeds=config.tuning_seeds,
                     scoring_seeds=config.scoring_seeds or (1 if config.ruleset == "self" else 0),
                     base_seed=config.seed)
    budgets = {w: get_spec(w).budget_for(config.hardware_class) for w in config.workloads}
    return header.model_copy(update={"entries": plan_entries(header, space, budgets)})


def plan_difference(old: str, new: str) -> str:
    """The first lines that differ between two manifests, for the refusal message."""
    diff = [line for line in difflib.unified_diff(old.splitlines(), new.splitlines(), "planned", "now", n=0, lineterm="")
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    return "; ".join(d.strip() for d in diff[:4]) + (" ..." if len(diff) > 4 else "")


def register(store: ResultsStore, config: RunConfig, plan: RunPlan) -> Path:
    """Record the run and its manifest (database + JSON file); refuse a changed plan under the same run id."""
    existing = store.manifest(plan.run_id)
    if existing is not None and existing[0] != plan.digest():
        raise PlanError(f"run {plan.run_id!r} already exists with a different plan ({plan_difference(existing[1], plan.to_json())}). "
                        "Resuming it would mix two plans: pass --run-id NEW_NAME to start a separate run.")
    folder = config.submission_dir.resolve()
    store.add_run(dict(run_id=plan.run_id, track=run_track(config), submission_name=folder.name, submission_dir=str(folder),
                       submission_hash=plan.submission_hash, ruleset=plan.ruleset, hardware_class=plan.hardware_class,
                       release=plan.release, harness_version=harness.__version__, git_commit=git_commit(),
                       config_json=config.model_dump(mode="json")))
    store.save_manifest(plan.run_id, plan.digest(), plan.to_json())
    path = manifest_path(config.db, plan.run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(plan.to_json())
    return path


def manifest_path(db: Path, run_id: str) -> Path:
    return db.parent / "manifests" / f"{run_id}.json"


class RunProgress:
    """Hooks for displays; the default does nothing. Called from worker threads when ``workers > 1``."""

    def run_started(self, plan: RunPlan, skipped: int) -> None: ...
    def phase_started(self, role: str, entries: list[PlanEntry]) -> None: ...
    def trial_started(self, entry: PlanEntry) -> None: ...
    def trial_polled(self, entry: PlanEntry, submission_s: float, step: int) -> None: ...
    def trial_evaluated(self, entry: PlanEntry, record: EvalRecord) -> None: ...
    def trial_finished(self, entry: PlanEntry, outcome: TrialOutcome | None, reason: str = "") -> None: ...
    def trial_retried(self, entry: PlanEntry, outcome: TrialOutcome, attempt: int) -> None: ...
    def note(self, text: str) -> None: ...


def _trial_row(run_id: str, entry: PlanEntry, hardware_class: str, affinity: list[int] | None,
               runner: TrialRunner) -> dict[str, Any]:
    spec = get_spec(entry.workload)
    target = spec.targets[hardware_class].validation if hardware_class in spec.targets else None
    return dict(trial_id=entry.trial_id, run_id=run_id, workload=entry.workload, workload_spec_hash=spec.spec_hash(),
                data_revision=spec.data_revision, study=entry.study, trial_index=entry.point, role=entry.role,
                seed=entry.seed, seed_index=entry.seed_index, hyperparameters_json=entry.hyperparameters or {},
                budget_s=entry.budget_s, validation_target=target,
                cpu_affinity=json.dumps(affinity) if affinity is not None else None,
                executor=runner.executor, image_digest=runner.image_digest)


def _outcome_fields(outcome: TrialOutcome) -> dict[str, Any]:
    fields: dict[str, Any] = dict(status=outcome.status, reason=outcome.reason, wall_time_s=outcome.wall_s,
                                  peak_rss_bytes=outcome.peak_rss_bytes, log_path=str(outcome.log_path))
    result = outcome.result
    if result is not None:
        fields.update(steps=result.steps, submission_time_s=result.submission_time_s, eval_time_s=result.eval_time_s,
                      init_time_s=result.init_time_s, startup_time_s=result.startup_time_s,
                      overhead_time_s=result.overhead_time_s, batch_size=result.batch_size,
                      validation_json=result.validation, test_json=result.test,
                      test_target_met=result.test_target_met,
                      measurements_json=result.measurements or None)
    where = {"executor": outcome.executor, **({"image_digest": outcome.image_digest} if outcome.image_digest else {}),
             **outcome.placement, "evidence": evidence(outcome)}
    fields["provenance_json"] = {**(result.provenance if result is not None else {}), **where}
    fields["time_to_result_s"] = result.time_to_result_s if result and outcome.status == "reached" else None
    fields["cpu_time_to_result_s"] = result.cpu_time_to_result_s if result and outcome.status == "reached" else None
    fields.update(spawn_time_s=outcome.spawn_s, tail_time_s=outcome.tail_s,
                  cpu_submission_time_s=result.cpu_submission_time_s if result is not None else None)
    if outcome.contention is not None:
        fields.update({k: v for k, v in outcome.contention.fields().items() if k != "cores"},
                      measured_cores=json.dumps(outcome.contention.cores))
    return fields


def evidence(outcome: TrialOutcome) -> dict[str, Any]:
    """What the supervisor itself observed of the trial, next to the worker's account (README, "What each executor
    guarantees"): its estimate of the submission time, and where the trial was evaluated (``server``: outside the
    trial's process, by the evaluation server or, for a compressor, the supervisor's measuring process); for those,
    the waits and the CPU seconds the trial's processes used during them."""
    out: dict[str, Any] = {"observed_submission_s": outcome.estimated_submission_s,
                           "evaluated_by": "worker" if outcome.evaluation_wait_s is None else "server"}
    if outcome.evaluation_wait_s is not None:
        out.update(evaluation_wait_s=outcome.evaluation_wait_s, evaluation_wait_cpu_s=outcome.evaluation_wait_cpu_s)
    return out


#: the attempt summary kept in ``attempts_json`` for each attempt of a trial.
ATTEMPT_KEYS = ("status", "wall_time_s", "submission_time_s", "cpu_submission_time_s", "time_to_result_s",
                "cpu_time_to_result_s", "steps", "cpu_share", "foreign_share", "contended", "involuntary_switches",
                "load_mean", "cores_steal_s")


def should_retry(outcome: TrialOutcome) -> bool:
    """A contended trial is re-run unless it failed for a reason of its own (a contended machine slows a trial; it
    does not make it raise); so is one whose machine went away mid-trial (a lost Ray node)."""
    return outcome.lost or (bool(outcome.contention and outcome.contention.contended) and outcome.status != "failed")


def protocol_rows(trials: list[dict[str, Any]], workload: str) -> list[TrialOutcomeRow]:
    """A run's finished trials of one workload as the protocols see them (anything but ``reached`` is infinity)."""
    return [TrialOutcomeRow(t["study"], t["trial_index"], t["role"], t["seed_index"],
                            t["time_to_result_s"] if t["status"] == "reached" else INF)
            for t in trials if t["workload"] == workload and t["status"] != "running"]


def resolve_scoring(trials: list[dict[str, Any]], plan: RunPlan, entry: PlanEntry) -> PlanEntry | str:
    """Give a scoring entry the configuration selected on tuning seeds, or say why there is none."""
    if entry.hyperparameters is not None:  # self-tuning: nothing to select
        return entry
    chosen = select_configuration(protocol_rows(trials, entry.workload), entry.study)
    if chosen is None:
        return "no hyperparameter point reached the target on the tuning seeds of this study"
    return entry.model_copy(update={"point": chosen, "hyperparameters": plan.points(entry.workload, entry.study)[chosen]})


class _Slots:
    """CPU sets for concurrent trials: slot i gets cores [i*threads, (i+1)*threads) when the machine has them."""

    def __init__(self, workers: int, threads: int, pin: bool = True) -> None:
        cores = sorted(os.sched_getaffinity(0))
        enough = pin and len(cores) >= workers * threads
        self._free = [cores[i * threads:(i + 1) * threads] if enough else None for i in range(workers)]
        self._lock = threading.Lock()

    def take(self) -> list[int] | None:
        with self._lock:
            return self._free.pop(0)

    def give(self, cpus: list[int] | None) -> None:
        with self._lock:
            self._free.append(cpus)


class _Executor:
    """Runs plan entries, ``workers`` at a time; Ctrl-C (or any error) cancels and kills every running trial."""

    def __init__(self, config: RunConfig, store: ResultsStore, plan: RunPlan, progress: RunProgress,
                 runner: TrialRunner) -> None:
        self.config, self.store, self.plan, self.progress, self.runner = config, store, plan, progress, runner
        # a cluster runs as many trials at once as its nodes of the class offer, on their cores, not this machine's
        self.workers = max(config.workers, runner.check_class(config.hardware_class)) if runner.executor == "ray" \
            else config.workers
        self.slots = _Slots(self.workers, config.threads, pin=runner.executor != "ray")
        self.cancel = threading.Event()
        # told once per workload, before any trial thread starts: the folder is the run's (its hash is in the plan)
        self.frameworks = {w: submission_framework(get_spec(w), config.submission_dir) for w in plan.workloads}

    def skip(self, entry: PlanEntry, reason: str) -> None:
        """Record a planned trial that cannot run (no configuration to score) as a miss, without running it."""
        self.store.start_trial(_trial_row(self.plan.run_id, entry, self.config.hardware_class, None, self.runner))
        self.store.finish_trial(entry.trial_id, {"status": "missed", "reason": reason})
        self.progress.trial_finished(entry, None, reason)

    def run_one(self, entry: PlanEntry) -> None:
        """Run one planned trial on a free slot; re-run it while it is contended, up to ``config.attempts`` times."""
        if self.cancel.is_set():
            return
        cpus = self.slots.take()
        try:
            self.progress.trial_started(entry)
            attempts: list[dict[str, Any]] = []
            for attempt in range(1, self.config.attempts + 1):
                outcome = self._attempt(entry, cpus)
                if outcome.status == "cancelled":
                    return  # the row stays 'running': a resume restarts this trial
                fields = _outcome_fields(outcome)
                attempts.append({"attempt": attempt, **{k: fields.get(k) for k in ATTEMPT_KEYS}})
                if attempt == self.config.attempts or not should_retry(outcome):
                    break
                self.progress.trial_retried(entry, outcome, attempt)
            self.store.finish_trial(entry.trial_id, {**fields, "attempts": len(attempts), "attempts_json": attempts})
            self.progress.trial_finished(entry, outcome)
        finally:
            self.slots.give(cpus)

    def _attempt(self, entry: PlanEntry, cpus: list[int] | None) -> TrialOutcome:
        """One attempt of a trial; its row (and the evaluations of an earlier attempt) start afresh."""
        self.store.start_trial(_trial_row(self.plan.run_id, entry, self.config.hardware_class, cpus, self.runner))
        spec = get_spec(entry.workload)
        request = TrialRequest(trial_id=entry.trial_id, submission_dir=str(self.config.submission_dir.resolve()),
                               workload=spec, hardware_class=self.config.hardware_class,
                               budget_s=entry.budget_s, hyperparameters=entry.hyperparameters or {},
                               seed=entry.seed, threads=self.config.threads, cpu_affinity=cpus,
                               limits=self.config.limits,
                               framework=self.frameworks[entry.workload])

        def on_eval(record: EvalRecord) -> None:
            self.store.add_eval(entry.trial_id, record)  # committed now: survives a kill of this process
            self.progress.trial_evaluated(entry, record)

        return self.runner.run_trial(request, self.config.workdir, on_eval=on_eval, cancel=self.cancel,
                                     on_poll=lambda s, step: self.progress.trial_polled(entry, s, step))

    def run_all(self, entries: list[PlanEntry]) -> None:
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="trial") as pool:
            pending: set[Future] = {pool.submit(self.run_one, e) for e in entries}
            try:
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        future.result()
            except BaseException:
                self.cancel.set()
                for future in pending:
                    future.cancel()
                raise


def check_environment(store: ResultsStore, run_id: str, runner: TrialRunner) -> None:
    """Refuse to add trials to a run whose finished trials ran elsewhere (another executor or another image)."""
    def where(executor: str, digest: str | None) -> str:
        return {"docker": f"in docker image {digest}", "ray": "on a Ray cluster"}.get(executor, "locally")

    ran = {(t["executor"], t["image_digest"]) for t in store.trials(run_id) if t["status"] != "running"}
    other = sorted(ran - {(runner.executor, runner.image_digest)}, key=str)
    if other:
        raise PlanError(f"run {run_id!r} already has trials that ran {where(*other[0])}; this command would run the "
                        f"rest {where(runner.executor, runner.image_digest)}. One run never mixes environments: use "
                        "the same --executor and image as before, or pass --run-id NEW_NAME to start a separate run.")


def execute(config: RunConfig, progress: RunProgress | None = None, store: ResultsStore | None = None,
            runner: TrialRunner | None = None) -> tuple[str, ResultsStore]:
    """Plan (and record the manifest), tune, select, score, and store both protocols' workload times.

    ``runner`` runs each trial; by default the one ``config.executor`` names (a docker runner checks the engine and
    the image first, and raises :class:`harness.executors.ExecutorError` with one clear message when it cannot run).
    """
    progress = progress or RunProgress()
    runner = runner or runner_for(config.executor, config.image, config.submission_dir)
    store = store or ResultsStore(config.db)
    plan = make_plan(config)
    check_environment(store, plan.run_id, runner)
    register(store, config, plan)
    done = store.finished_trial_ids(plan.run_id)
    progress.run_started(plan, len(done))
    if runner.executor != "ray":  # a Ray node makes them in its own cache, before its first trial of the workload
        for workload in plan.workloads:
            ensure_made(get_spec(workload), say=progress.note)
    executor = _Executor(config, store, plan, progress, runner)
    tuning = [e for e in plan.entries if e.role == "tuning" and e.trial_id not in done]
    progress.phase_started("tuning", tuning)
    executor.run_all(tuning)
    scoring, skipped = [], []
    tuned = store.trials(plan.run_id)  # read once: the selection needs every tuning result, nothing newer
    for entry in (e for e in plan.entries if e.role == "scoring" and e.trial_id not in done):
        resolved = resolve_scoring(tuned, plan, entry)
        (skipped if isinstance(resolved, str) else scoring).append((entry, resolved))
    for entry, reason in skipped:
        executor.skip(entry, reason)
    progress.phase_started("scoring", [r for _, r in scoring])
    executor.run_all([r for _, r in scoring])
    finished = store.trials(plan.run_id)
    for workload in plan.workloads:
        store.set_workload_time(plan.run_id, workload, summarize(protocol_rows(finished, workload)))
    return plan.run_id, store
