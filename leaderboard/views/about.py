"""What a reader needs around the numbers: the header every page shows, the Methodology page (how a score is made,
told with the pool's own numbers), How to submit, and the release's citation. No Streamlit here.

Everything is read from the bundle (manifest, runs, trials): the page says what *this* release did, never what the
code would do today.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from leaderboard.views import pools

#: The columns of the trials table the header reads (the protocol's fallback and the machines).
HEADER_TRIAL_COLUMNS = ("run_id", "workload", "study", "role", "trial_index", "seed_index", "provenance_json")
#: Protocol fields of a run's config, in the order the header names them.
PROTOCOL_FIELDS = ("studies", "trials", "tuning_seeds", "scoring_seeds")


@dataclass(frozen=True)
class Header:
    """The facts every page shows above its content."""

    release: str
    updated: str  # the bundle's creation date, YYYY-MM-DD HH:MM UTC
    hardware_class: str
    hardware: str  # what the trials ran on, from their provenance ("AMD EPYC, 2 cores, no GPU")
    commit: str  # harness commit the bundle was published from (12 hex digits, "-dirty" kept)
    protocol: dict[str, str]  # studies / trials / tuning_seeds / scoring_seeds -> "3" or "1-3" across runs
    runs: int

    def protocol_text(self) -> str:
        """
        >>> Header("r", "", "c", "", "", {"studies": "1", "trials": "4", "tuning_seeds": "1",
        ...        "scoring_seeds": "3"}, 2).protocol_text()
        '1 study × 4 trials (1 tuning seed each) → 3 scoring seeds'
        """
        p = self.protocol
        if not p:
            return "not recorded"

        def count(field: str, one: str, many: str) -> str:
            value = p.get(field, "?")
            return f"{value} {one if value == '1' else many}"

        return (f"{count('studies', 'study', 'studies')} × {count('trials', 'trial', 'trials')} "
                f"({count('tuning_seeds', 'tuning seed', 'tuning seeds')} each) → "
                f"{count('scoring_seeds', 'scoring seed', 'scoring seeds')}")


def _span(values: list[Any]) -> str:
    """
    >>> _span([3, 3]), _span([1, 3, 2]), _span([])
    ('3', '1-3', '?')
    """
    numbers = sorted({int(v) for v in values if v is not None})
    if not numbers:
        return "?"
    return str(numbers[0]) if len(numbers) == 1 else f"{numbers[0]}-{numbers[-1]}"


def pool_runs(runs: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """The runs behind a pool's ranked submissions."""
    if runs.empty or "run_id" not in records:
        return runs.iloc[0:0]
    return runs[runs["run_id"].isin(set(records["run_id"]))]


def protocol(runs: pd.DataFrame, trials: pd.DataFrame | None = None) -> dict[str, str]:
    """Studies, trials, tuning and scoring seeds of the runs (a range where they differ): from each run's recorded
    config, else counted from its trials (a bundle whose runs did not record it).

    >>> t = pd.DataFrame({"run_id": ["r"] * 5, "workload": ["w"] * 5, "study": [0] * 5,
    ...                   "role": ["tuning", "tuning", "scoring", "scoring", "scoring"],
    ...                   "trial_index": [0, 1, 1, 1, 1], "seed_index": [0, 0, 0, 1, 2]})
    >>> protocol(pd.DataFrame({"run_id": ["r"], "config_json": ["{}"]}), t)
    {'studies': '1', 'trials': '2', 'tuning_seeds': '1', 'scoring_seeds': '3'}
    """
    values: dict[str, list[Any]] = {field: [] for field in PROTOCOL_FIELDS}
    for run_id, text in zip(runs.get("run_id", []), runs.get("config_json", [])):
        config = json.loads(text) if text else {}
        if all(config.get(f) is not None for f in PROTOCOL_FIELDS):
            for field in PROTOCOL_FIELDS:
                values[field].append(config[field])
        elif trials is not None and not trials.empty and "role" in trials:
            mine = trials[trials["run_id"] == run_id]
            if mine.empty:
                continue
            tuning, scoring = mine[mine["role"] == "tuning"], mine[mine["role"] == "scoring"]
            per = ["workload", "study"]
            values["studies"].append(mine["study"].nunique())
            if not tuning.empty:
                values["trials"].append(tuning.groupby(per)["trial_index"].nunique().max())
                values["tuning_seeds"].append(tuning.groupby(per + ["trial_index"])["seed_index"].nunique().max())
            values["scoring_seeds"].append(scoring.groupby(per)["seed_index"].nunique().max() if len(scoring) else 0)
    if not any(values.values()):
        return {}
    return {field: _span(v) for field, v in values.items()}


def hardware_text(trials: pd.DataFrame) -> str:
    """The CPUs (and GPUs) the trials ran on, from each trial's provenance; one line.

    >>> t = pd.DataFrame({"provenance_json": [json.dumps({"cpu_model": "AMD EPYC", "cpu_count": 2, "threads": 2}),
    ...                                        json.dumps({"cpu_model": "AMD EPYC", "cpu_count": 2, "threads": 2})]})
    >>> hardware_text(t)
    'AMD EPYC, 2 cores, 2 threads per trial, no GPU'
    """
    seen: list[str] = []
    for text in trials.get("provenance_json", pd.Series(dtype=str)).dropna().unique():  # 40,000 trials, few machines
        try:
            p = json.loads(text)
        except (TypeError, ValueError):
            continue
        cuda = p.get("cuda")
        gpu = (cuda.get("device") or cuda.get("name") or "GPU") if isinstance(cuda, dict) else (cuda or "no GPU")
        parts = [str(p.get("cpu_model") or "CPU not recorded")]
        if p.get("cpu_count"):
            parts.append(f"{p['cpu_count']} cores")
        if p.get("threads"):
            parts.append(f"{p['threads']} threads per trial")
        parts.append(str(gpu))
        line = ", ".join(parts)
        if line not in seen:
            seen.append(line)
    if not seen:
        return "not recorded"
    return "; ".join(seen[:3]) + (f"; and {len(seen) - 3} more" if len(seen) > 3 else "")


def header(manifest: dict, runs: pd.DataFrame, trials: pd.DataFrame, records: pd.DataFrame, pool: str) -> Header:
    """The header of one pool of one bundle."""
    key = pools.PoolKey.parse(pool)
    mine = pool_runs(runs, records)
    pool_trials = trials[trials["run_id"].isin(set(mine["run_id"]))] if not trials.empty and len(mine) else trials
    created = str(manifest.get("created_at") or "")
    updated = (created[:10] + " " + created[11:16] + " UTC") if len(created) >= 16 else (created or "not recorded")
    commit = str(manifest.get("harness_commit") or "not recorded")
    short = commit[:12] + ("-dirty" if commit.endswith("-dirty") else "") if len(commit) >= 12 else commit
    return Header(release=str(manifest.get("release", key.release)), updated=updated,
                  hardware_class=key.hardware_class, hardware=hardware_text(pool_trials), commit=short,
                  protocol=protocol(mine, pool_trials), runs=len(mine))


# ---- the workload card --------------------------------------------------------------------------------------------
def workload_card(manifest: dict, workload: str, hardware_class: str) -> pd.DataFrame:
    """What a workload is, from the bundle's manifest: data, model, metric, targets and budget on the pool's hardware
    class, evaluation period, step hint, and what it is a variant of. Two text columns (``field``, ``value``).

    >>> m = {"workloads": {"w": {"description": "d", "dataset": "ds", "model": "m", "metric": "accuracy",
    ...      "higher_is_better": True, "base": None, "step_hint": 100, "eval_period_s": 2.0,
    ...      "data_revision": "sha256:ab", "targets": {"cpu": {"validation": 0.9, "test": 0.88, "budget_s": 30.0}}}}}
    >>> workload_card(m, "w", "cpu").set_index("field")["value"]["targets on cpu"]
    'validation 0.9 · test 0.88 (accuracy, higher is better)'
    """
    spec = manifest.get("workloads", {}).get(workload)
    if spec is None:
        return pd.DataFrame({"field": ["workload"], "value": [f"{workload}: not described in this bundle"]})
    entry = (spec.get("targets") or {}).get(hardware_class) or {}
    prov = entry.get("provenance") or {}
    budget = entry.get("budget_s", (spec.get("budget_s") or {}).get(hardware_class))
    direction = "higher" if spec.get("higher_is_better", True) else "lower"
    rows = [
        ("workload", workload + (f" (held-out variant of {spec['base']})" if spec.get("base") else "")),
        ("description", spec.get("description") or "–"),
        ("data", spec.get("dataset") or "–"),
        ("data revision", spec.get("data_revision") or "–"),
        ("model", spec.get("model") or "–"),
        (f"targets on {hardware_class}",
         (f"validation {_fmt(entry['validation'])} · test {_fmt(entry.get('test', '–'))} "
          f"({spec.get('metric', '?')}, {direction} is better)") if "validation" in entry else "not set"),
        (f"budget on {hardware_class}", f"{_fmt(budget)} s of submission time" if budget is not None else "not set"),
        *_compression_rows(spec, entry, hardware_class),
        ("target set by", f"{prov['best_baseline']} ({prov.get('seeds', '?')} seeds, {prov.get('date', '?')[:10]})"
         if prov.get("best_baseline") else "not recorded"),
        ("evaluation", f"every {_fmt(spec.get('eval_period_s', '?'))} s of submission time"),
        ("step hint", _fmt(spec.get("step_hint", "–"))),
    ]
    return pd.DataFrame(rows, columns=["field", "value"])


def _compression_rows(spec: dict, entry: dict, hardware_class: str) -> list[tuple[str, str]]:
    """The workload card's row for a compression workload: the ratio its target bounds and the floors; none for a
    workload of another track.

    >>> spec = {"compression": {"measure": "bytes_ratio", "floor_fraction": 0.99}}
    >>> _compression_rows(spec, {"compression_ratio": 0.25}, "cpu")[0][1][:48]
    'bytes_ratio at most 0.25 (deflated bytes on disk'
    >>> _compression_rows({}, {}, "cpu")
    []
    """
    goal = spec.get("compression")
    if not goal:
        return []
    measure = goal.get("measure", "?")
    what = {"bytes_ratio": "deflated bytes on disk / the dense model's",
            "latency_ratio": "batch-1 p50 latency / the dense model's"}.get(measure, "a ratio to the dense model")
    bound = entry.get("compression_ratio")
    fraction = goal.get("floor_fraction")
    return [(f"compression target on {hardware_class}",
             f"{measure} at most {_fmt(bound) if bound is not None else '(not set)'} ({what}); the validation and "
             f"test targets are quality floors" + (f": {_fmt(100 * float(fraction))}% of the dense model's metric"
                                                   if fraction is not None else ""))]


# ---- Methodology ----------------------------------------------------------------------------------------------
def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def targets_table(manifest: dict, workloads: list[str], hardware_class: str) -> pd.DataFrame:
    """One row per workload of the pool: metric, validation and test targets, budget, and how the target was set."""
    rows = []
    specs = manifest.get("workloads", {})
    for name in workloads:
        spec = specs.get(name, {})
        entry = (spec.get("targets") or {}).get(hardware_class) or {}
        prov = entry.get("provenance") or {}
        success = prov.get("success_rate") or {}
        best = prov.get("best_baseline")
        rows.append({
            "workload": name,
            "variant of": spec.get("base") or "",
            "metric": f"{spec.get('metric', '?')} ({'higher' if spec.get('higher_is_better', True) else 'lower'} "
                      "is better)",
            "validation target": entry.get("validation"),
            "test target": entry.get("test"),
            "budget (s)": entry.get("budget_s", (spec.get("budget_s") or {}).get(hardware_class)),
            "set by": (f"{best}, {prov.get('seeds', '?')} seeds ({', '.join(sorted(prov.get('baselines', {})))})"
                       if best else "not recorded"),
            "reference success": (", ".join(f"{b} {round(100 * r)}%" for b, r in sorted(success.items()))
                                  if success else ""),
        })
    return pd.DataFrame(rows)


def methodology_markdown(manifest: dict, header_: Header, bases: list[str], variants: list[str],
                         n_values: list[int]) -> str:
    """The Methodology page's text, with this pool's numbers in it."""
    scoring = manifest.get("scoring", {})
    r_max = float(scoring.get("r_max", 4.0))
    min_n = scoring.get("min_interval_n", "?")
    samples = scoring.get("bootstrap_samples", "?")
    reference = scoring.get("reference", "the reference baseline")
    p = header_.protocol
    n_text = (f"{min(n_values)}" if n_values and min(n_values) == max(n_values)
              else f"{min(n_values)}-{max(n_values)}" if n_values else "?")
    return f"""
### How a score is made

**1. Targets.** Each workload has a validation target (and a test target reported next to it) on each hardware class.
Podium's target-setting procedure (`podium targets set`) ran every reference baseline of the track for a fixed number
of updates on at least 10 seeds; per seed it took the level the validation metric *held* for 3 consecutive
evaluations; the baseline with the best median level sets the target: the level at least 90% of its seeds held. The
budget is 3 × the median updates that baseline needed × its fastest measured time per update. The table below gives
each workload's target, budget, the baseline that set it and how often each reference reached it in its budget.

**2. The clock.** Time-to-result counts only the submission's own code: the time inside its update (and, where the
track has them, its data selection and preparation for evaluation), each measured with a device sync. Initialisation
and evaluation are recorded but not counted. The harness evaluates whenever the workload's evaluation period of
submission time has passed; the time-to-result is the submission time at the first evaluation that meets the
validation target. A trial that does not meet it within the budget is a **miss** (time ∞). The clock is bound before
the submission is imported, so the submission cannot change it, and the supervisor cross-checks it against its own.

**3. The protocol.** Here: **{header_.protocol_text()}**. In each study every hyperparameter point runs on the
tuning seeds; the point with the lowest median time is chosen (it never sees a scoring seed); it is re-run on
{p.get('scoring_seeds', '?')} held-out scoring seeds, whose median time is the study's time. A workload's time is the
median over studies.

**4. Ratios.** Per workload, a submission's ratio is its time divided by the best time in the pool (1 = fastest). A
ratio above r_max = {r_max:g} counts as a miss.

**5. Variants.** Held-out variants ({', '.join(variants) or 'none in this pool'}) change one thing of a base
workload; they are not scored on their own. {pools.variant_rule_text(manifest)}. A base time that fails this check
is shown as a *variant miss*, with the variant named.

**6. The profile and the score.** ρ(τ) is the share of the pool's {len(bases)} base workloads
({', '.join(bases) or 'none'}) a submission solves within τ × the best time. The benchmark score is the area under ρ
from τ = 1 to r_max = {r_max:g}, normalised to [0, 1]: 1 means fastest everywhere, 0 solved nothing within r_max.
Speedup compares times with the reference `{reference}` (geometric mean over base workloads; a miss counts as
budget + 1 s).

**7. Intervals and n.** n = studies × scoring seeds behind a time (here {n_text}; the fewest on any base workload
counts for the score). The 95% interval of a score comes from {samples} bootstrap resamples over studies and scoring
seeds. Below n = {min_n} there is no interval and no best rank, only the reason. *Best rank*: 1 + the number of
submissions whose whole interval lies above this one's.
"""


def how_to_submit_markdown(track: str, release: str, hardware_class: str) -> str:
    """The How to submit page for one track."""
    contract = {"training": "harness/tracks/training.py", "peft": "harness/tracks/peft.py",
                "compression": "harness/tracks/compression.py"}.get(track, f"harness/tracks/{track}.py")
    folder = {
        "training": "`submission.py` (`init_optimizer_state`, `update_params`, `get_batch_size`, optionally "
                    "`data_selection`; AlgoPerf's signatures) and `search_space.json`",
        "peft": "either `submission.py` with `adapt(model, workload, hyperparameters, rng)` (optionally a per-step "
                "hook and the training functions), or a Hugging Face `peft` `adapter_config.json`; plus "
                "`search_space.json`",
        "compression": "`submission.py` with `compress(model, workload, calibration_batches, train_queue, "
                       "hyperparameters, rng)` (it returns the compressed `torch.nn.Module`) and `search_space.json`",
    }.get(track, f"what `{contract}` declares, and `search_space.json`")
    return f"""
### How to submit ({track} track)

**1. The folder.** One folder per submission: {folder}; a `README.md` that says what the method is. The contract
is `{contract}`: every function, its arguments and what it may return.

**2. Check it.** `podium check path/to/folder` validates the folder (names, signatures, the search space) and runs a
few real steps on a small workload; each problem is one message that says what and where.

**3. Run it.** Sealed, as the leaderboard runs it: no network, read-only code, its own process:

```
podium run path/to/folder --suite lite --hardware-class {hardware_class} --executor docker
podium score
podium publish --release {release}
podium board
```

The track is read from what the folder contains. `podium run --help` lists the protocol options (studies, trials,
tuning and scoring seeds); use the release's (the header above) to compare with the leaderboard.

**4. Send it.** Open a pull request that adds your folder under `submissions/{track}/` (your code, `search_space.json`,
`README.md`); the maintainers re-run it on the release's hardware with held-out scoring seeds. Your own numbers are
not used: they tell you what to expect.
"""


def bibtex(manifest: dict) -> str:
    """The BibTeX entry of a release.

    >>> print(bibtex({"release": "2026.11-dev", "created_at": "2026-12-01T15:14:20+00:00",
    ...              "harness_commit": "ce89ad5de53bd3204"}))  # doctest: +NORMALIZE_WHITESPACE
    @misc{podium_2026_11_dev,
      title = {Podium: time-to-result benchmark, release 2026.11-dev},
      year = {2026},
      month = {12},
      note = {Release bundle 2026.11-dev, harness commit ce89ad5de53b},
      howpublished = {Podium leaderboard}
    }
    """
    release = str(manifest.get("release", "unknown"))
    created = str(manifest.get("created_at") or "")
    key = "podium_" + "".join(c if c.isalnum() else "_" for c in release)
    commit = str(manifest.get("harness_commit") or "")[:12]
    lines = [f"@misc{{{key},", f"  title = {{Podium: time-to-result benchmark, release {release}}},"]
    if len(created) >= 7:
        lines += [f"  year = {{{created[:4]}}},", f"  month = {{{created[5:7]}}},"]
    lines += [f"  note = {{Release bundle {release}" + (f", harness commit {commit}" if commit else "") + "},",
              "  howpublished = {Podium leaderboard}", "}"]
    return "\n".join(lines)


def finite(values) -> list[int]:
    """Whole, finite numbers of a column (n per workload), for the Methodology text."""
    out = []
    for v in values:
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if not math.isnan(f) and not math.isinf(f):
            out.append(int(f))
    return out
