"""The run plan (manifest): every trial of a run, with its role, seed, hyperparameters and budget, fixed up front.

The manifest is a pure function of the run's inputs, so re-planning gives the same bytes (:meth:`RunPlan.to_json`).
It is written to the database and to ``<db folder>/manifests/<run_id>.json`` before the first trial runs.

Rulesets:

* ``external`` - each study draws its own quasi-random sample of ``trials`` points from the submission's search space
  (the same space for every workload; study and workload are part of the sample's seed). Each point runs on
  ``tuning_seeds`` tuning seeds. The point selected on tuning seeds is re-run on ``scoring_seeds`` held-out seeds;
  the scoring entries are planned now, with their seeds, and get their hyperparameters when the selection is made.
  With a single point per study (``trials=1``) there is nothing to select: no tuning trials are planned and the
  point is run on the scoring seeds directly.
* ``self`` - no hyperparameters (a search space is refused) and the budget is multiplied by
  :data:`SELF_TUNING_BUDGET_FACTOR`; each study is ``scoring_seeds`` runs of the submission as it is.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.tuning.search_space import SearchSpace
from harness.tuning.seeds import derive_seed

#: AlgoPerf gives self-tuning submissions three times the external-tuning budget; so does Podium.
SELF_TUNING_BUDGET_FACTOR = 3.0
Ruleset = Literal["external", "self"]


class PlanEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    trial_id: str
    workload: str
    study: int
    role: Literal["tuning", "scoring"]
    point: int  # index of the hyperparameter point within the study (scoring: filled by the selection)
    seed_index: int
    seed: int
    hyperparameters: dict[str, Any] | None  # None for scoring entries until the selection is made
    budget_s: float


class RunPlan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: str
    release: str
    submission: str
    submission_hash: str
    ruleset: Ruleset
    hardware_class: str
    workloads: tuple[str, ...]
    studies: int
    trials: int
    tuning_seeds: int
    scoring_seeds: int
    base_seed: int
    entries: tuple[PlanEntry, ...] = Field(default_factory=tuple)

    def to_json(self) -> str:
        """Canonical bytes: sorted keys, fixed indentation, no timestamps."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, indent=1) + "\n"

    def digest(self) -> str:
        return hashlib.blake2b(self.to_json().encode(), digest_size=16).hexdigest()

    def points(self, workload: str, study: int) -> dict[int, dict[str, Any]]:
        return {e.point: e.hyperparameters or {} for e in self.entries
                if e.workload == workload and e.study == study and e.role == "tuning"}


def _entry(plan_id: str, workload: str, study: int, role: str, point: int, seed_index: int, seed: int,
           hyperparameters: dict[str, Any] | None, budget_s: float) -> PlanEntry:
    tag = f"p{point}" if role == "tuning" else "sel"
    return PlanEntry(trial_id=f"{plan_id}.{workload}.s{study}.{role[0]}{seed_index}-{tag}", workload=workload,
                     study=study, role=role, point=point, seed_index=seed_index, seed=seed,
                     hyperparameters=hyperparameters, budget_s=budget_s)


def plan_entries(header: RunPlan, space: SearchSpace, budgets: dict[str, float]) -> tuple[PlanEntry, ...]:
    """Every trial of the run. Seeds: ``derive_seed(release, submission, workload, role, study, index, base_seed)``."""
    h, entries = header, []
    factor = SELF_TUNING_BUDGET_FACTOR if h.ruleset == "self" else 1.0
    for workload in h.workloads:
        budget = budgets[workload] * factor
        for study in range(h.studies):
            fixed: dict[str, Any] | None = {} if h.ruleset == "self" else None
            if h.ruleset == "external":
                sample_seed = derive_seed(h.release, h.submission, workload, "search", study, h.base_seed)
                points = space.sample(h.trials, sample_seed) if not space.is_empty else [{}] * h.trials
                if len(points) == 1 and h.scoring_seeds > 0:
                    fixed = points[0]  # one candidate: nothing to select, so no tuning trials (see module docs)
                    points = []
                for point, values in enumerate(points):
                    for j in range(h.tuning_seeds):
                        seed = derive_seed(h.release, h.submission, workload, "tuning", study, point * 1000 + j,
                                           h.base_seed)
                        entries.append(_entry(h.run_id, workload, study, "tuning", point, j, seed, values, budget))
            for k in range(h.scoring_seeds):
                seed = derive_seed(h.release, h.submission, workload, "scoring", study, k, h.base_seed)
                entries.append(_entry(h.run_id, workload, study, "scoring", 0 if fixed is not None else -1, k, seed,
                                      fixed, budget))
    return tuple(entries)
