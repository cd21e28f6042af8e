"""Release bundles: what the leaderboard reads. ``podium publish`` writes one; ``podium publish --verify`` checks one.

A bundle is a folder ``<out>/<release>/`` with Parquet tables and a ``manifest.json``:

* tables: ``submissions``, ``runs``, ``trials``, ``evals`` (learning curves), ``workload_times`` (both protocols),
  ``scores`` (one row per pool and submission) and ``profiles`` (the step functions, with the workloads solved);
* the manifest: bundle format version, benchmark release, harness version and commit, hardware classes, the
  targets version (sha256 of ``workloads/targets.json``), scoring settings (r_max, bootstrap seed and size,
  reference submission, scored variants, the held-out variant rule, the minimum n for an interval, and
  ``variant_draw``: how the scored variants were drawn, see below), the sha256 and row count of every table, and
  ``warnings``: every pool whose score intervals are degenerate (n below the minimum, or zero width).

The manifest is strict JSON (no ``Infinity``/``NaN``). The ``scores`` table keeps ``inf`` for a miss, with the
cause beside it (``why:<workload>``); a missing interval or rank bound is null, with ``interval_note`` saying why.

Verification re-hashes every table, then re-scores from the bundle's own ``trials`` table with the same code that
produced ``scores`` and compares: an edited table, an edited score, or a score that does not follow from the trials
is reported.

The held-out variant draw (:mod:`harness.release`): published with the release secret, ``scoring.variant_draw``
reveals the secret and holds its commitment ``sha256(release:secret)``, the candidate variants and the drawn ones;
verification checks the commitment, re-draws with the secret and compares with the variants the trials scored (and,
given the release plan published before submissions closed, with its commitment and candidates). Published without
a secret, the draw is recorded as ``predictable`` and verification warns, as it does for a bundle without the record.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import harness
from harness.provenance import git_commit, hash_tree
from harness.release import (
    VARIANTS_PER_BASE, ReleasePlan, candidates_of, draw_problems, draw_record, draw_warnings, scored_variants,
)
from harness.report import (
    BOOTSTRAP_SAMPLES, BOOTSTRAP_SEED, REFERENCE_SUBMISSION, Metrics, Pool, build_pools, degenerate_warnings,
    metrics_from_specs, profile_points, score_pool, score_records, strict_json,
)
from harness.scoring import MIN_INTERVAL_N, R_MAX, VARIANT_RULE
from harness.store import ResultsStore

BUNDLE_FORMAT = 4  # 2: n, interval notes and infinity causes in ``scores``; warnings in the manifest
#                    3: scores follow AlgoPerf's held-out variant rule, named in ``scoring.variant_rule``
#                    4: ``scoring.variant_draw``: the variant draw, with the revealed secret and its commitment
TABLES = ("submissions", "runs", "trials", "evals", "workload_times", "scores", "profiles")


class BundleError(RuntimeError):
    """A bundle cannot be written or does not verify; the message lists every problem."""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def targets_version() -> str:
    from workloads import TARGETS_FILE

    return sha256(TARGETS_FILE)[:16] if TARGETS_FILE.exists() else "none"


def workload_specs(names: list[str]) -> dict[str, Any]:
    """What a reader of the bundle needs to know about each workload: metric and direction, targets, budgets."""
    from workloads import WORKLOADS
    from workloads.spec import without_later_defaults

    keep = {"description", "base", "dataset", "data_revision", "model", "metric", "higher_is_better", "budget_s",
            "eval_period_s", "step_hint", "targets", "compression"}
    return {n: without_later_defaults(WORKLOADS.get(n).model_dump(mode="json", include=keep))
            for n in names if n in WORKLOADS}


def _frame(records: list[dict[str, Any]]):
    import pandas as pd

    return pd.DataFrame.from_records(records) if records else pd.DataFrame({"empty": []})


def scored_tables(trials: list[dict[str, Any]], variant_of: dict[str, str], n_boot: int = BOOTSTRAP_SAMPLES,
                  metrics: Metrics | None = None) -> tuple[list[Pool], list[dict[str, Any]], list[dict[str, Any]]]:
    """Pools, score records and profile records from trial rows (the same path for publish and verify)."""
    pools = build_pools(trials, variant_of, metrics)
    scores, profiles = [], []
    for pool in pools:
        rows = score_pool(pool, n_boot=n_boot)
        scores += score_records(pool, rows)
        for row in rows:
            for tau, rho, solved in profile_points(row.ratios, R_MAX):
                profiles.append({"pool": pool.key, "submission": row.submission, "tau": tau, "rho": rho,
                                 "solved": json.dumps(solved)})
    return pools, scores, profiles


def scrub_paths(value: Any) -> Any:
    """``value`` with every absolute path of the publishing machine replaced by its last component (a bundle is
    public: where the submission or the database lay says nothing about the results, and may say who ran them).
    Works through JSON text, dicts and lists.

    >>> scrub_paths({"db": "/home/ann/podium-results/results.db", "label": "lite", "n": 3, "dirs": ["~/subs/sgd"]})
    {'db': 'results.db', 'label': 'lite', 'n': 3, 'dirs': ['sgd']}
    >>> scrub_paths('{"submission_dir": "/tmp/x/adamw"}')
    '{"submission_dir": "adamw"}'
    """
    if isinstance(value, dict):
        return {k: scrub_paths(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_paths(v) for v in value]
    if isinstance(value, str):
        if value[:1] in "{[":
            try:
                return json.dumps(scrub_paths(json.loads(value)))
            except ValueError:
                return value
        if value.startswith(("/", "~")) and "\n" not in value:
            return Path(value).name
    return value


def _public_run(run: dict[str, Any]) -> dict[str, Any]:
    return {**run, "submission_dir": Path(run["submission_dir"]).name, "config_json": scrub_paths(run["config_json"])}


def _public_trial(trial: dict[str, Any]) -> dict[str, Any]:
    return {**trial, "log_path": Path(trial["log_path"]).name if trial.get("log_path") else trial.get("log_path"),
            "provenance_json": scrub_paths(trial.get("provenance_json"))}


def _submission_records(store: ResultsStore) -> list[dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for run in store.runs():
        latest[run["submission_name"]] = run
    records = []
    for name, run in sorted(latest.items()):
        folder = Path(run["submission_dir"])
        readme = folder / "README.md"
        space = folder / "search_space.json"
        records.append({"submission": name, "track": run["track"], "latest_run": run["run_id"],
                        "submission_hash": run["submission_hash"],
                        "readme": readme.read_text() if readme.exists() else "",
                        "search_space": space.read_text() if space.exists() else "",
                        "current_hash": hash_tree(folder) if folder.exists() else ""})
    return records


def publish(db: Path, out: Path, release: str, variant_of: dict[str, str], allow_contended: bool = False,
            secret: str | None = None, plan: ReleasePlan | None = None) -> Path:
    """Write the bundle for ``release`` from the database; returns its folder.

    Trials flagged ``contended`` (their cores were taken by something else even after their re-runs) are refused
    unless ``allow_contended``: their times say more about the machine than about the submission.

    With the release ``secret`` the manifest reveals it (:func:`_variant_draw`); without, the draw is recorded as
    predictable.
    """
    store = ResultsStore(db)
    trials = [t for t in store.trials() if t["release"] == release and t["status"] != "running"]
    if not trials:
        raise BundleError(f"{db} has no finished trials of release {release!r}")
    contended = sum(bool(t.get("contended")) for t in trials)
    if contended and not allow_contended:
        raise BundleError(f"{contended} of {len(trials)} trials of release {release!r} were contended (something "
                          "else took their cores, see `podium results`); re-run them on a quiet machine, or pass "
                          "--allow-contended to publish them anyway")
    run_ids = {t["run_id"] for t in trials}
    specs = workload_specs(sorted({t["workload"] for t in trials}))
    pools, scores, profiles = scored_tables(trials, variant_of, metrics=metrics_from_specs(specs))
    draw = _variant_draw(release, pools, variant_of, secret, plan)
    tables = {
        "submissions": _submission_records(store),
        "runs": [_public_run(r) for r in store.runs() if r["run_id"] in run_ids],
        "trials": [_public_trial(t) for t in trials], "evals": [e for t in trials for e in store.evals(t["trial_id"])],
        "workload_times": [w for w in store.workload_times() if w["run_id"] in run_ids],
        "scores": scores, "profiles": profiles,
    }
    bundle = out / release
    bundle.mkdir(parents=True, exist_ok=True)
    manifest_tables = {}
    for name in TABLES:
        path = bundle / f"{name}.parquet"
        _frame(tables[name]).to_parquet(path, index=False)
        manifest_tables[name] = {"file": path.name, "sha256": sha256(path), "rows": len(tables[name])}
    manifest = {
        "bundle_format": BUNDLE_FORMAT, "release": release, "harness_version": harness.__version__,
        "harness_commit": git_commit(), "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "hardware_classes": sorted({p.hardware_class for p in pools}), "pools": [p.key for p in pools],
        "targets_version": targets_version(),
        "workloads": specs,
        "scoring": {"r_max": R_MAX, "bootstrap_seed": BOOTSTRAP_SEED, "bootstrap_samples": BOOTSTRAP_SAMPLES,
                    "reference": REFERENCE_SUBMISSION, "variants": {p.key: p.variants for p in pools},
                    "min_interval_n": MIN_INTERVAL_N, "variant_rule": VARIANT_RULE, "variant_draw": draw},
        "tables": manifest_tables,
        "warnings": degenerate_warnings(scores),
    }
    (bundle / "manifest.json").write_text(strict_json(manifest, indent=1, sort_keys=True) + "\n")
    return bundle


def _variant_draw(release: str, pools: list[Pool], variant_of: dict[str, str], secret: str | None,
                  plan: ReleasePlan | None) -> dict[str, Any]:
    """The manifest's ``scoring.variant_draw``; with a ``secret``, refused (:class:`BundleError`) unless it would
    verify: the runs scored what the secret draws, and the secret is the one ``plan`` commits to."""
    bases = sorted({b for p in pools for b in p.base_workloads})
    record = draw_record(release, candidates_of(variant_of, bases), secret, VARIANTS_PER_BASE)
    if secret is not None:
        problems = draw_problems(release, record, scored_variants(pools), variant_of, plan)
        if problems:
            raise BundleError("the release secret does not match what was run or committed (runs score the "
                              "secret's draw only with `podium run --suite ... --release-secret FILE`):\n"
                              + "\n".join(problems))
    return record


def bundle_warnings(bundle: Path) -> list[str]:
    """The warnings recorded in a bundle's manifest (degenerate intervals), for the CLI to print."""
    return list(json.loads((bundle / "manifest.json").read_text()).get("warnings", []))


def _missing(value: Any) -> bool:
    """None or NaN: how Parquet gives back a value that was None (a column of floats reads it as NaN)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def _same(a: Any, b: Any) -> bool:
    """A stored value equals a re-scored one: both missing (None or NaN, in any mix), or equal numbers.

    >>> _same(None, None), _same(None, float("nan")), _same(1, 1.0), _same(None, 0.0)
    (True, True, True, False)
    """
    if _missing(a) or _missing(b):
        return _missing(a) and _missing(b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return a == b or abs(a - b) <= 1e-9 * max(1.0, abs(a))
    return a == b


def bundle_draw_warnings(bundle: Path) -> list[str]:
    """Why the bundle's held-out variants were predictable (empty for a committed, revealed draw)."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    return draw_warnings(manifest.get("scoring", {}).get("variant_draw"))


def verify(bundle: Path, variant_of: dict[str, str], plan: ReleasePlan | None = None) -> list[str]:
    """Every problem found in a bundle (empty when it verifies); with ``plan``, the release plan published before
    submissions closed, also whether the bundle reveals the secret it commits to."""
    import pandas as pd

    manifest_path = bundle / "manifest.json"
    if not manifest_path.exists():
        return [f"{bundle}: no manifest.json (not a release bundle)"]
    manifest = json.loads(manifest_path.read_text())
    problems = []
    for name, entry in manifest["tables"].items():
        path = bundle / entry["file"]
        if not path.exists():
            problems.append(f"{entry['file']}: missing")
        elif sha256(path) != entry["sha256"]:
            problems.append(f"{entry['file']}: sha256 differs from the manifest (the table was changed)")
    if problems:
        return problems
    trials = pd.read_parquet(bundle / "trials.parquet").to_dict("records")
    stored = pd.read_parquet(bundle / "scores.parquet").to_dict("records")
    pools, rescored, _ = scored_tables(trials, variant_of, n_boot=manifest["scoring"]["bootstrap_samples"],
                                       metrics=metrics_from_specs(manifest.get("workloads", {})))
    problems = draw_problems(manifest["release"], manifest["scoring"].get("variant_draw"), scored_variants(pools),
                             variant_of, plan)
    if len(rescored) != len(stored):
        return [*problems, f"scores: {len(stored)} rows stored, {len(rescored)} re-scored from the trials"]
    for old, new in zip(stored, rescored):
        for key, value in new.items():
            if not _same(old.get(key), value):
                problems.append(f"scores: {old.get('submission')} {key}: stored {old.get(key)!r}, "
                                f"re-scored from trials {value!r}")
    return problems
