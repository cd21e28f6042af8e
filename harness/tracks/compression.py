"""The compression track's contract: how a model compressor is submitted, timed, and measured.

**The submission.** ``submission.py`` defines ``compress(model, workload, calibration_batches, train_queue,
hyperparameters, rng) -> model`` (the signature is declared once, in :class:`Compressor`; ``podium check`` reads it).
It receives a private copy of the workload's trained dense model, :data:`~workloads.common.compression.
CALIBRATION_BATCHES` calibration batches and an infinite iterator of shuffled training batches (batch size: the
``batch_size`` hyperparameter, default 32), the only data it may read, and returns the compressed model: a
``torch.nn.Module`` that takes the workload's inputs and returns its logits.

**The clock.** The ``compress`` call is submission time under the same clock rules as the other tracks (recovery
fine-tuning and distillation inside it count); a call that runs past the budget plus the grace is killed
(``timed_out``). Nothing else of the submission runs on the clock.

**Evaluation data is out of reach.** The trial process that runs ``compress`` holds the dense model and the training
split only (see :mod:`workloads.common.compression`): no validation or test example is loaded there. The returned
model is saved (``torch.save`` of the module, untimed) and measured in a **separate, fresh process**
(``python -m harness.tracks.compression``: :func:`main`) that loads the saved file, the dense reference and the
held-out splits, and never runs ``compress``. What it measures is what was saved, so the bytes counted, the
accuracy and the latency all belong to the same model. The *supervisor* starts that process and reads its numbers
(:func:`run_measurement`; the worker asks for it on the records channel, and is stopped while it runs), in the
sandbox the executor gives a trial (a local process with the trial's environment and cores; a fresh sealed
container), so nothing the submission changes in its own process reaches the numbers; the worker's account is
checked against them (:meth:`harness.runner.evaluator.Evaluations.check`).

**Time-to-result** = the ``compress`` call's submission time when the validation metric meets the floor (the
workload's validation target: ``floor_fraction`` of the dense model's quality, which for a lower-is-better metric
such as perplexity is the dense value divided by it: :func:`harness.targets.quality_floor`) *and* the ratio named by
the workload's ``compression.measure`` is at most its target (``Targets.compression_ratio``), within the budget;
otherwise the trial is *missed* (infinity) with a reason that gives the numbers. The test split is measured too,
against the test floor.

**Measured, never reported** (untimed; :func:`measure`). Nothing a returned model says about itself is taken on trust:
what is measured is what runs and what is saved.

* ``raw_bytes``: the model's ``state_dict`` as ``torch.save`` writes it (:func:`artifact`). Storage types are what
  they are: an int8-quantized ``Linear`` (``torch.ao`` dynamic quantization) saves its weight as one byte per element,
  a sparse tensor as its indices and values.
* ``bytes``: ``raw_bytes`` after a standard lossless compressor, **deflate** (``zlib`` level 6, the gzip default:
  in every Python, reproducible byte for byte). A model pruned to 90% zeros but stored densely shrinks here only as
  far as deflate can squeeze its zeros out; it does not count as 10x smaller because it says it is sparse.
  ``bytes_ratio`` is ``bytes`` over the dense model's.
* ``file_bytes``: the saved model file (``torch.save`` of the whole module: every tensor it holds, parameters or
  not, and its pickle) after deflate, entry by entry, read by the harness as the zip archive it is before the
  measuring process starts, without unpickling anything (:func:`saved_bytes`). A ``state_dict`` that leaves out
  more than half of it (``bytes`` under half of ``file_bytes``, less 64 KiB) fails the trial: a model cannot
  measure small by hiding its tensors from ``state_dict``, nor by rewriting the measuring process's numbers. Honest
  models stay inside: a pruning mask left in place saves ``weight`` as a plain attribute besides ``weight_orig``
  and the mask, and the file holds 1.55x the state_dict's bytes at 50% sparsity, 1.19x at 90%
  (``tests/unit/test_compression_measure.py``).
* ``sparsity``: the share of exactly-zero elements over every weight tensor of the saved state (floating or
  quantized; integer index tensors and other bookkeeping are not weights), read from the tensors.
* ``bits_per_weight``: the saved weights' storage bits per element, weighted by element count (32 for float32,
  8 for int8, ...).
* ``latency_p50_ms`` / ``latency_p90_ms``: batch-1 forward passes (eval mode, no gradients), the workload's
  ``compression.latency_runs`` timed passes (500 for the CNN, 50 for MiniLM: :class:`workloads.spec.CompressionGoal`)
  after ``warmup``, each on a different input, with a fixed thread count on pinned cores; the dense reference is
  measured in the same process, interleaved run by run with the compressed model in alternating order
  (:func:`compare_latency`), so that the machine's drift falls on both alike, and ``latency_ratio`` is compressed
  p50 over dense p50. Of :data:`LATENCY_ATTEMPTS` such measurements the quickest is kept (a shared machine only
  ever slows a pass down); ``latency_spread`` is the slowest attempt's over the quickest's, a fact on how much the
  machine disturbed this trial's measurement. The ratio is what a target bounds: ``make bench`` reports how much
  the absolute p50 and the ratio move between measurements.
* ``throughput``: examples per second at batch 32, median of ``runs / 5`` batch passes after the batch-1 ones.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from harness.tracks.training import Hyperparameters, ParameterContainer, RandomState, Workload

TRACK = "compression"
DEFLATE_LEVEL = 6  # zlib's default, the level gzip uses
LATENCY_WARMUP = 5
LATENCY_RUNS = 50
THROUGHPUT_BATCH = 32
THROUGHPUT_EVERY = 5  # a batch pass for every 5 batch-1 runs: a MiniLM batch pass costs ~15 batch-1 passes
LATENCY_ATTEMPTS = 3  # batch-1 measurements of which the quickest is kept (compare_latency)
#: how a compressed model is measured; raised when a change moves what the same model measures (the latency ratio
#: since 2: alternating order, batch passes apart, the quickest of LATENCY_ATTEMPTS), so that runs kept by
#: ``podium targets set`` under an older protocol are run again
MEASUREMENT_PROTOCOL = 2


@runtime_checkable
class Compressor(Protocol):
    """What a compression ``submission.py`` defines. Signatures are matched by parameter *name*."""

    def compress(self, model: ParameterContainer, workload: Workload, calibration_batches: Sequence[Any],
                 train_queue: Iterator[Any], hyperparameters: Hyperparameters,
                 rng: RandomState) -> ParameterContainer:
        """Return the compressed model (the same module changed in place, or a new one). Timed."""


REQUIRED_FUNCTIONS: dict[str, tuple[inspect.Parameter, ...]] = {
    "compress": tuple(inspect.signature(Compressor.compress).parameters.values())[1:]}
OPTIONAL_FUNCTIONS: dict[str, tuple[inspect.Parameter, ...]] = {}


# --- Bytes. --------------------------------------------------------------------------------------------------------


def artifact(model: Any) -> bytes:
    """The saved model: its ``state_dict`` as ``torch.save`` writes it (tensors that share storage saved once)."""
    import torch

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()


def deflated_bytes(data: bytes) -> int:
    """Size of ``data`` after deflate at :data:`DEFLATE_LEVEL`.

    Example:
        >>> deflated_bytes(bytes(1_000_000)) < 2_000 < deflated_bytes(os.urandom(1_000_000)) // 400
        True
    """
    return len(zlib.compress(data, DEFLATE_LEVEL))


#: how much of the saved file's deflated bytes a ``state_dict`` may leave out (:func:`check_saved_bytes`)
STATE_SHARE, STATE_SLACK_BYTES = 0.5, 64 * 1024


def saved_bytes(model_path: Path) -> int:
    """Deflated bytes of everything a ``torch.save`` file holds (its pickle and every tensor storage, entry by
    entry), read as the zip archive it is: nothing is unpickled, so no code of the model runs.

    Raises:
        MeasurementError: the file is not such an archive.
    """
    try:
        with zipfile.ZipFile(model_path) as archive:
            return sum(deflated_bytes(archive.read(info)) for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise MeasurementError(f"the saved model is not a torch.save archive: {exc}") from None


def check_saved_bytes(measurements: dict[str, Any], file_bytes: int) -> None:
    """Fail a measurement whose ``bytes`` (the model's ``state_dict``, measured where the model's code runs) leave
    out more than :data:`STATE_SHARE` of what its saved file holds (``file_bytes``, read by the harness).

    Raises:
        MeasurementError: with both numbers.
    """
    state = float(measurements.get("bytes", 0.0))
    if state < STATE_SHARE * file_bytes - STATE_SLACK_BYTES:
        raise MeasurementError(
            f"the model's state_dict holds {state:,.0f} bytes after deflate, but its saved file holds "
            f"{file_bytes:,} bytes: a state_dict that leaves out more than half of what the model saves is not "
            "measured (tensors kept outside the state_dict, or numbers rewritten where the model ran)")


# --- Facts read from the tensors. ----------------------------------------------------------------------------------


def _weights(model: Any) -> list[Any]:
    """The saved state's weight tensors: floating point or quantized, unpacked from ``torch.ao`` packed params."""
    import torch

    out: list[Any] = []

    def visit(value: Any) -> None:
        if isinstance(value, torch.Tensor):
            if value.is_quantized or value.is_floating_point():
                out.append(value)
        elif isinstance(value, (tuple, list)):
            for item in value:
                visit(item)

    for value in model.state_dict().values():
        visit(value)
    return out


def _bits(tensor: Any) -> int:
    import torch

    packed = {torch.quint4x2: 4, torch.quint2x4: 2}  # two or four elements a byte
    return packed.get(tensor.dtype, tensor.element_size() * 8)


def _zeros(tensor: Any) -> int:
    """Elements that are exactly zero: a quantized one where it dequantizes to 0 (its integer is the zero point)."""
    if tensor.is_sparse:
        return tensor.numel() - tensor._nnz()
    values = tensor.dequantize() if tensor.is_quantized else tensor
    return int((values == 0).sum())


@dataclass(frozen=True)
class TensorFacts:
    """What the saved weights are, read from them."""

    elements: int
    sparsity: float
    bits_per_weight: float
    dtypes: dict[str, int]  # dtype -> elements


def tensor_facts(model: Any) -> TensorFacts:
    """Element count, share of exact zeros, storage bits per element and dtypes of ``model``'s saved weights."""
    weights = _weights(model)
    elements = sum(t.numel() for t in weights)
    if not elements:
        return TensorFacts(0, 0.0, 0.0, {})
    dtypes: dict[str, int] = {}
    for t in weights:
        name = str(t.dtype).removeprefix("torch.")
        dtypes[name] = dtypes.get(name, 0) + t.numel()
    return TensorFacts(elements=elements, sparsity=sum(_zeros(t) for t in weights) / elements,
                       bits_per_weight=sum(_bits(t) * t.numel() for t in weights) / elements, dtypes=dtypes)


# --- Latency. ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Latency:
    """Batch-1 latency percentiles (milliseconds) and batch-:data:`THROUGHPUT_BATCH` throughput (examples/s) of one
    model; ``spread``: of the measurement's attempts, the slowest's summed p50 over the quickest's (1.0 = the
    machine left every attempt alone; the same for every model of one measurement)."""

    p50_ms: float
    p90_ms: float
    throughput: float
    spread: float = 1.0


def pinned(threads: int, cores: Sequence[int] | None = None) -> list[int]:
    """Pin this process to ``cores`` (default: the first ``threads`` it may use) and set torch's thread count to
    ``threads``; returns the cores. The same pinning for the dense reference and the compressed model."""
    import torch

    allowed = sorted(os.sched_getaffinity(0))
    chosen = list(cores) if cores is not None else allowed[:threads]
    if len(chosen) < threads or not set(chosen) <= set(allowed):
        raise ValueError(f"{threads} threads on cores {chosen}: this process may use cores {allowed}")
    os.sched_setaffinity(0, chosen)
    torch.set_num_threads(threads)
    return chosen


def _rounds(names: Sequence[str], count: int) -> Iterator[tuple[int, Sequence[str]]]:
    """Round ``i`` and the order its models run in: as given on even rounds, reversed on odd ones. A model's place
    in a round is worth a tenth of a 0.2 ms pass on a CPU (the pass that follows the loop's own work, or another
    model's batch pass, is the slower): alternating puts every model in every place equally often."""
    for i in range(count):
        yield i, names if i % 2 == 0 else names[::-1]


def compare_latency(models: dict[str, Any], single: Callable[[int], Any], batch: Callable[[int], Any],
                    forward: Callable[[Any, Any], Any], runs: int = LATENCY_RUNS,
                    warmup: int = LATENCY_WARMUP, attempts: int = LATENCY_ATTEMPTS) -> dict[str, Latency]:
    """Latency of each of ``models``, measured interleaved in the same process. ``forward(model, inputs)`` runs one
    pass; eval mode, no gradients. On a GPU the device is synchronized before each clock read
    (:func:`harness.runner.clock.device_sync`), so a pass's time is its work's, not its launch's.

    * Batch 1: ``attempts`` times, ``warmup`` untimed rounds and ``runs`` timed ones; in round ``i`` every model
      runs once on the same input ``single(i)``, which differs from one ``i`` to the next (no model is timed on a
      cache its previous pass left warm with the same data), in an order that alternates (:func:`_rounds`). Of the
      attempts, the one whose models' p50s sum lowest is kept: the rest of a shared machine only ever slows a pass,
      and on this project's 2-core VM it slowed a third of 0.25 s attempts by 10-60% in bursts
      (``benchmarks/latency_noise.py``); the quickest attempt is the one it left alone, and its models were measured
      side by side, so the ratio of their p50s is taken from one and the same attempt.
    * Throughput: then ``runs // THROUGHPUT_EVERY`` rounds of batch passes on ``batch(i)`` (batch
      :data:`THROUGHPUT_BATCH`), alternating the same way, apart from the batch-1 passes so that no batch-1 pass
      is timed on a cache a batch pass has just filled.
    """
    import torch

    from harness.runner.clock import device_sync

    sync = device_sync(next((p.device.type for m in models.values() for p in m.parameters()), "cpu"))
    if runs < 2 * THROUGHPUT_EVERY or attempts < 1:
        raise ValueError(f"runs must be at least {2 * THROUGHPUT_EVERY} and attempts at least 1; got {runs} runs, "
                         f"{attempts} attempts")
    names = list(models)

    def timed(inputs: Callable[[int], Any], count: int) -> dict[str, list[float]]:
        times: dict[str, list[float]] = {name: [] for name in names}
        for i, order in _rounds(names, warmup + count):
            data = inputs(i)
            for name in order:
                sync()
                started = time.perf_counter()
                forward(models[name], data)
                sync()
                if i >= warmup:
                    times[name].append(time.perf_counter() - started)
        return times

    modes = {name: model.training for name, model in models.items()}
    for model in models.values():
        model.eval()
    try:
        with torch.no_grad():
            tries = [timed(single, runs) for _ in range(attempts)]
            batch_times = timed(batch, runs // THROUGHPUT_EVERY)
    finally:
        for name, model in models.items():
            model.train(modes[name])
    totals = [sum(statistics.median(times[name]) for name in names) for times in tries]
    times = tries[totals.index(min(totals))]
    out = {}
    for name in names:
        deciles = statistics.quantiles(times[name], n=10, method="inclusive")
        out[name] = Latency(p50_ms=1000.0 * statistics.median(times[name]), p90_ms=1000.0 * deciles[8],
                            throughput=THROUGHPUT_BATCH / statistics.median(batch_times[name]),
                            spread=max(totals) / min(totals))
    return out


# --- Everything, for one compressed model against its dense reference. ----------------------------------------------


def measure(compressed: Any, dense: Any, single: Callable[[int], Any], batch: Callable[[int], Any],
            forward: Callable[[Any, Any], Any], threads: int, runs: int = LATENCY_RUNS) -> dict[str, Any]:
    """The track's measurements (see the module docstring) of ``compressed``, with ``dense`` measured alongside.
    Pins this process (:func:`pinned`): call it in the measurement's own process."""
    pinned(threads)
    raw, dense_raw = artifact(compressed), artifact(dense)
    facts = tensor_facts(compressed)
    latency = compare_latency({"dense": dense, "compressed": compressed}, single, batch, forward, runs=runs)
    size, dense_size = deflated_bytes(raw), deflated_bytes(dense_raw)
    return dict(raw_bytes=len(raw), bytes=size, dense_bytes=dense_size, bytes_ratio=size / dense_size,
                sparsity=facts.sparsity, bits_per_weight=facts.bits_per_weight, dtypes=facts.dtypes,
                latency_p50_ms=latency["compressed"].p50_ms, latency_p90_ms=latency["compressed"].p90_ms,
                dense_latency_p50_ms=latency["dense"].p50_ms,
                latency_ratio=latency["compressed"].p50_ms / latency["dense"].p50_ms,
                throughput=latency["compressed"].throughput, dense_throughput=latency["dense"].throughput,
                latency_spread=latency["dense"].spread)


# --- The trial's verdict. ------------------------------------------------------------------------------------------


def verdict(spec: Any, hardware_class: str, validation: float, measurements: dict[str, float], submission_s: float,
            budget_s: float) -> str | None:
    """None when the compressed model meets the floor and the target within the budget; otherwise why it missed."""
    targets = spec.targets_for(hardware_class)
    measure_name = spec.compression.measure
    ratio, bound = measurements[measure_name], targets.compression_ratio
    misses = []
    if not spec.meets(validation, targets.validation):
        side = "below" if spec.higher_is_better else "above"  # a perplexity's floor is a ceiling
        misses.append(f"validation {spec.metric} {validation:.4f} is {side} the floor {targets.validation:.4f}")
    if bound is None or not ratio <= bound:
        misses.append(f"{measure_name} {ratio:.3f} is over the target {bound if bound is None else f'{bound:.3f}'}")
    if submission_s > budget_s:
        misses.append(f"compress took {submission_s:.1f}s, over the {budget_s:g}s budget")
    return "; ".join(misses) or None


# --- The measurement process. ----------------------------------------------------------------------------------------

SAVED_MODEL = "compressed.pt"


class MeasurementError(RuntimeError):
    """The saved compressed model could not be loaded, run or measured; the message says why."""


def save_model(model: Any, folder: Path) -> Path:
    """Save the whole compressed module (``torch.save``: its classes by reference, its tensors as stored) into
    ``folder``; the measurement process loads this file and nothing else of the trial."""
    import torch

    path = folder / SAVED_MODEL
    torch.save(model, path)
    return path


def measure_saved(request_json: str, model_path: Path, timeout_s: float) -> dict[str, Any]:
    """Measure the saved model in a fresh process (``python -m harness.tracks.compression``; see :func:`main`):
    ``{"validation": {...}, "test": {...}, "measurements": {...}}``. Its files (request, numbers, ``measure.log``)
    go beside the model; a failure raises :class:`MeasurementError` with the log's last lines. What the trial's own
    process calls when it measures itself (``PODIUM_EVALUATION=worker``); a scored trial is measured by the
    supervisor instead (:func:`run_measurement`)."""
    measured, _ = run_measurement(request_json, model_path, model_path.parent, timeout_s)
    return measured


def run_measurement(request_json: str, model_path: Path, folder: Path, timeout_s: float,
                    env: dict[str, str] | None = None,
                    preexec_fn: Callable[[], None] | None = None) -> tuple[dict[str, Any], float]:
    """Measure the model saved at ``model_path`` in a fresh process whose files go to ``folder`` (the request, the
    numbers, ``measure.log``), with ``env`` and ``preexec_fn`` (the sandbox a trial's process gets: see
    :func:`harness.runner.supervisor.child_setup`). Returns the numbers and the process's CPU seconds (``wait4``).

    Raises:
        MeasurementError: the process failed, ran past ``timeout_s`` (killed) or wrote no numbers.
    """
    request_path, out_path, log_path = folder / "measure-request.json", folder / "measured.json", folder / "measure.log"
    file_bytes = saved_bytes(model_path)  # before the model's code can run anywhere
    request_path.write_text(request_json)
    out_path.unlink(missing_ok=True)
    command = [sys.executable, "-m", "harness.tracks.compression", str(request_path), str(model_path), str(out_path)]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   cwd=folder, preexec_fn=preexec_fn, start_new_session=preexec_fn is not None)
    deadline, status, usage = time.monotonic() + timeout_s, None, None
    while status is None:
        pid, code, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            status = os.waitstatus_to_exitcode(code)
        elif time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL) if preexec_fn is not None else process.kill()
            os.wait4(process.pid, 0)
            raise MeasurementError(f"measuring the compressed model took over {timeout_s:.0f}s")
        else:
            time.sleep(0.05)
    process.returncode = status  # reaped here: Popen must not wait for it again
    if preexec_fn is not None:  # its own session: whatever it left running dies with it
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    cpu_s = usage.ru_utime + usage.ru_stime
    if status != 0 or not out_path.exists():
        raise MeasurementError(f"the measurement process exited with code {status}: {log_tail(log_path)}")
    return score_outputs(json.loads(out_path.read_text()), request_path, folder, timeout_s, file_bytes), cpu_s


def log_tail(log_path: Path, lines: int = 3) -> str:
    return " / ".join(line.strip()[:300] for line in log_path.read_text(errors="replace").splitlines()[-lines:])


#: the measuring process's logits of a classifier's held-out splits, which the scorer turns into metrics
OUTPUTS_FILE = "outputs.safetensors"
SPLITS = ("validation", "test")


#: the held-out inputs of a classifier workload, without labels, as the harness writes them for a measuring process
#: in a sealed container (:func:`export_inputs`): ``<split>`` (a tensor) or ``<split>/<key>`` (tokenized inputs)
INPUTS_FILE = "inputs.safetensors"


def _family(request: Any) -> Any:
    import importlib

    return importlib.import_module(request.workload.builder.split(":")[0])


def _held_out(request: Any, device: Any) -> Any:
    spec = request.workload
    return _family(request).held_out(spec, device, **spec.builder_kwargs)


def export_inputs(request: Any, path: Path) -> bool:
    """Write the workload's held-out *inputs* (no labels) to ``path`` (safetensors), for a measuring process that
    gets no dataset folder; False (nothing written) where the measurement needs the labels (a language model's
    perplexity) or the family has no ``dense()``. Run by the harness on its own machine."""
    import torch
    from safetensors.torch import save_file

    from workloads.common.peft import ModelEvaluator

    if not hasattr(_family(request), "dense"):
        return False
    held = _held_out(request, torch.device("cpu"))
    if held.evaluator_factory is not ModelEvaluator:
        return False
    tensors = {}
    for split, (x, _) in held.splits.items():
        tensors.update({f"{split}/{k}": v.contiguous() for k, v in x.items()} if isinstance(x, dict)
                       else {split: x.contiguous()})
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial")
    save_file(tensors, partial)
    os.replace(partial, path)
    return True


def inputs_held_out(request: Any, device: Any, path: Path) -> Any:
    """The :class:`~workloads.common.compression.HeldOut` of a measuring process given an :func:`export_inputs`
    file: the dense model from the family's ``dense()``, the inputs from the file, no labels."""
    from safetensors.torch import load_file

    from workloads.common.compression import HeldOut

    tensors = load_file(path, device=str(device))

    def inputs(split: str) -> Any:
        keyed = {k.split("/", 1)[1]: v for k, v in tensors.items() if k.startswith(f"{split}/")}
        return tensors[split] if split in tensors else keyed

    spec = request.workload
    return HeldOut(dense=_family(request).dense(spec, device, **spec.builder_kwargs),
                   splits={split: (inputs(split), None) for split in SPLITS})


def main(argv: list[str]) -> None:
    """The measuring process, ``REQUEST.json MODEL.pt OUT.json [INPUTS.safetensors]`` (``--score``: the scorer,
    :func:`score_main`).

    Loads the workload's held-out data and dense reference (the family module's ``held_out``; with INPUTS, the
    inputs from that file, :func:`export_inputs`, and the family's ``dense()``: no dataset file is read). For a classifier it
    then keeps the held-out *inputs* only: the labels are dropped (with every loader's cache of them,
    :func:`workloads.common.data.withhold_held_out`) before any code of the submission is imported or unpickled, so
    nothing the compressed model runs can find one; its logits on validation and test (and the dense model's, in a
    target-setting run) go to :data:`OUTPUTS_FILE` beside OUT.json, for the scorer. A language model's perplexity
    needs its inputs' next tokens, which are its labels: that evaluator runs here, as before. Then it imports the
    submission module under the worker's name for it (``podium_submission``), so classes it defined unpickle; loads
    the saved model; measures bytes and latency against the dense model (:func:`measure`); writes the numbers to
    OUT.json.
    """
    if argv and argv[0] == "--score":
        score_main(argv[1:])
        return
    request_path, model_path, out_path, *inputs_path = argv
    import gc

    import torch

    from harness.runner.messages import TrialRequest
    from harness.runner.worker import import_submission
    from workloads.common import data
    from workloads.common.peft import ModelEvaluator, forward

    request = TrialRequest.model_validate_json(Path(request_path).read_text())
    spec, device = request.workload, torch.device(request.device)
    torch.set_num_threads(request.threads)
    held = inputs_held_out(request, device, Path(inputs_path[0])) if inputs_path else _held_out(request, device)
    labels_free = held.evaluator_factory is ModelEvaluator
    if labels_free:
        held.splits = {split: (x, None) for split, (x, _) in held.splits.items()}
        data.withhold_held_out()
        gc.collect()
    evaluator = (ModelEvaluator(device, held.splits) if labels_free else held.evaluator(device))
    import_submission(Path(request.submission_dir).resolve())
    model = torch.load(model_path, weights_only=False, map_location=device)
    if not isinstance(model, torch.nn.Module):
        raise MeasurementError(f"compress returned a {type(model).__name__}, not a torch.nn.Module")
    out: dict[str, Any] = {}
    if labels_free:
        from safetensors.torch import save_file

        models = {"": model, **({"dense.": held.dense} if request.mode == "target_setting" else {})}
        logits = {f"{prefix}{split}.{i}": batch.contiguous() for prefix, m in models.items() for split in SPLITS
                  for i, batch in enumerate(evaluator.logits(m, split))}
        save_file(logits, Path(out_path).parent / OUTPUTS_FILE)
        out["outputs"] = OUTPUTS_FILE
    else:
        out.update({split: dict(evaluator.evaluate(model, None, split)) for split in SPLITS})
    single, batch = held.latency_inputs(THROUGHPUT_BATCH)
    measured = measure(model, held.dense, single, batch, forward, threads=request.threads,
                       runs=spec.compression.latency_runs)
    numbers = {k: float(v) for k, v in measured.items() if isinstance(v, (int, float))}
    if request.mode == "target_setting" and not labels_free:  # the floors are fractions of the dense model's own
        for split in SPLITS:
            numbers[f"dense_{split}"] = float(evaluator.evaluate(held.dense, None, split)[spec.metric])
    usage = resource.getrusage(resource.RUSAGE_SELF)
    Path(out_path).write_text(json.dumps({**out, "measurements": numbers, "cpu_s": usage.ru_utime + usage.ru_stime}))


def score_main(argv: list[str]) -> None:
    """The scorer, ``--score REQUEST.json OUTPUTS.safetensors OUT.json``: a process of the harness alone (it imports
    no submission code and reads the logits as tensors, never unpickling) that holds the labels and turns the
    measuring process's logits into the splits' metrics (:meth:`workloads.common.peft.ModelEvaluator.score`, the
    same sums as an evaluation in one process); in a target-setting run also the dense model's metric."""
    request_path, outputs_path, out_path = argv
    import torch
    from safetensors.torch import load_file

    from harness.runner.messages import TrialRequest

    request = TrialRequest.model_validate_json(Path(request_path).read_text())
    spec = request.workload
    evaluator = _held_out(request, torch.device("cpu")).evaluator(torch.device("cpu"))
    logits = load_file(outputs_path)

    def batches(prefix: str, split: str) -> list[Any]:
        return [logits[f"{prefix}{split}.{i}"] for i in range(sum(k.startswith(f"{prefix}{split}.") for k in logits))]

    try:
        out: dict[str, Any] = {split: dict(evaluator.score(batches("", split), split)) for split in SPLITS}
        if request.mode == "target_setting":
            out["dense"] = {f"dense_{split}": float(evaluator.score(batches("dense.", split), split)[spec.metric])
                            for split in SPLITS}
    except Exception as exc:  # noqa: BLE001 - what the measuring process wrote is the submission's model's output
        raise MeasurementError(f"the compressed model's outputs cannot be scored: {exc}") from None
    Path(out_path).write_text(json.dumps(out))


def score_outputs(measured: dict[str, Any], request_path: Path, folder: Path, timeout_s: float,
                  file_bytes: int) -> dict[str, Any]:
    """``measured`` with its quality: when the measuring process wrote logits (:data:`OUTPUTS_FILE` in ``folder``),
    the scorer (:func:`score_main`, a fresh process of the harness on this machine) turns them into metrics. Its
    bytes are checked against ``file_bytes``, the saved file's (:func:`check_saved_bytes`), which join its numbers.

    Raises:
        MeasurementError: the numbers cannot stand, or the scorer failed.
    """
    check_saved_bytes(measured.get("measurements", {}), file_bytes)
    measured = {**measured, "measurements": {**measured.get("measurements", {}), "file_bytes": float(file_bytes)}}
    if "outputs" not in measured:
        return measured
    out_path, log_path = folder / "scored.json", folder / "score.log"
    command = [sys.executable, "-m", "harness.tracks.compression", "--score", str(request_path),
               str(folder / OUTPUTS_FILE), str(out_path)]
    with open(log_path, "wb") as log:
        try:
            done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                  timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise MeasurementError(f"scoring the compressed model's outputs took over {timeout_s:.0f}s") from None
    if done.returncode != 0 or not out_path.exists():
        raise MeasurementError(f"the scorer exited with code {done.returncode}: {log_tail(log_path)}")
    scored = json.loads(out_path.read_text())
    numbers = {**measured["measurements"], **scored.pop("dense", {})}
    return {**{k: v for k, v in measured.items() if k != "outputs"}, **scored, "measurements": numbers}


if __name__ == "__main__":
    main(sys.argv[1:])
