"""A realistic synthetic release bundle, for tests and the render benchmark (``benchmarks/board_render.py``).

The tables are written directly with pandas in the layout :func:`harness.publish.publish` writes (same table names,
same columns as the results store returns them, same manifest with sha256 and row counts), but the ``scores`` and
``profiles`` tables come from the real scoring code (:func:`harness.publish.scored_tables`) applied to the synthetic
trials, so ``podium publish --verify`` accepts the bundle. Going through a SQLite database instead would commit (and
fsync) every one of the ~36,000 trials and ~400,000 evaluation rows of the benchmark bundle.

Each submission has a speed factor; each (workload, study) runs tuning trials on one tuning seed, then re-runs the
best point on the scoring seeds. Times are log-normal around ``base time x factor``; some trials miss or fail.
Learning curves rise like ``a (1 - exp(-t / tau))`` and cross the validation target at the time-to-result.

With ``peft_submissions`` > 0 the bundle also has a PEFT pool (track ``peft``: :mod:`harness.tracks.peft`) on its own
workloads (``p00``, ``p01``...): LoRA, IA3, BitFit, full fine-tuning... each with a trainable share of the model's
parameters, and per trial the measurements the PEFT track records (``measurements_json``: parameters, peak memory
growing with what is trained, adapter bytes, merged or unmerged latency, forgetting growing with the trainable
share). A failed trial has no measurements. The PEFT part draws from its own random stream, after the training part,
so it leaves the training pools as they were.

With ``compression_submissions`` > 0 the bundle also has a compression pool (track ``compression``:
:mod:`harness.tracks.compression`) on the two compression workloads, ``fashion_cnn_compress`` (its target bounds the
bytes ratio) and ``fashion_cnn_compress_latency`` (the latency ratio; a base workload of its own), described in the manifest
as ``podium publish`` describes them (``compression.measure``, the quality floor and ``compression_ratio`` per
hardware class): dynamic int8 quantization, magnitude pruning, pruning then int8, low rank, layer drop with
distillation... Each trial is one ``compress`` call (its seconds are the time-to-result when it reached), one
evaluation of the saved model, and the measurements the track records (bytes, latency, sparsity, bits per weight);
a trial reaches when its accuracy meets the floor and its workload's ratio the target, so a method can reach the
bytes target and miss the latency one. A failed trial has no measurements and no evaluation. The compression part
draws from a random stream of its own, after the PEFT part: the other pools stay as they were.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

TRACK, HARDWARE = "training", "cpu-2core"
PEFT_TRACK = "peft"
COMPRESSION_TRACK = "compression"
REFERENCE = "adamw"  # harness.report.REFERENCE_SUBMISSION: speedups need it in the pool
START = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SyntheticConfig:
    """Shape of the synthetic bundle. The defaults are the benchmark's 200 x 12 x 15."""

    submissions: int = 200
    workloads: int = 12  # the last ``workloads // 6`` are held-out variants of the first ones
    studies: int = 3
    tuning_points: int = 3  # per study, on one tuning seed
    scoring_seeds: int = 2  # per study: studies x (tuning_points + scoring_seeds) trials per workload
    evals_per_trial: int = 10
    self_share: float = 0.1  # share of submissions with a second run under the ``self`` ruleset
    release: str = "synthetic"
    seed: int = 0
    bootstrap: int = 200  # replicates for the score intervals (recorded in the manifest)
    peft_submissions: int = 0  # > 0: also a PEFT pool with this many submissions (see the module docstring)
    peft_workloads: int = 2
    compression_submissions: int = 0  # > 0: also a compression pool with this many submissions (module docstring)

    @property
    def trials_per_workload(self) -> int:
        return self.studies * (self.tuning_points + self.scoring_seeds)


def workload_names(cfg: SyntheticConfig) -> tuple[list[str], dict[str, str]]:
    """Workload names and the variant -> base map."""
    n_variants = cfg.workloads // 6
    bases = [f"w{i:02d}" for i in range(cfg.workloads - n_variants)]
    variants = {f"{bases[i]}_variant": bases[i] for i in range(n_variants)}
    return bases + list(variants), variants


def submission_names(n: int) -> list[str]:
    return [REFERENCE] + [f"method_{i:03d}" for i in range(1, n)]


@dataclass(frozen=True)
class PeftMethod:
    """A synthetic PEFT method: the share of the backbone it trains, whether it is merged before latency is timed
    (else its forward pass takes ``unmerged_latency`` x the base model's), forgetting at a full share (it grows with
    the square root of the share), and its time factor."""

    share: float
    merged: bool
    unmerged_latency: float = 1.0
    forgetting: float = 0.3
    factor: float = 1.0


#: Names beyond the list are ``peft_method_NNN`` with drawn values.
PEFT_METHODS = {
    "full_finetune": PeftMethod(1.0, False, factor=1.35), "lora_r8": PeftMethod(0.006, True, factor=0.95),
    "lora_r16": PeftMethod(0.012, True, factor=0.9), "ia3": PeftMethod(0.0004, True, factor=1.2),
    "bitfit": PeftMethod(0.001, False, factor=1.1), "prefix_tuning": PeftMethod(0.003, False, 1.18, factor=1.4),
    "adalora": PeftMethod(0.01, True, factor=1.05), "head_only": PeftMethod(0.0, False, factor=1.6),
}
#: PEFT workloads: parameters of the pretrained backbone and of the fresh head, base forward latency (ms)
PEFT_MODELS = ((22_713_216, 770, 14.0), (1_199_882, 1290, 2.5))


def peft_workload_names(cfg: SyntheticConfig) -> list[str]:
    return [f"p{i:02d}" for i in range(cfg.peft_workloads if cfg.peft_submissions else 0)]


def peft_submission_names(n: int) -> list[str]:
    return [*PEFT_METHODS][:n] + [f"peft_method_{i:03d}" for i in range(len(PEFT_METHODS), n)]


@dataclass(frozen=True)
class CompressionMethod:
    """A synthetic compressor: what its saved model measures against the dense model (deflated bytes, raw
    ``torch.save`` bytes, batch-1 latency), its sparsity and storage bits per weight, the accuracy it loses and its
    ``compress`` seconds."""

    bytes_ratio: float
    raw_ratio: float
    latency_ratio: float
    sparsity: float
    bits: float
    drop: float
    seconds: float


#: Names beyond the list are ``compress_method_NNN`` with drawn values. dynamic_int8 (the track's reference) and
#: prune_int8 meet both targets (dynamic_int8 close to the latency one); magnitude_prune meets the bytes target but
#: not the latency one (its zeros are stored densely: deflate squeezes them out, the dense kernels still multiply
#: them); low_rank and layer_drop_distill are fast but too large for the bytes target, layer_drop_distill often
#: below the floor too.
COMPRESSION_METHODS = {
    "dynamic_int8": CompressionMethod(0.27, 0.27, 0.92, 0.0, 8.4, 0.002, 6.0),
    "magnitude_prune": CompressionMethod(0.28, 1.0, 1.01, 0.8, 32.0, 0.003, 20.0),
    "prune_int8": CompressionMethod(0.12, 0.27, 0.90, 0.75, 8.4, 0.004, 14.0),
    "low_rank": CompressionMethod(0.45, 0.48, 0.62, 0.0, 32.0, 0.005, 10.0),
    "layer_drop_distill": CompressionMethod(0.58, 0.6, 0.55, 0.0, 32.0, 0.009, 40.0),
}
#: The compression workloads: the ratio their target bounds, the target, and the base of a held-out variant (none:
#: each goal is a base workload of its own, as in the suite).
COMPRESSION_WORKLOADS = {"fashion_cnn_compress": ("bytes_ratio", 0.30, None),
                         "fashion_cnn_compress_latency": ("latency_ratio", 0.95, None)}
#: The dense model they compress: validation and test accuracy, deflated and raw bytes, batch-1 p50 latency (ms) and
#: batch-32 throughput (examples/s); the floors are ``FLOOR_FRACTION`` of its accuracy; the budget in seconds.
DENSE = dict(accuracy=0.9052, test_accuracy=0.9011, bytes=822_417, raw_bytes=891_846, latency_ms=0.35,
             throughput=9000.0)
FLOOR_FRACTION, COMPRESSION_BUDGET_S = 0.99, 60.0


def compression_workload_names(cfg: SyntheticConfig) -> list[str]:
    return list(COMPRESSION_WORKLOADS) if cfg.compression_submissions else []


def compression_submission_names(n: int) -> list[str]:
    return [*COMPRESSION_METHODS][:n] + [f"compress_method_{i:03d}" for i in range(len(COMPRESSION_METHODS), n)]


def variants(cfg: SyntheticConfig) -> dict[str, str]:
    """Every held-out variant of the bundle and its base workload (training and compression): what scoring and
    ``verify`` need."""
    return {**workload_names(cfg)[1], **{w: base for w in compression_workload_names(cfg)
                                         if (base := COMPRESSION_WORKLOADS[w][2]) is not None}}


def compression_specs(cfg: SyntheticConfig) -> dict[str, dict[str, Any]]:
    """The compression workloads as the bundle's manifest describes them (as ``podium publish`` writes a spec)."""
    floor, test_floor = FLOOR_FRACTION * DENSE["accuracy"], FLOOR_FRACTION * DENSE["test_accuracy"]
    return {w: {"metric": "accuracy", "higher_is_better": True, "base": base,
                "budget_s": {HARDWARE: COMPRESSION_BUDGET_S},
                "targets": {HARDWARE: {"validation": floor, "test": test_floor, "compression_ratio": bound}},
                "compression": {"measure": measure, "floor_fraction": FLOOR_FRACTION}}
            for w, (measure, bound, base) in COMPRESSION_WORKLOADS.items() if w in compression_workload_names(cfg)}


def _curve(ttr: float, target: float, reached: bool, end: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Submission times and accuracies of ``n`` evaluations; crosses ``target`` at ``ttr`` when reached."""
    times = np.linspace(end / n, end, n)
    ceiling = target + 0.04 if reached else target - 0.03
    tau = -ttr / math.log(1 - target / ceiling) if reached else end / 3
    return times, ceiling * (1 - np.exp(-times / tau))


class _Writer:
    """Accumulates the rows of one bundle."""

    def __init__(self, cfg: SyntheticConfig) -> None:
        self.cfg = cfg
        self.rng = np.random.default_rng(cfg.seed)
        self.workloads, self.variant_of = workload_names(cfg)
        self.base_time = {w: float(self.rng.uniform(20, 200)) for w in self.workloads}
        self.target = {w: float(self.rng.uniform(0.8, 0.95)) for w in self.workloads}
        self.tables: dict[str, list[dict[str, Any]]] = {"runs": [], "trials": [], "evals": [], "workload_times": []}
        self.clock = START

    def tick(self) -> str:
        self.clock += timedelta(seconds=1)
        return self.clock.isoformat(timespec="seconds")

    def run(self, sub: str, ruleset: str, factor: float, label: str = "lite", track: str = TRACK,
            workloads: list[str] | None = None, method: PeftMethod | CompressionMethod | None = None) -> str:
        """One run of ``sub`` over ``workloads`` (the training workloads by default); a PEFT ``method``'s trials
        carry measurements."""
        run_id = f"{sub}.{ruleset}.{label}.{HARDWARE}"
        self.tables["runs"].append(dict(
            run_id=run_id, created_at=self.tick(), track=track, submission_name=sub,
            submission_dir=f"submissions/{sub}",
            submission_hash=hashlib.blake2b(sub.encode(), digest_size=16).hexdigest(), ruleset=ruleset,
            hardware_class=HARDWARE, release=self.cfg.release, harness_version="0.1.0", git_commit="0" * 40,
            config_json=json.dumps({"studies": self.cfg.studies, "trials": self.cfg.tuning_points})))
        for w in self.workloads if workloads is None else workloads:
            self.workload(run_id, sub, ruleset, w, factor, track, method)
        return run_id

    def workload(self, run_id: str, sub: str, ruleset: str, w: str, factor: float, track: str = TRACK,
                 method: PeftMethod | CompressionMethod | None = None) -> None:
        cfg, study_times, selected = self.cfg, {}, {}
        for study in range(cfg.studies):
            lrs = 10 ** self.rng.uniform(-4, -2, cfg.tuning_points)
            tuning = [self.trial(run_id, sub, ruleset, w, factor, study, p, "tuning", 0, {"learning_rate": lr},
                                 track, method) for p, lr in enumerate(lrs)]
            best = min(range(cfg.tuning_points), key=lambda p: tuning[p])
            scoring = [self.trial(run_id, sub, ruleset, w, factor, study, best, "scoring", k,
                                  {"learning_rate": lrs[best]}, track, method) for k in range(cfg.scoring_seeds)]
            study_times[study], selected[study] = float(np.median(scoring)), best
        finite = sorted(study_times.values())
        self.tables["workload_times"].append(dict(
            run_id=run_id, workload=w, workload_time_s=float(np.median(finite)),
            algoperf_time_s=float(np.median(finite)), study_times_json=json.dumps(study_times),
            selected_json=json.dumps(selected), computed_at=self.tick(), submission_name=sub, ruleset=ruleset,
            hardware_class=HARDWARE))

    def trial(self, run_id: str, sub: str, ruleset: str, w: str, factor: float, study: int, point: int, role: str,
              seed_index: int, hparams: dict[str, float], track: str = TRACK,
              method: PeftMethod | CompressionMethod | None = None) -> float:
        """Appends one trial and its evaluations; returns its time-to-result (``inf`` = miss or failure)."""
        if isinstance(method, CompressionMethod):
            return self.compression_trial(run_id, sub, ruleset, w, study, point, role, seed_index, hparams, method)
        budget = 4 * self.base_time[w]
        time = self.base_time[w] * factor * float(self.rng.lognormal(0, 0.15))
        failed = self.rng.random() < 0.01
        status = "failed" if failed else "reached" if time <= budget and self.rng.random() > 0.03 else "missed"
        end = min(time, budget) if status == "reached" else budget * (0.3 if failed else 1.0)
        trial_id = f"{run_id}.{w}.s{study}.{role}.p{point}.k{seed_index}"
        seed = int(hashlib.sha256(trial_id.encode()).hexdigest()[:8], 16)
        cross, n = end, self.cfg.evals_per_trial
        if method is not None and status == "reached":
            # the target is crossed between two evaluations and seen at the next one: the last value lands past the
            # target, further for methods that train more (the earlier evaluation stays below the target)
            cross = end * (1 - 0.95 / n * float(self.rng.uniform(0.3, 1.0)) * (0.25 + 0.75 * method.share ** 0.25))
        times, accuracy = _curve(cross, self.target[w], status == "reached", end, n)
        steps_per_s = 50.0 / factor
        for k, (t, acc) in enumerate(zip(times, accuracy)):
            self.tables["evals"].append(dict(
                trial_id=trial_id, eval_index=k, step=int(t * steps_per_s), submission_time_s=float(t),
                eval_time_s=0.2, wall_time_s=float(t * 1.1 + 0.2 * (k + 1)),
                metrics_json=json.dumps({"accuracy": float(acc), "loss": float(-math.log(max(acc, 1e-3)))}),
                logged_json="[]"))
        reached = status == "reached"
        measured = self.measure(w, method) if method is not None and not failed else None  # failed: not measured
        self.tables["trials"].append(dict(
            trial_id=trial_id, run_id=run_id, workload=w, workload_spec_hash="spec-" + w, data_revision="sha256:0",
            study=study, trial_index=point, role=role, seed=seed, hyperparameters_json=json.dumps(hparams),
            budget_s=budget, validation_target=self.target[w], status=status,
            reason=("non-finite validation metrics at step 120" if failed else
                    "" if reached else f"validation accuracy never met the target {self.target[w]:.4f}"),
            time_to_result_s=end if reached else None, steps=int(end * steps_per_s), submission_time_s=end,
            eval_time_s=0.2 * len(times), init_time_s=0.5, startup_time_s=1.5, overhead_time_s=0.1,
            wall_time_s=end * 1.1 + 2.5, peak_rss_bytes=400 * 1024**2, batch_size=128,
            validation_json=json.dumps({"accuracy": float(accuracy[-1])}), test_json=json.dumps({}),
            test_target_met=int(reached), provenance_json=json.dumps(_PROVENANCE), log_path="", record_version=1,
            started_at=self.tick(), finished_at=self.tick(), seed_index=seed_index, cpu_affinity=None,
            submission_name=sub, hardware_class=HARDWARE, track=track, ruleset=ruleset, release=self.cfg.release,
            measurements_json=json.dumps(measured) if measured is not None else None))
        return end if reached else math.inf

    def peft_runs(self, names: list[str]) -> None:
        """The PEFT pool: one run per method over the PEFT workloads, from a random stream of its own."""
        self.rng = np.random.default_rng((self.cfg.seed, 1))
        workloads = peft_workload_names(self.cfg)
        for w in workloads:
            self.base_time[w] = float(self.rng.uniform(20, 200))
            self.target[w] = float(self.rng.uniform(0.8, 0.95))
        self.models = {w: PEFT_MODELS[i] if i < len(PEFT_MODELS) else
                       (int(self.rng.integers(1, 50)) * 1_000_000, 1000, float(self.rng.uniform(2, 20)))
                       for i, w in enumerate(workloads)}
        for name in names:
            method = PEFT_METHODS.get(name) or PeftMethod(
                float(10 ** self.rng.uniform(-3.5, -1)), bool(self.rng.random() < 0.6),
                float(self.rng.uniform(1.0, 1.25)), factor=float(self.rng.lognormal(0, 0.25)))
            self.run(name, "external", method.factor, track=PEFT_TRACK, workloads=workloads, method=method)

    def compression_runs(self, names: list[str]) -> None:
        """The compression pool: one run per method over the compression workloads, from a random stream of its
        own."""
        self.rng = np.random.default_rng((self.cfg.seed, 2))
        for name in names:
            method = COMPRESSION_METHODS.get(name) or CompressionMethod(
                float(self.rng.uniform(0.1, 0.6)), float(self.rng.uniform(0.25, 1.0)),
                float(self.rng.uniform(0.5, 1.1)),
                float(self.rng.choice([0.0, 0.5, 0.8])), float(self.rng.choice([8.4, 16.0, 32.0])),
                float(self.rng.uniform(0.0, 0.012)), float(self.rng.uniform(2, 50)))
            self.run(name, "external", 1.0, track=COMPRESSION_TRACK, workloads=compression_workload_names(self.cfg),
                     method=method)

    def compression_trial(self, run_id: str, sub: str, ruleset: str, w: str, study: int, point: int, role: str,
                          seed_index: int, hparams: dict[str, float], method: CompressionMethod) -> float:
        """One ``compress`` call, its one evaluation and its measurements (as ``harness.runner.worker`` records
        them); returns its time-to-result (``inf`` = miss or failure)."""
        measure_name, bound, _ = COMPRESSION_WORKLOADS[w]
        floor, budget = FLOOR_FRACTION * DENSE["accuracy"], COMPRESSION_BUDGET_S
        seconds = method.seconds * float(self.rng.lognormal(0, 0.15))
        failed = self.rng.random() < 0.02
        accuracy = DENSE["accuracy"] - method.drop + float(self.rng.normal(0, 0.003))
        measured = None if failed else self.compression_measure(method)
        misses = []
        if measured is not None:
            if accuracy < floor:
                misses.append(f"validation accuracy {accuracy:.4f} is below the floor {floor:.4f}")
            if not measured[measure_name] <= bound:
                misses.append(f"{measure_name} {measured[measure_name]:.3f} is over the target {bound:.3f}")
            if seconds > budget:
                misses.append(f"compress took {seconds:.1f}s, over the {budget:g}s budget")
        status = "failed" if failed else "missed" if misses else "reached"
        trial_id = f"{run_id}.{w}.s{study}.{role}.p{point}.k{seed_index}"
        seed = int(hashlib.sha256(trial_id.encode()).hexdigest()[:8], 16)
        validation = {} if failed else {"accuracy": accuracy, "loss": -math.log(accuracy)}
        if not failed:  # a failed compress call is neither saved nor evaluated
            self.tables["evals"].append(dict(
                trial_id=trial_id, eval_index=0, step=0, submission_time_s=seconds, eval_time_s=3.0,
                wall_time_s=seconds + 3.0, metrics_json=json.dumps(validation), logged_json="[]"))
        test = DENSE["test_accuracy"] - method.drop + float(self.rng.normal(0, 0.003))
        reached = status == "reached"
        self.tables["trials"].append(dict(
            trial_id=trial_id, run_id=run_id, workload=w, workload_spec_hash="spec-" + w, data_revision="sha256:0",
            study=study, trial_index=point, role=role, seed=seed, hyperparameters_json=json.dumps(hparams),
            budget_s=budget, validation_target=floor, status=status,
            reason=("compress raised RuntimeError: shapes do not match" if failed else "; ".join(misses)),
            time_to_result_s=seconds if reached else None, steps=0, submission_time_s=seconds,
            eval_time_s=0.0 if failed else 3.0, init_time_s=0.5, startup_time_s=1.5, overhead_time_s=0.1,
            wall_time_s=seconds + 5.1, peak_rss_bytes=600 * 1024**2, batch_size=32,
            validation_json=json.dumps(validation), test_json=json.dumps({} if failed else {"accuracy": test}),
            test_target_met=None if failed else int(test >= FLOOR_FRACTION * DENSE["test_accuracy"]),
            provenance_json=json.dumps(_PROVENANCE), log_path="", record_version=1,
            started_at=self.tick(), finished_at=self.tick(), seed_index=seed_index, cpu_affinity=None,
            submission_name=sub, hardware_class=HARDWARE, track=COMPRESSION_TRACK, ruleset=ruleset,
            release=self.cfg.release, measurements_json=json.dumps(measured) if measured is not None else None))
        return seconds if reached else math.inf

    def compression_measure(self, method: CompressionMethod) -> dict[str, Any]:
        """One saved model's measurements (the keys ``harness.tracks.compression.measure`` returns)."""
        size = DENSE["bytes"] * method.bytes_ratio * float(self.rng.lognormal(0, 0.005))
        dense_ms = DENSE["latency_ms"] * float(self.rng.lognormal(0, 0.04))
        ratio = method.latency_ratio * float(self.rng.lognormal(0, 0.03))
        dense_throughput = DENSE["throughput"] * float(self.rng.lognormal(0, 0.04))
        int8 = method.bits < 16
        return dict(raw_bytes=int(DENSE["raw_bytes"] * method.raw_ratio), bytes=int(size), dense_bytes=DENSE["bytes"],
                    bytes_ratio=int(size) / DENSE["bytes"], sparsity=method.sparsity,
                    bits_per_weight=method.bits,
                    dtypes={"qint8": 217_000, "float32": 5_000} if int8 else {"float32": 222_000},
                    latency_p50_ms=dense_ms * ratio, latency_p90_ms=dense_ms * ratio * 1.15,
                    dense_latency_p50_ms=dense_ms, latency_ratio=ratio,
                    throughput=dense_throughput / ratio / float(self.rng.lognormal(0, 0.03)),
                    dense_throughput=dense_throughput, latency_spread=1.03)  # no draw: the stream stays as it was

    def measure(self, w: str, method: PeftMethod) -> dict[str, float]:
        """One trial's measurements (the keys of ``harness.tracks.peft.MEASUREMENTS``)."""
        backbone, head, base_latency = self.models[w]
        share = method.share
        trainable = round(share * backbone) + head  # the fresh head is always trained
        adds = 0 if method.merged or share >= 1 or method.unmerged_latency == 1.0 else round(share * backbone)
        total = backbone + head + adds  # an unmerged adapter that slows the forward pass adds parameters
        # the process, the weights, gradients and AdamW's two moments of what is trained, and the activations kept
        # for backpropagation through the backbone (none when only the head trains)
        activations = 0 if share == 0 else 2 * backbone * (1 + 0.5 * share)
        memory = (250 * 2**20 + 4 * total + 12 * trainable + activations) * float(self.rng.lognormal(0, 0.01))
        base = base_latency * float(self.rng.lognormal(0, 0.04))
        latency = base * (1.0 if method.merged else method.unmerged_latency) * float(self.rng.lognormal(0, 0.03))
        return dict(trainable_params=float(trainable), total_params=float(total), peak_memory_bytes=float(memory),
                    adapter_bytes=float(4 * trainable), latency_ms=latency, base_latency_ms=base,
                    latency_ratio=latency / base, merged=float(method.merged),
                    forgetting=method.forgetting * math.sqrt(share) * float(self.rng.lognormal(0, 0.1)),
                    adapt_s=0.05 * float(self.rng.lognormal(0, 0.5)))


_PROVENANCE = {"harness_version": "0.1.0", "git_commit": "0" * 40, "python": "3.11.2",
               "packages": {"torch": "2.13.0", "numpy": "2.2.0"}, "cpu_model": "synthetic CPU", "cpu_count": 2,
               "threads": 2, "cuda": None, "platform": "Linux"}


def _submission_rows(writer: _Writer, names: list[str]) -> list[dict[str, Any]]:
    latest = {r["submission_name"]: r for r in writer.tables["runs"]}
    return [{"submission": name, "track": latest[name]["track"], "latest_run": latest[name]["run_id"],
             "submission_hash": latest[name]["submission_hash"],
             "readme": f"# {name}\n\n" + README[latest[name]["track"]],
             "search_space": json.dumps({"learning_rate": {"min": 1e-4, "max": 1e-2, "scaling": "log"}}),
             # the third submission's source changed after its run: the leaderboard flags it as stale
             "current_hash": latest[name]["submission_hash"] if i != 2 else "changed"}
            for i, name in enumerate(names)]


README = {TRACK: "A synthetic submission: Adam-like updates with a tuned learning rate.\n",
          PEFT_TRACK: "A synthetic PEFT method: a share of the pretrained model is trained.\n",
          COMPRESSION_TRACK: "A synthetic compressor: the trained dense model, quantized, pruned or factored.\n"}


#: Columns ``ResultsStore`` joins from ``runs`` into its ``trials()`` and ``workload_times()`` rows.
JOINED = {"trials": ["submission_name", "hardware_class", "track", "ruleset", "release"],
          "workload_times": ["submission_name", "ruleset", "hardware_class"], "runs": [], "evals": []}


def _sql_default(text: str | None) -> Any:
    """
    >>> _sql_default("'local'"), _sql_default("0"), _sql_default(None)
    ('local', 0, None)
    """
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text.strip("'")


def with_store_columns(table: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with exactly the columns (in order, with defaults) the current store schema gives them, so the synthetic
    bundle follows schema migrations (a new trial column appears here with its default)."""
    import sqlite3

    from harness.store.schema import MIGRATIONS

    db = sqlite3.connect(":memory:")
    for script in MIGRATIONS:
        for statement in script.split(";"):
            if statement.strip():
                db.execute(statement)
    columns = {row[1]: _sql_default(row[4]) for row in db.execute(f"PRAGMA table_info({table})")}
    db.close()
    keys = [*columns, *JOINED[table]]
    return [{k: row.get(k, columns.get(k)) for k in keys} for row in rows]


def write_synthetic_bundle(out: Path, cfg: SyntheticConfig = SyntheticConfig()) -> Path:
    """Write the bundle ``out/<release>/`` and return its folder."""
    import pandas as pd

    from harness.publish import BUNDLE_FORMAT, TABLES, scored_tables, sha256
    from harness.report import degenerate_warnings, metrics_from_specs, strict_json

    writer = _Writer(cfg)
    names = submission_names(cfg.submissions)
    factors = {n: 1.0 if n == REFERENCE else float(writer.rng.lognormal(0, 0.35)) for n in names}
    writer.run(names[1], "external", factors[names[1]] * 1.3, label="old")  # superseded by the run below
    for name in names:
        writer.run(name, "external", factors[name])
    for name in names[:max(2, int(cfg.self_share * cfg.submissions))]:
        writer.run(name, "self", factors[name] * 0.9)
    peft_names = peft_submission_names(cfg.peft_submissions)
    if peft_names:
        writer.peft_runs(peft_names)
    compression_names = compression_submission_names(cfg.compression_submissions)
    if compression_names:
        writer.compression_runs(compression_names)
    specs = {w: {"metric": "accuracy", "higher_is_better": True}
             for w in workload_names(cfg)[0] + peft_workload_names(cfg)}
    specs.update(compression_specs(cfg))
    pools, scores, profiles = scored_tables(writer.tables["trials"], variants(cfg), n_boot=cfg.bootstrap,
                                            metrics=metrics_from_specs(specs))
    tables = {**{name: with_store_columns(name, rows) for name, rows in writer.tables.items()},
              "submissions": _submission_rows(writer, names + peft_names + compression_names), "scores": scores,
              "profiles": profiles}
    bundle = out / cfg.release
    bundle.mkdir(parents=True, exist_ok=True)
    entries = {}
    for name in TABLES:
        path = bundle / f"{name}.parquet"
        pd.DataFrame.from_records(tables[name]).to_parquet(path, index=False)
        entries[name] = {"file": path.name, "sha256": sha256(path), "rows": len(tables[name])}
    from harness.report import BOOTSTRAP_SEED
    from harness.scoring import MIN_INTERVAL_N, R_MAX, VARIANT_RULE

    manifest = {
        "bundle_format": BUNDLE_FORMAT, "release": cfg.release, "harness_version": "0.1.0",
        "harness_commit": "synthetic", "created_at": START.isoformat(timespec="seconds"),
        "hardware_classes": [HARDWARE], "pools": [p.key for p in pools], "targets_version": "synthetic",
        "workloads": specs,
        "scoring": {"r_max": R_MAX, "bootstrap_seed": BOOTSTRAP_SEED, "bootstrap_samples": cfg.bootstrap,
                    "reference": REFERENCE, "variants": {p.key: p.variants for p in pools},
                    "min_interval_n": MIN_INTERVAL_N, "variant_rule": VARIANT_RULE},
        "tables": entries,
        "warnings": degenerate_warnings(scores),
    }
    (bundle / "manifest.json").write_text(strict_json(manifest, indent=1, sort_keys=True) + "\n")
    return bundle
