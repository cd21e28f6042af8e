"""``podium demo``: the main job. The reference baselines on each track's lite suite (with its held-out variants),
then scoring and a release bundle.

What the default demo runs is chosen to finish within 15 minutes on an idle 2-core machine with 3 scoring seeds (an
interval on every score), and every choice is printed when it runs:

* training track: :data:`DEMO_TRAINING_BASELINES` on :data:`DEMO_TRAINING_WORKLOADS`, the lite suite's MLPs and CNN
  (its transformers would add several minutes a seed each). ``nesterov`` reaches the digits
  targets, but on Fashion-MNIST only 1 of its 40 target-setting seeds (`podium targets show`), so it runs nearly
  every Fashion-MNIST trial to its budget: its 12 took 321 s of trial wall time in a fresh-clone demo on
  2026-12-01, of a training part of ~14 minutes;
* PEFT track: :data:`DEMO_PEFT_BASELINES` on :data:`DEMO_PEFT_WORKLOADS`, the lite suite's fast workloads (the
  regroup workload's trials are short: every baseline meets its target within a few seconds of updates).
  ``minilm_rotten_tomatoes`` is not one of them: a trial fine-tunes a 22M-parameter encoder for ~100 s of updates to
  its target (72-120 updates at ~1.4 s here), so its base and its variant take ~15 minutes with one baseline alone;
* compression track: :data:`DEMO_COMPRESSION_BASELINES` on :data:`DEMO_COMPRESSION_WORKLOADS` (the Fashion-MNIST
  CNN's bytes and latency workloads). The MiniLM pair is not: its measurement alone is ~1 minute a trial, and the
  baseline that reaches its targets, ``structured_prune``, compresses for ~265 s.

``--track training``, ``--track peft`` or ``--track compression`` runs every baseline of that track on its whole lite suite (``--baseline``
picks some); that is the reference run, and on 2 cores the PEFT and compression ones take hours (8 and 7 baselines,
MiniLM trials of up to 301 s of updates or 795.5 s of compress time each)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from rich.console import Console

from harness.publish import publish, workload_specs
from harness.release import scored_workloads
from harness.report import build_pools, metrics_from_specs, score_pool, workload_details
from harness.runner.run import BENCHMARK_RELEASE, RunConfig, execute
from harness.ui import RichProgress, results_table, score_table, workload_times_table
from workloads import get_spec, variant_bases
from workloads.spec import DEFAULT_HARDWARE_CLASS

SUBMISSIONS_DIR = Path(__file__).resolve().parent.parent / "submissions"
BASELINES_DIR = SUBMISSIONS_DIR / "training"
#: the training baselines of the default demo: the reference (adamw) and the one that sets most targets.
DEMO_TRAINING_BASELINES = ("adamw", "nadamw")
#: the training lite suite's base workloads the default demo runs (with their scored variants): the small MLPs and
#: CNN. ``tiny_lm`` (a transformer language model: ~100 s of updates to its target with adamw, a budget of ~5
#: minutes that a baseline which misses runs out) and ``minilm_rotten_tomatoes_ft`` (full fine-tuning of a 22.7 M
#: parameter encoder, ~2 s an update) would each add several minutes a seed; `podium demo --track training` runs them.
DEMO_TRAINING_WORKLOADS = ("digits_mlp", "fashion_mnist_mlp", "fashion_mnist_cnn")
#: the PEFT baselines of the default demo: a parameter-efficient and a full method. A head-only probe would add the
#: cheap end of the Pareto charts, but it misses the lite targets (set by full fine-tuning) and so runs every trial
#: to its budget: ~190 s of a 15-minute demo (measured, 3 seeds); `--track peft` runs it.
DEMO_PEFT_BASELINES = ("lora", "full_finetune")
#: the PEFT lite suite's base workloads the default demo runs (with their scored variants); see the module docstring.
DEMO_PEFT_WORKLOADS = ("fashion_cnn_transfer", "fashion_cnn_regroup")
#: the compression baselines of the default demo: the reference (PyTorch's own int8), under a second of compress time
#: on the CNN. A trial costs its measurement, ~10 s (a fresh process: torch's import, the held-out data, quality on
#: 15,000 images, latency against the dense model), so each baseline adds ~1 minute on 3 seeds; with `obs_prune` as
#: well the demo took 15.0 minutes in a fresh-clone CI run (2026-12-02), at its limit. `--track compression` runs all.
DEMO_COMPRESSION_BASELINES = ("dynamic_int8",)
#: the compression lite suite's base workloads the default demo runs: the CNN's two goals. A MiniLM trial's
#: measurement alone is ~1 minute here (quality on 2,600 texts, latency against the dense encoder): its two goals on 3
#: seeds would add ~6 minutes with one baseline.
DEMO_COMPRESSION_WORKLOADS = ("fashion_cnn_compress", "fashion_cnn_compress_latency")


def baselines(track: str = "training", names: tuple[str, ...] | None = None) -> list[Path]:
    """The reference baselines of a track (``submissions/<track>/*``): folders with ``submission.py`` or a PEFT
    ``adapter_config.json``; only ``names`` when given."""
    folder = SUBMISSIONS_DIR / track
    found = sorted(p for p in folder.iterdir() if (p / "submission.py").exists()
                   or (p / "adapter_config.json").exists()) if folder.is_dir() else []
    return [p for p in found if names is None or p.name in names]


#: Held-out scoring seeds per workload in the demo (``--scoring-seeds``): the fewest for which a workload time gets an
#: interval (:data:`harness.scoring.MIN_INTERVAL_N`). Most of the demo's time is budgets run out by trials that
#: miss, which scales with the seeds: with 3, both tracks took 21.9 minutes on an idle 2-core machine when the PEFT
#: part had three baselines (72 trials, 1,218 s of trial wall time; the training track alone 14.3 minutes).
DEMO_SCORING_SEEDS = 3


class DemoError(RuntimeError):
    """A reference baseline's trial failed: the harness, not the baseline, is broken. The message lists them."""


def failed_trials(rows: list[dict]) -> list[dict]:
    """Trials that ended ``failed`` or ``timed_out`` (a miss is a result; a failure of a baseline is a bug)."""
    return [r for r in rows if r["status"] in ("failed", "timed_out")]


@dataclass(frozen=True)
class Part:
    """One track's part of the demo: these baselines on these workloads (bases and their scored variants)."""

    track: str
    baselines: list[Path]
    workloads: tuple[str, ...]
    left_out: str = ""  # what the default demo leaves out of this track, and how to run it
    secret: str | None = field(default=None, repr=False)  # the release secret the variants were drawn with

    @property
    def label(self) -> str:
        """The run's label (its id's suite part): ``lite`` for the whole lite suite, ``demo`` for a part of it (so
        that a later ``--track`` run of the whole suite is a run of its own, not a different plan under one id)."""
        return "lite" if self.workloads == _bases_and_variants(self.track, secret=self.secret) else "demo"


def _bases_and_variants(track: str, bases: tuple[str, ...] | None = None,
                        secret: str | None = None) -> tuple[str, ...]:
    """The track's lite suite (only ``bases`` of it, when given) with this release's scored variants (drawn with
    the release ``secret`` when given, see :mod:`harness.release`)."""
    scored = scored_workloads("lite", BENCHMARK_RELEASE, secret, track=track)
    keep = set(bases) if bases is not None else {w for w in scored if get_spec(w).base is None}
    return tuple(w for w in scored if w in keep or get_spec(w).base in keep)


def _named(kind: str, names: list[str]) -> str:
    """
    >>> _named("baseline", ["nesterov"]), _named("workload", ["a", "b"])
    ('baseline nesterov', 'workloads a, b')
    """
    return f"{kind}{'s' if len(names) != 1 else ''} {', '.join(names)}"


def demo_plan(track: str | None = None, only: tuple[str, ...] | None = None,
              secret: str | None = None) -> list[Part]:
    """What the demo runs: with ``track``, its baselines (``only`` these, when given) on its whole lite suite; by
    default :data:`DEMO_TRAINING_BASELINES` on the training lite suite and :data:`DEMO_PEFT_BASELINES` on
    :data:`DEMO_PEFT_WORKLOADS`. The held-out variants are drawn with the release ``secret`` when given.

    Raises:
        DemoError: a workload to run has no targets on this hardware class (``podium targets set`` makes them), or
            ``only`` names no baseline of the track.
    """
    def draw(of_track: str, bases: tuple[str, ...] | None = None) -> tuple[str, ...]:
        return _bases_and_variants(of_track, bases, secret)

    if track is not None:
        chosen = baselines(track, only)
        unknown = sorted(set(only or ()) - {p.name for p in chosen})
        if unknown:
            raise DemoError(f"no {track} baseline named {', '.join(unknown)}: choose from "
                            f"{', '.join(p.name for p in baselines(track))}")
        parts = [Part(track, chosen, draw(track))]
    else:
        if only:
            raise DemoError("--baseline needs --track (the baselines of which track?)")
        training = baselines("training", DEMO_TRAINING_BASELINES)
        training_workloads = draw("training", DEMO_TRAINING_WORKLOADS)
        skipped_training = [w for w in draw("training") if w not in training_workloads]
        peft_workloads = draw("peft", DEMO_PEFT_WORKLOADS)
        skipped_peft = [w for w in draw("peft") if w not in peft_workloads]
        compression_workloads = draw("compression", DEMO_COMPRESSION_WORKLOADS)
        skipped_compression = [w for w in draw("compression") if w not in compression_workloads]
        parts = [Part("training", training, training_workloads,
                      (f"{_named('workload', skipped_training)} and " if skipped_training else "")
                      + f"{_named('baseline', [p.name for p in baselines('training') if p not in training])} "
                      "(`podium demo --track training` runs every one)"),
                 Part("peft", baselines("peft", DEMO_PEFT_BASELINES), peft_workloads,
                      f"{_named('workload', skipped_peft)} and "
                      f"{_named('baseline', [p.name for p in baselines('peft') if p.name not in DEMO_PEFT_BASELINES])} "
                      "(`podium demo --track peft` runs every one; hours on 2 cores)"),
                 Part("compression", baselines("compression", DEMO_COMPRESSION_BASELINES), compression_workloads,
                      (f"{_named('workload', skipped_compression)} and " if skipped_compression else "")
                      + f"{_named('baseline', [p.name for p in baselines('compression') if p.name not in DEMO_COMPRESSION_BASELINES])} "
                      "(`podium demo --track compression` runs every one; hours on 2 cores)")]
    parts = [replace(part, secret=secret) for part in parts]
    missing = [w for part in parts for w in part.workloads if DEFAULT_HARDWARE_CLASS not in get_spec(w).targets]
    if missing:
        raise DemoError(f"no targets for {', '.join(missing)} on {DEFAULT_HARDWARE_CLASS}: run `podium targets "
                        f"set --workload NAME` first")
    return parts


def run_demo(db: Path, console: Console, bundles: Path | None = None, track: str | None = None,
             scoring_seeds: int = DEMO_SCORING_SEEDS, only: tuple[str, ...] | None = None,
             secret: str | None = None) -> Path:
    """Each baseline of the plan (:func:`demo_plan`): its first hyperparameter point (a study with one point runs it
    on the held-out scoring seeds directly) on its part's workloads. Then ``podium score`` and ``podium publish``.

    Returns the bundle. Raises :class:`DemoError` after publishing when any baseline trial failed.
    """
    rows, times, names = [], [], []
    plan = demo_plan(track, only, secret)
    for part in plan:
        console.print(f"[bold]{part.track}[/]: {', '.join(p.name for p in part.baselines)} on "
                      f"{', '.join(part.workloads)}" + (f"; left out: {part.left_out}" if part.left_out else ""),
                      highlight=False)
    for part in plan:
        names += part.workloads
        for folder in part.baselines:
            console.rule(f"[bold]{folder.name}[/] on the {part.track} track's lite suite ({len(part.workloads)} "
                         "workloads)")
            config = RunConfig(submission_dir=folder, workloads=part.workloads, label=part.label, db=db, trials=1,
                               scoring_seeds=scoring_seeds)
            with RichProgress(console) as progress:
                run_id, store = execute(config, progress)
            rows += store.trials(run_id)
            times += store.workload_times(run_id)
    console.print(results_table(rows, title="Podium demo: reference baselines on the lite suites (cpu-2core)"))
    metrics = metrics_from_specs(workload_specs(names))
    console.print(workload_times_table(times, workload_details(rows, metrics)))
    for pool in build_pools(store.trials(), variant_bases(), metrics):
        console.print(score_table(pool, score_pool(pool)))
    # The demo shows what a run records, contention flags included; a release for publication would re-run them.
    bundle = publish(db, bundles or db.parent / "bundles", BENCHMARK_RELEASE, variant_bases(), allow_contended=True,
                     secret=secret)
    console.print(f"Results database: {db}   Release bundle: {bundle}")
    console.print(f"Next: `podium results --db {db}`, `podium score --db {db} --out DIR`, "
                  f"`podium publish --verify {bundle}`, `make board`")
    failed = failed_trials(rows)
    if failed:
        raise DemoError(f"{len(failed)} reference baseline trial(s) failed: " + "; ".join(
            f"{r['trial_id']}: {r['status']}: {r['reason']}" for r in failed[:5]))
    return bundle
