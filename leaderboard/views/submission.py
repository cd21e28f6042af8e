"""One submission: its README and search space, the hyperparameters it was scored with, every trial, provenance."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

#: The trial table's columns: what a reader scans first (where, what happened, how long) before the long trial id.
TRIAL_COLUMNS = ("workload", "role", "study", "trial_index", "seed_index", "status", "time_to_result_s", "reason",
                 "steps", "submission_time_s", "eval_time_s", "wall_time_s", "peak_rss_bytes", "seed",
                 "hyperparameters_json", "trial_id")
ENVIRONMENT_KEYS = ("harness_version", "git_commit", "python", "packages", "cpu_model", "cpu_count", "threads", "cuda",
                    "platform")


def submission_info(submissions: pd.DataFrame, name: str) -> dict[str, Any]:
    """README, pretty-printed search space and source hashes; empty strings when the bundle lacks them."""
    rows = submissions[submissions["submission"] == name] if not submissions.empty else submissions
    if rows.empty:
        return {"readme": "", "search_space": "", "submission_hash": "", "current_hash": "", "latest_run": ""}
    row = rows.iloc[0].to_dict()
    space = row.get("search_space") or ""
    try:
        space = json.dumps(json.loads(space), indent=2) if space else ""
    except json.JSONDecodeError:
        pass  # shown as stored
    return {"readme": row.get("readme") or "", "search_space": space,
            "submission_hash": row.get("submission_hash") or "", "current_hash": row.get("current_hash") or "",
            "latest_run": row.get("latest_run") or ""}


def source_warning(info: dict[str, Any]) -> str | None:
    """A warning when the submission's source changed after the run the leaderboard shows (None otherwise).

    >>> source_warning({"submission_hash": "aaaa1111", "current_hash": "bbbb2222"})[:44]
    'The source changed after this run (aaaa1111 '
    """
    old, new = info.get("submission_hash", ""), info.get("current_hash", "")
    if not new or new == old:
        return None
    return (f"The source changed after this run ({old[:8]} -> {new[:8]} when the bundle was published): these "
            f"results are for the old source.")


def run_trials(trials: pd.DataFrame, run_id: str) -> pd.DataFrame:
    if trials.empty:
        return trials
    return trials[trials["run_id"] == run_id].sort_values(["workload", "role", "study", "trial_index",
                                                           "seed_index"], kind="stable").reset_index(drop=True)


def trial_evals(evals: pd.DataFrame, trials: pd.DataFrame) -> pd.DataFrame:
    """The evaluation rows of ``trials``, as stored in the bundle."""
    if evals.empty or trials.empty:
        return evals.iloc[0:0]
    return evals[evals["trial_id"].isin(set(trials["trial_id"]))].reset_index(drop=True)


def _hparams(raw: Any) -> dict[str, Any]:
    try:
        return json.loads(raw) if isinstance(raw, str) and raw else {}
    except json.JSONDecodeError:
        return {}


def chosen_hyperparameters(trials: pd.DataFrame) -> pd.DataFrame:
    """The configuration each study chose, as re-run on the scoring seeds: one row per (workload, study).

    >>> t = pd.DataFrame({"workload": ["w", "w"], "study": [0, 0], "role": ["tuning", "scoring"],
    ...                   "trial_index": [0, 1], "hyperparameters_json": ['{"lr": 1}', '{"lr": 2}']})
    >>> chosen_hyperparameters(t).to_dict("records")
    [{'workload': 'w', 'study': 0, 'point': 1, 'lr': 2}]
    """
    scoring = trials[trials["role"] == "scoring"] if not trials.empty else trials
    rows = []
    for (workload, study), group in scoring.groupby(["workload", "study"], sort=True):
        first = group.iloc[0]
        rows.append({"workload": workload, "study": int(study), "point": int(first["trial_index"]),
                     **_hparams(first["hyperparameters_json"])})
    return pd.DataFrame(rows)


def trial_table(trials: pd.DataFrame) -> pd.DataFrame:
    """Every trial with its status and reason (failures keep the supervisor's reason) and, for a training trial,
    the submission seconds of its first update (``first_step_s``: a JAX step compiles there; AlgoPerf's rule
    charges it to the submission, and here it is shown apart).

    >>> t = pd.DataFrame({"workload": ["w", "w"], "steps": [5, 0],
    ...                   "measurements_json": ['{"first_step_s": 0.57}', None]})
    >>> trial_table(t).to_dict("records")
    [{'workload': 'w', 'steps': 5, 'first_step_s': 0.57}, {'workload': 'w', 'steps': 0, 'first_step_s': None}]
    """
    present = [c for c in TRIAL_COLUMNS if c in trials.columns]
    out = trials[present].rename(columns={"hyperparameters_json": "hyperparameters"})
    if "measurements_json" in trials.columns:
        firsts = [_hparams(m).get("first_step_s") for m in trials["measurements_json"]]
        if any(f is not None for f in firsts):
            at = out.columns.get_loc("steps") + 1 if "steps" in out.columns else len(out.columns)
            out.insert(at, "first_step_s", pd.Series(firsts, index=out.index, dtype=object))
    return out


def status_summary(trials: pd.DataFrame) -> str:
    """
    >>> status_summary(pd.DataFrame({"status": ["reached", "failed", "reached"]}))
    '3 trials · reached 2 · failed 1'
    """
    counts = trials["status"].value_counts().to_dict() if not trials.empty else {}
    return " · ".join([f"{len(trials)} trials", *(f"{k} {v}" for k, v in counts.items())])


def _distinct(values: list[Any], none: str = "not recorded") -> str:
    """
    >>> _distinct(["3.11", "3.11"]), _distinct(["a", "b", "a"]), _distinct([None], "no GPU")
    ('3.11', 'a | b', 'no GPU')
    """
    seen = list(dict.fromkeys(none if v is None else json.dumps(v, sort_keys=True) if isinstance(v, (dict, list))
                              else str(v) for v in values))
    return " | ".join(seen)


def provenance(runs: pd.DataFrame, trials: pd.DataFrame, run_id: str) -> dict[str, str]:
    """Where the numbers came from: the run's record, then the environment every trial reported (values that
    differ between trials are all listed, separated by ``|``)."""
    facts: dict[str, str] = {}
    run = runs[runs["run_id"] == run_id] if not runs.empty else runs
    if not run.empty:
        row = run.iloc[0]
        for key in ("run_id", "created_at", "track", "ruleset", "hardware_class", "release", "harness_version",
                    "git_commit", "submission_hash", "submission_dir"):
            if key in row:
                facts[key] = str(row[key])
    envs = [_hparams(p) for p in trials.get("provenance_json", pd.Series(dtype=object)) if isinstance(p, str)]
    for key in ENVIRONMENT_KEYS:
        values = [e[key] for e in envs if key in e]
        if values:
            facts[f"trial {key}"] = _distinct(values, "no GPU" if key == "cuda" else "not recorded")
    if "data_revision" in trials and len(trials):
        facts["data revisions"] = _distinct(sorted(set(trials["data_revision"])))
    return facts


def facts_table(facts: dict[str, str]) -> pd.DataFrame:
    """Facts as a two-column table (``fact``, ``value``), one row each."""
    return pd.DataFrame({"fact": list(facts), "value": list(facts.values())})


def seed_table(trials: pd.DataFrame) -> pd.DataFrame:
    """Every seed used, by workload, role (tuning seeds choose, held-out scoring seeds score) and study."""
    columns = ["workload", "role", "study", "trial_index", "seed_index", "seed"]
    return trials[[c for c in columns if c in trials.columns]].reset_index(drop=True)
