"""A benchmark run: plan every trial up front, then execute them one by one through the supervisor into the store.

The run id and every trial id are hashes of what defines them, so running the same command again after an
interruption continues the same run: finished trials are skipped, an unfinished one restarts cleanly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from harness.provenance import git_commit, hash_tree
from harness.runner.messages import EvalRecord, TrialLimits, TrialRequest
from harness.runner.supervisor import TrialOutcome, run_trial
from harness.store import ResultsStore
from harness.tuning.search_space import SearchSpace, load_search_space
from harness.tuning.seeds import derive_seed
from workloads import get_spec
from workloads.spec import DEFAULT_HARDWARE_CLASS

#: The benchmark release: seeds, targets and budgets are only comparable within one release.
BENCHMARK_RELEASE = "2026.11-dev"
DEFAULT_DB = Path("podium-results/results.db")


class RunConfig(BaseModel):
    """Options of ``podium run``, parsed from the CLI into one object."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    submission_dir: Path
    workloads: tuple[str, ...]
    trials: int = Field(1, ge=1)
    seed: int = 0
    db: Path = DEFAULT_DB
    hardware_class: str = DEFAULT_HARDWARE_CLASS
    threads: int = Field(2, ge=1)
    ruleset: str = "external"
    release: str = BENCHMARK_RELEASE
    limits: TrialLimits = Field(default_factory=TrialLimits)

    @property
    def workdir(self) -> Path:
        return self.db.parent / "trials"


@dataclass(frozen=True)
class PlannedTrial:
    trial_id: str
    workload: str
    study: int
    index: int
    role: str
    seed: int
    hyperparameters: dict[str, Any]
    budget_s: float


def _digest(*parts: object) -> str:
    return hashlib.blake2b(json.dumps(parts, sort_keys=True, default=str).encode(), digest_size=8).hexdigest()


def search_space_of(folder: Path) -> SearchSpace:
    path = folder / "search_space.json"
    return load_search_space(path) if path.exists() else SearchSpace.empty()


def hyperparameter_points(space: SearchSpace, n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` points: the first ``n`` fixed points, or a quasi-random sample; ``{}`` when there is no space."""
    if space.is_empty:
        return [{} for _ in range(n)]
    return space.sample(n, seed)


def plan(config: RunConfig) -> tuple[str, list[PlannedTrial]]:
    """The run id and every trial of the run, derived only from the config and the submission's name."""
    folder = config.submission_dir.resolve()
    name = folder.name
    space = search_space_of(folder)
    run_id = f"{name}-{_digest(hash_tree(folder), config.workloads, config.trials, config.seed, config.hardware_class, config.release, config.ruleset)}"
    trials = []
    for workload in config.workloads:
        spec = get_spec(workload)
        points = hyperparameter_points(space, config.trials, derive_seed(config.release, name, workload, "search", 0,
                                                                        config.seed))
        for index, point in enumerate(points):
            seed = derive_seed(config.release, name, workload, "tuning", 0, index, config.seed)
            trials.append(PlannedTrial(f"{run_id}-{workload}-s0-t{index}", workload, 0, index, "tuning", seed,
                                       point, spec.budget_for(config.hardware_class)))
    return run_id, trials


class RunProgress:
    """Hooks for displays; the default does nothing."""

    def run_started(self, run_id: str, trials: list[PlannedTrial], skipped: int) -> None: ...
    def trial_started(self, trial: PlannedTrial) -> None: ...
    def trial_polled(self, trial: PlannedTrial, submission_s: float, step: int) -> None: ...
    def trial_evaluated(self, trial: PlannedTrial, record: EvalRecord) -> None: ...
    def trial_finished(self, trial: PlannedTrial, outcome: TrialOutcome) -> None: ...


def _run_row(config: RunConfig, run_id: str) -> dict[str, Any]:
    folder = config.submission_dir.resolve()
    import harness

    return dict(run_id=run_id, track="training", submission_name=folder.name, submission_dir=str(folder),
                submission_hash=hash_tree(folder), ruleset=config.ruleset, hardware_class=config.hardware_class,
                release=config.release, harness_version=harness.__version__, git_commit=git_commit(),
                config_json=config.model_dump(mode="json"))


def _trial_row(run_id: str, trial: PlannedTrial, hardware_class: str) -> dict[str, Any]:
    spec = get_spec(trial.workload)
    target = spec.targets[hardware_class].validation if hardware_class in spec.targets else None
    return dict(trial_id=trial.trial_id, run_id=run_id, workload=trial.workload, workload_spec_hash=spec.spec_hash(),
                data_revision=spec.data_revision, study=trial.study, trial_index=trial.index, role=trial.role,
                seed=trial.seed, hyperparameters_json=trial.hyperparameters, budget_s=trial.budget_s,
                validation_target=target)


def _outcome_fields(outcome: TrialOutcome) -> dict[str, Any]:
    fields: dict[str, Any] = dict(status=outcome.status, reason=outcome.reason, wall_time_s=outcome.wall_s,
                                  peak_rss_bytes=outcome.peak_rss_bytes, log_path=str(outcome.log_path))
    result = outcome.result
    if result is not None:
        fields.update(steps=result.steps, submission_time_s=result.submission_time_s, eval_time_s=result.eval_time_s,
                      init_time_s=result.init_time_s, startup_time_s=result.startup_time_s,
                      overhead_time_s=result.overhead_time_s, batch_size=result.batch_size,
                      validation_json=result.validation, test_json=result.test,
                      test_target_met=result.test_target_met, provenance_json=result.provenance)
    fields["time_to_result_s"] = result.time_to_result_s if result and outcome.status == "reached" else None
    return fields


def execute(config: RunConfig, progress: RunProgress | None = None,
            store: ResultsStore | None = None) -> tuple[str, ResultsStore]:
    """Plan the run, record it, and run every trial not finished yet. Returns the run id and the store."""
    progress = progress or RunProgress()
    store = store or ResultsStore(config.db)
    run_id, trials = plan(config)
    store.add_run(_run_row(config, run_id))
    done = store.finished_trial_ids(run_id)
    progress.run_started(run_id, trials, len(done))
    for trial in trials:
        if trial.trial_id in done:
            continue
        _execute_trial(config, store, run_id, trial, progress)
    return run_id, store


def _execute_trial(config: RunConfig, store: ResultsStore, run_id: str, trial: PlannedTrial,
                   progress: RunProgress) -> TrialOutcome:
    store.start_trial(_trial_row(run_id, trial, config.hardware_class))
    progress.trial_started(trial)
    request = TrialRequest(trial_id=trial.trial_id, submission_dir=str(config.submission_dir.resolve()),
                           workload=get_spec(trial.workload), hardware_class=config.hardware_class,
                           budget_s=trial.budget_s, hyperparameters=trial.hyperparameters, seed=trial.seed,
                           threads=config.threads, limits=config.limits)

    def on_eval(record: EvalRecord) -> None:
        store.add_eval(trial.trial_id, record)  # committed now: survives a kill of this process
        progress.trial_evaluated(trial, record)

    poll: Callable[[float, int], None] = lambda s, step: progress.trial_polled(trial, s, step)  # noqa: E731
    outcome = run_trial(request, config.workdir, on_eval=on_eval, on_poll=poll)
    store.finish_trial(trial.trial_id, _outcome_fields(outcome))
    progress.trial_finished(trial, outcome)
    return outcome
