"""Harness overhead: per-step time of a trial under Podium / per-step time of a bare PyTorch loop, with a 95% interval.

Both sides train the same model (``fashion_mnist_mlp``), on the same tensors, with the same batch size (128), the
same optimizer (AdamW, the adamw baseline's first hyperparameter point, with its warmup + cosine schedule), the same
shuffling and thread count:

* **bare**: a hand-written loop, no harness, evaluating as often as a trial does (untimed, excluded);
* **harness**: the worker's real loop (:func:`harness.runner.worker.train`: clock, heartbeat, checks, evaluations
  every ``eval_period_s``, ``data_selection``/``update_params`` of the adamw baseline), with this process polling
  the heartbeat and the memory from outside as the supervisor does. Evaluation time (wall and CPU) is excluded, as
  the bare loop does not evaluate; what evaluation leaves behind (cold caches) is not.

Why not two whole trials: a trial lasts seconds and starts a process, and on a shared VM the machine's speed drifts
by tens of percent between two runs (two back-to-back runs of the old version gave ratios 1.23 and 0.79). Here each
side lives in ONE long-lived process, set up once, and the two alternate in many short rounds of the same number of
steps (bare, harness, harness, bare, ...). Each pair of neighbouring rounds gives one log-ratio; their mean and a
t interval give the ratio with a 95% interval: drift slower than a pair cancels out. The ratio is reported in wall
time and in CPU time: the process's own CPU seconds per step, which a co-tenant taking the CPU away does not inflate
(one sharing caches and memory bandwidth, or making OpenMP threads spin while they wait for a descheduled sibling,
still does). The supervisor's polling runs in another process, so it is in the wall ratio only.

Goals: ratio <= 1.05, measured with a 95% interval no wider than +-2%. Run: ``make bench`` (or
``python benchmarks/step_overhead.py --pairs 300 --round-seconds 0.25``).

``--case jax`` measures a JAX trial: the ``adamw_jax`` baseline (its first point) on ``fashion_mnist_mlp``'s Flax
twin under the harness, against a hand-written loop that jits one step (``optax.adamw`` with the same warmup +
cosine schedule, the same Flax model and batches) and waits for the device once per round. The harness waits on
every step's outputs (:meth:`harness.runner.clock.SubmissionClock.stop`: the honest clock), so the ratio includes
what that costs: a pipelined loop queues step n+1 while step n runs, a timed one cannot. ``--case jax-sync`` runs the
same with a bare loop that also waits on every step, which leaves the harness's own bookkeeping. The compilation is
in the warm-up, outside both sides' rounds. Goal: ratio <= 1.03.

``--case lora`` measures the PEFT track the same way: a LoRA trial (``submissions/peft/lora``, its first point, on
``minilm_rotten_tomatoes``, the default AdamW rule at batch 32) against a hand-written loop that applies the same
``peft.LoraConfig`` to the same pretrained model with ``peft.get_peft_model`` and trains it with AdamW on the same
token ids. Goal: ratio <= 1.03. Text is tokenized once when the workload is built, on both sides: tokenization is
never inside the timed loop (a method that wants other inputs derives them in ``data_selection``, on the clock).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HALF_WIDTH_GOAL = 0.02


class Case:
    """What one benchmark compares: a workload, a baseline (its first point), the batch size and the ratio goal."""

    def __init__(self, name: str, workload: str, baseline: Path, batch_size: int, ratio_goal: float,
                 round_seconds: float, what: str, framework: str = "pytorch") -> None:
        self.name, self.workload, self.baseline, self.batch_size = name, workload, baseline, batch_size
        self.ratio_goal, self.round_seconds, self.what = ratio_goal, round_seconds, what
        self.framework = framework


CASES = {
    "mlp": Case("mlp", "fashion_mnist_mlp", ROOT / "submissions" / "training" / "adamw", 128, 1.05, 0.25,
                "AdamW (the adamw baseline)"),
    # a MiniLM step takes ~0.1-0.3 s: rounds of 1.5 s hold enough steps for a stable per-step time
    "lora": Case("lora", "minilm_rotten_tomatoes", ROOT / "submissions" / "peft" / "lora", 32, 1.03, 1.5,
                 "LoRA (submissions/peft/lora) + AdamW"),
    "jax": Case("jax", "fashion_mnist_mlp", ROOT / "submissions" / "training" / "adamw_jax", 128, 1.03, 0.25,
                "AdamW in JAX (the adamw_jax baseline)", framework="jax"),
    "jax-sync": Case("jax-sync", "fashion_mnist_mlp", ROOT / "submissions" / "training" / "adamw_jax", 128, 1.03,
                     0.25, "AdamW in JAX (the adamw_jax baseline), the bare loop waiting on every step",
                     framework="jax"),
}
CASE = CASES["mlp"]


def first_point() -> dict[str, Any]:
    return json.loads((CASE.baseline / "search_space.json").read_text())[0]


def measured(run: Any) -> dict[str, float]:
    """Wall and CPU seconds (this process, all threads) spent in ``run()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}


# --- The two sides, each serving rounds in its own long-lived process. ----------------------------------------------


class BareLoop:
    """The hand-written loop: no harness, no clock, no checks. Model, optimizer and data order carry across rounds.

    It evaluates as often as a trial does (every ``eval_period_s`` of its own training time, on the workload's
    evaluator), untimed and excluded as on the harness side: evaluation is the benchmark's rule, not the harness's
    overhead, but what it leaves behind (cold caches) slows the steps after it on both sides alike.
    """

    def __init__(self, threads: int) -> None:
        import torch
        from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR

        from workloads import get_spec
        from workloads.digits.pytorch.models import MLP
        from workloads.fashion_mnist.data import load_splits
        from workloads.fashion_mnist.pytorch.models import build_mlp

        torch.set_num_threads(threads)
        hp, splits = first_point(), load_splits()
        self.x = torch.from_numpy(splits.train_x).reshape(len(splits.train_y), 784)
        self.y = torch.from_numpy(splits.train_y)
        torch.manual_seed(0)
        self.model = MLP((784, 256, 128, 10), "relu")
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=hp["learning_rate"], eps=1e-8,
                                     betas=(1 - hp["one_minus_beta1"], hp["beta2"]), weight_decay=hp["weight_decay"])
        spec = get_spec(CASE.workload)
        step_hint = spec.step_hint
        warmup = max(int(hp["warmup_factor"] * step_hint), 1)
        self.sched = SequentialLR(self.opt, [LinearLR(self.opt, 1e-10, 1.0, warmup),
                                             CosineAnnealingLR(self.opt, max(step_hint - warmup, 1))],
                                  milestones=[warmup])
        self.batches = self._batches(torch.Generator().manual_seed(0))
        self.evaluator = TimedEvaluator(build_mlp(spec, "cpu-2core", torch.device("cpu"), **spec.builder_kwargs)[1])
        self.eval_period, self.since_eval = spec.eval_period_s, 0.0

    def _batches(self, generator: Any) -> Any:
        import torch

        while True:  # shuffled per epoch, last partial batch dropped: as the workload's input queue
            order = torch.randperm(len(self.y), generator=generator)
            for i in range(0, len(self.y) - CASE.batch_size + 1, CASE.batch_size):
                yield order[i:i + CASE.batch_size]

    def step(self, idx: Any) -> None:
        import torch

        self.opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(self.model(self.x[idx]), self.y[idx]).backward()
        self.opt.step()
        self.sched.step()

    def run(self, steps: int) -> dict[str, float]:
        evaluator = self.evaluator
        eval_wall, eval_cpu = evaluator.wall_s, evaluator.cpu_s

        def loop() -> None:
            clock = time.perf_counter
            for _ in range(steps):
                started = clock()
                self.step(next(self.batches))
                self.since_eval += clock() - started
                if self.since_eval >= self.eval_period:  # the evaluator copies the weights into its own model
                    evaluator.evaluate(self.model, None, "validation")
                    self.since_eval = 0.0

        spent = measured(loop)
        return {"steps": steps, "wall_s": spent["wall_s"] - (evaluator.wall_s - eval_wall),
                "cpu_s": spent["cpu_s"] - (evaluator.cpu_s - eval_cpu)}


class LoraBareLoop(BareLoop):
    """The hand-written LoRA loop: ``peft.get_peft_model`` with the baseline's config on the workload's pretrained
    model (same seeded head), AdamW over the trainable parameters, the same token ids, shuffling and batch size."""

    def __init__(self, threads: int) -> None:  # noqa: D107 - BareLoop's set-up does not apply
        import peft
        import torch

        from harness.runner.worker import rng_for
        from workloads import get_spec

        torch.set_num_threads(threads)
        spec = get_spec(CASE.workload)
        module, function = spec.builder.split(":")
        workload, evaluator = getattr(__import__(module, fromlist=[function]), function)(
            spec, "cpu-2core", torch.device("cpu"), **spec.builder_kwargs)
        config = json.loads((CASE.baseline / "adapter_config.json").read_text())
        config = {k: v for k, v in config.items() if k != "peft_type"}
        config.update({k: v for k, v in first_point().items() if k in ("r", "lora_alpha")})
        model, _ = workload.init_model_fn(rng_for(0, 0))
        self.model = peft.get_peft_model(model, peft.LoraConfig(**config, modules_to_save=list(workload.head_modules)))
        self.opt = torch.optim.AdamW([p for p in self.model.parameters() if p.requires_grad],
                                     lr=first_point()["learning_rate"])
        self.inputs, self.y = workload._train_x, workload._train_y
        mask = self.inputs["attention_mask"]  # (N, T), right-padded: 1 + the last real token's position per row
        self.lengths = (mask.ne(0) * torch.arange(1, mask.shape[1] + 1)).amax(dim=1)
        self.batches = self._batches(torch.Generator().manual_seed(0))
        self.evaluator = TimedEvaluator(evaluator)
        self.eval_period, self.since_eval = spec.eval_period_s, 0.0

    def step(self, idx: Any) -> None:
        import torch

        self.opt.zero_grad(set_to_none=True)
        length = int(self.lengths[idx].max())  # dynamic padding: the batch's longest row, as the workload does
        logits = self.model(**{k: v[idx, :length] for k, v in self.inputs.items()}).logits
        torch.nn.functional.cross_entropy(logits, self.y[idx]).backward()
        self.opt.step()


class JaxBareLoop(BareLoop):
    """The hand-written JAX loop: the workload's Flax model (its twin's init), ``optax.adamw`` with the baseline's
    warmup + cosine schedule, one ``jax.jit`` step, the same batches (``torch.randperm`` order, as the JAX input
    queue draws it). It blocks on the parameters at the end of each round only, as a user's loop would."""

    def __init__(self, threads: int) -> None:  # noqa: D107 - BareLoop's set-up does not apply
        import jax
        import numpy as np
        import optax
        import torch

        from workloads import get_spec
        from workloads.common.jax import torch_state_dict

        spec = get_spec(CASE.workload)
        module, function = spec.jax_builder.split(":")
        workload = getattr(__import__(module, fromlist=[function]), function)(spec, "cpu-2core", **spec.builder_kwargs)
        torch_module, torch_function = spec.builder.split(":")
        torch_workload, evaluator = getattr(__import__(torch_module, fromlist=[torch_function]), torch_function)(
            spec, "cpu-2core", torch.device("cpu"), **spec.builder_kwargs)
        self.params, _ = workload.init_model_fn(jax.random.PRNGKey(0))
        hp = first_point()
        warmup = max(int(hp["warmup_factor"] * spec.step_hint), 1)
        schedule = optax.join_schedules(
            [optax.linear_schedule(hp["learning_rate"] * 1e-10, hp["learning_rate"], warmup),
             optax.cosine_decay_schedule(hp["learning_rate"], max(spec.step_hint - warmup, 1))], [warmup])
        optimizer = optax.adamw(schedule, b1=1 - hp["one_minus_beta1"], b2=hp["beta2"], eps=1e-8,
                                weight_decay=hp["weight_decay"])
        self.opt_state, model = optimizer.init(self.params), workload._model

        def loss(params: Any, x: Any, y: Any) -> Any:
            logits = model.apply({"params": params}, x, train=True)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        def step(params: Any, opt_state: Any, x: Any, y: Any) -> tuple[Any, Any]:
            updates, opt_state = optimizer.update(jax.grad(loss)(params, x, y), opt_state, params)
            return optax.apply_updates(params, updates), opt_state

        self._step, self.x, self.y = jax.jit(step), workload._train_x, workload._train_y
        self.torch_model, _ = torch_workload.init_model_fn(np.array([0, 0], dtype=np.uint32))
        self.model = None  # BareLoop.run hands it to the evaluator, which reads the parameters from this loop
        self.batches = self._batches(torch.Generator().manual_seed(0))
        self.evaluator = TimedEvaluator(JaxEvaluation(evaluator, self, torch_state_dict))
        self.eval_period, self.since_eval = spec.eval_period_s, 0.0

    def step(self, idx: Any) -> None:
        import jax
        import jax.numpy as jnp

        self.params, self.opt_state = self._step(self.params, self.opt_state, jnp.asarray(self.x[idx.numpy()]),
                                                 jnp.asarray(self.y[idx.numpy()]))
        if CASE.name == "jax-sync":
            jax.block_until_ready(self.params)

    def run(self, steps: int) -> dict[str, float]:
        import jax

        result = super().run(steps)
        wall, cpu = time.perf_counter(), time.process_time()
        jax.block_until_ready(self.params)  # the round's last steps, still running: they count
        return {**result, "wall_s": result["wall_s"] + time.perf_counter() - wall,
                "cpu_s": result["cpu_s"] + time.process_time() - cpu}


class JaxEvaluation:
    """Evaluates the bare JAX loop's parameters as the harness does: loaded into the PyTorch twin."""

    def __init__(self, evaluator: Any, loop: JaxBareLoop, convert: Any) -> None:
        self.evaluator, self.loop, self.convert = evaluator, loop, convert

    def evaluate(self, model: Any, model_state: Any, split: str) -> dict[str, float]:
        self.loop.torch_model.load_state_dict(self.convert(self.loop.params))
        return self.evaluator.evaluate(self.loop.torch_model, model_state, split)


class TimedEvaluator:
    """Wraps the trial's evaluator to total the wall and CPU time of evaluation, which the measurement excludes."""

    def __init__(self, evaluator: Any) -> None:
        self.evaluator, self.wall_s, self.cpu_s = evaluator, 0.0, 0.0

    def evaluate(self, *args: Any, **kwargs: Any) -> dict[str, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return self.evaluator.evaluate(*args, **kwargs)
        finally:
            self.wall_s += time.perf_counter() - wall
            self.cpu_s += time.process_time() - cpu


class HarnessLoop:
    """The worker's real trial: load, initialise, then ONE call of :func:`harness.runner.worker.train` for the whole
    benchmark, paced into rounds by its clock.

    A trial's loop runs once, from the first update to the last; calling ``train`` afresh every round would charge
    its set-up (the input queue's first shuffle, reading ``/proc``) and a "last look" evaluation to every 0.25 s
    round. So the clock waits for the next round's order at the start of the first timed interval of each round's
    first step: outside submission time (the clock has not started), so the trial's evaluation cadence and
    submission time are those of an uninterrupted trial, and between two such points lie exactly ``steps`` whole
    iterations of the loop, bookkeeping and evaluations included.
    """

    def __init__(self, threads: int, heartbeat_path: Path) -> None:
        from harness.runner import worker  # first: the worker binds its clock before importing the submission
        from harness.runner.messages import Heartbeat, TrialRequest
        from workloads import get_spec
        from workloads.spec import Targets

        # A scored trial whose target is out of reach never stops at it, and evaluates the validation split only
        # (as the bare side does); the budget is out of reach too: the trial runs until the parent says stop.
        spec = get_spec(CASE.workload)
        spec = spec.model_copy(update={"targets": {"cpu-2core": Targets(validation=2.0, test=2.0)}})
        request = TrialRequest(trial_id="bench", submission_dir=str(CASE.baseline), workload=spec,
                               hardware_class="cpu-2core", budget_s=1e9, hyperparameters=first_point(), seed=0,
                               threads=threads, framework=CASE.framework)
        self.worker = worker
        self.trial = worker.load(request, Heartbeat(heartbeat_path), send=lambda record: None)
        self.trial.evaluator = self.evaluator = TimedEvaluator(self.trial.evaluator)
        self.model, self.model_state, self.optimizer_state, batch_size, _ = worker.initialise(self.trial)
        assert batch_size == CASE.batch_size, batch_size

    def serve(self, orders: Any, answer: Any) -> None:
        """Run the trial; at each round's start, answer for the round just ended and read the next order."""
        clock, trial, evaluator = self.trial.clock, self.trial, self.evaluator
        start, pace = clock.start, {"at": 0, "mark": None}

        def mark() -> dict[str, float]:
            return {"wall_s": time.perf_counter(), "cpu_s": time.process_time(), "eval_wall_s": evaluator.wall_s,
                    "eval_cpu_s": evaluator.cpu_s, "submission_s": clock.submission_s, "steps": trial.step}

        def paced_start(step: int | None = None) -> None:
            if step is not None and step >= pace["at"]:  # the first interval of a round's first step
                now, before = mark(), pace["mark"]
                if before is not None:
                    wall = now["wall_s"] - before["wall_s"] - (now["eval_wall_s"] - before["eval_wall_s"])
                    cpu = now["cpu_s"] - before["cpu_s"] - (now["eval_cpu_s"] - before["eval_cpu_s"])
                    answer({"steps": now["steps"] - before["steps"], "wall_s": wall, "cpu_s": cpu,
                            "submission_s": now["submission_s"] - before["submission_s"]})
                order = orders.readline()
                if not order:
                    raise StopBenchmark
                pace["at"], pace["mark"] = step + int(order), mark()
            start(step)

        clock.start = paced_start
        try:
            self.worker.train(trial, self.model, self.model_state, self.optimizer_state, CASE.batch_size)
        except StopBenchmark:
            return
        raise SystemExit("the benchmark trial ended on its own (did it reach its unreachable target?)")


class StopBenchmark(BaseException):
    """Raised from the paced clock when the parent closes the orders: ends the one long ``train`` call."""


def serve(side: str, threads: int, heartbeat: str) -> None:
    """A child's main loop: set up once, then for each line ``STEPS`` on stdin, run them and answer one JSON line."""
    bare = {"lora": LoraBareLoop, "jax": JaxBareLoop, "jax-sync": JaxBareLoop}.get(CASE.name, BareLoop)
    loop = bare(threads) if side == "bare" else HarnessLoop(threads, Path(heartbeat))
    out = os.fdopen(os.dup(1), "w")  # the protocol's own copy of stdout; anything else printed goes to stderr
    os.dup2(2, 1)

    def answer(result: dict[str, float]) -> None:
        out.write(json.dumps(result) + "\n")
        out.flush()

    out.write("ready\n")
    out.flush()
    if isinstance(loop, HarnessLoop):
        loop.serve(sys.stdin, answer)
        return
    for line in sys.stdin:
        answer(loop.run(int(line)))


# --- The parent: alternate rounds, poll like the supervisor, and estimate. ------------------------------------------


class Side:
    """One long-lived child process serving rounds of one side."""

    def __init__(self, side: str, threads: int, heartbeat: Path) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        if CASE.framework == "jax":  # the worker's setting for a JAX trial (harness.runner.worker.jax_twin)
            env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen="
                                + ("true" if threads > 1 else "false")).strip()
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", side, "--threads", str(threads), "--heartbeat", str(heartbeat),
             "--case", CASE.name],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
        self.name = side

    def wait_ready(self) -> None:
        if self.process.stdout.readline().strip() != "ready":
            raise SystemExit(f"the {self.name} side failed to start (its error is above)")

    def round(self, steps: int, watch: Any = None) -> dict[str, float]:
        """Run ``steps`` steps; ``watch`` (if any) is called every supervisor poll period while they run."""
        self.process.stdin.write(f"{steps}\n")
        self.process.stdin.flush()
        while watch is not None and not select.select([self.process.stdout], [], [], watch.period)[0]:
            watch.poll()
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"the {self.name} side died (its error is above)")
        return json.loads(line)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


class SupervisorPolling:
    """What the supervisor does from outside during a trial: read the heartbeat every poll, the memory every fifth."""

    def __init__(self, heartbeat: Any, pid: int) -> None:
        from harness.runner.supervisor import POLL_S

        self.heartbeat, self.pid, self.period = heartbeat, pid, POLL_S
        self.polls, self.peak_rss = 0, 0

    def poll(self) -> None:
        """The supervisor's own reads (its functions, so the two cannot drift apart)."""
        from harness.runner.clock import tree_rss
        from harness.runner.contention import runnable_now
        from harness.runner.supervisor import resources_due

        self.heartbeat.read()
        self.polls += 1
        if resources_due(self.polls, self.peak_rss, math.inf):  # no memory limit here
            runnable_now()
            self.peak_rss = max(self.peak_rss, tree_rss(self.pid))


def paired_ratio(harness: list[float], bare: list[float]) -> tuple[float, float, float, float]:
    """Geometric-mean ratio of paired per-step times, its 95% t interval, and the interval's relative half-width.

    Example:
        >>> ratio, low, high, half = paired_ratio([1.1, 1.1, 1.1], [1.0, 1.0, 1.0])
        >>> round(ratio, 6), round(low, 6), round(high, 6), half
        (1.1, 1.1, 1.1, 0.0)
    """
    from scipy import stats

    logs = [math.log(h / b) for h, b in zip(harness, bare)]
    mean, se = statistics.fmean(logs), statistics.stdev(logs) / math.sqrt(len(logs))
    spread = stats.t.ppf(0.975, len(logs) - 1) * se
    return math.exp(mean), math.exp(mean - spread), math.exp(mean + spread), math.expm1(spread)


def alternate(bare: Side, harness: Side, watch: SupervisorPolling, args: argparse.Namespace) -> list[tuple[dict, dict]]:
    """Pairs of rounds, in the order bare-harness, harness-bare, ... so that a steady drift of the machine's speed
    favours each side equally often; at most ``args.pairs``, and none started after ``args.max_seconds``.

    Both rounds of a pair run the same number of steps; between pairs that number follows the machine's speed so
    that a round lasts about ``args.round_seconds`` (a busy machine can slow a step tenfold).
    """
    steps, results, started = warm_up(bare, harness, watch, args.round_seconds), [], time.monotonic()
    while len(results) < args.pairs and time.monotonic() - started < args.max_seconds:
        if len(results) % 2 == 0:
            b = bare.round(steps)
            h = harness.round(steps, watch)
        else:
            h = harness.round(steps, watch)
            b = bare.round(steps)
        results.append((b, h))
        print(f"pair {len(results):2d}: {steps} steps, bare {per_step(b, 'wall_s'):.3f} ms/step, harness "
              f"{per_step(h, 'wall_s'):.3f} ms/step (x{per_step(h, 'wall_s') / per_step(b, 'wall_s'):.3f} wall, "
              f"x{per_step(h, 'cpu_s') / per_step(b, 'cpu_s'):.3f} CPU)", flush=True)
        steps = steps_for(args.round_seconds, [b for b, _ in results[-3:]])
    return results


def per_step(result: dict[str, float], key: str) -> float:
    return result[key] / result["steps"] * 1e3


def steps_for(round_s: float, recent: list[dict[str, float]]) -> int:
    """Steps that make a bare round last about ``round_s``, from the median speed of recent bare rounds."""
    return max(10, round(round_s / statistics.median(r["wall_s"] / r["steps"] for r in recent)))


def warm_up(bare: Side, harness: Side, watch: SupervisorPolling, round_s: float) -> int:
    """Warm both sides up (first-touch allocations, lazy initialisation; discarded); the steps of a first round."""
    harness.round(20, watch)
    steps = steps_for(round_s, [bare.round(20)])
    harness.round(steps, watch)
    return steps_for(round_s, [bare.round(steps)])


def measure(args: argparse.Namespace) -> list[tuple[dict, dict]]:
    """Start both sides, alternate their rounds, and stop them; the (bare, harness) result of each pair."""
    from harness.runner.messages import Heartbeat

    with tempfile.TemporaryDirectory(prefix="podium-bench-") as scratch:
        path = Path(scratch) / "bench.heartbeat"
        heartbeat = Heartbeat(path, create=True)
        sides = [Side("bare", args.threads, path), Side("harness", args.threads, path)]
        try:
            for side in sides:
                side.wait_ready()
            return alternate(*sides, SupervisorPolling(heartbeat, sides[1].process.pid), args)
        finally:
            for side in sides:
                side.close()
            heartbeat.close()


def verdict(name: str, harness: list[float], bare: list[float]) -> str:
    ratio, low, high, half = paired_ratio(harness, bare)
    logs = [math.log(h / b) for h, b in zip(harness, bare)]
    goal_value = CASE.ratio_goal
    goal = "met" if ratio <= goal_value else "NOT met"
    if ratio <= goal_value:
        goal += " (the whole interval is below it)" if high <= goal_value else " (but the interval reaches past it)"
    return (f"  ratio harness / bare, {name}: {ratio:.3f}, 95% interval [{low:.3f}, {high:.3f}] (+-{half:.1%}); "
            f"goal <= {goal_value}: {goal}; interval +-{HALF_WIDTH_GOAL:.0%}: "
            f"{'met' if half <= HALF_WIDTH_GOAL else 'NOT met'}; paired noise (SD of log-ratios) "
            f"{statistics.stdev(logs):.1%}")


def report(results: list[tuple[dict, dict]], threads: int, load_before: tuple[float, ...]) -> None:
    bare = {key: [per_step(b, key) for b, _ in results] for key in ("wall_s", "cpu_s")}
    harness = {key: [per_step(h, key) for _, h in results] for key in ("wall_s", "cpu_s", "submission_s")}
    print(f"\n{CASE.workload}, batch {CASE.batch_size}, {CASE.what}, {threads} threads: {len(results)} alternating pairs of rounds "
          f"(a bare round lasted {statistics.median(b['wall_s'] for b, _ in results):.2f}s, median)")
    median = statistics.median
    print(f"  {'bare JAX loop' if CASE.framework == 'jax' else 'bare PyTorch loop':<23}: {median(bare['wall_s']):.3f} ms/step wall, {median(bare['cpu_s']):.3f} "
          f"ms/step CPU (medians over rounds)")
    print(f"  harness, per loop step : {median(harness['wall_s']):.3f} ms/step wall, {median(harness['cpu_s']):.3f} "
          f"ms/step CPU (bookkeeping included, evaluation excluded)")
    print(f"  harness, submission    : {median(harness['submission_s']):.3f} ms/step (what the clock charges)")
    # Measured within each harness round, so the machine's drift cancels: the harness's own work between calls.
    outside = [1 - s / w for s, w in zip(harness["submission_s"], harness["wall_s"])]
    print(f"  harness bookkeeping outside submission code: {median(outside):.2%} of the loop's wall time (median)")
    print(verdict("wall", harness["wall_s"], bare["wall_s"]))
    print(verdict("CPU ", harness["cpu_s"], bare["cpu_s"]))
    walls = bare["wall_s"]
    print(f"  machine noise: the bare loop's rounds spread max/min {max(walls) / min(walls):.2f}, coefficient of "
          f"variation {statistics.stdev(walls) / statistics.fmean(walls):.1%}; load average (1, 5, 15 min) "
          f"{load(load_before)} before, {load(os.getloadavg())} after, on {os.cpu_count()} CPUs")


def load(averages: tuple[float, ...]) -> str:
    return "/".join(f"{x:.2f}" for x in averages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Many short rounds: the pairs' noise (SD ~13% of a log-ratio here) averages down to a +-2% interval in ~2.5 min;
    # 30 rounds of 1 s gave +-3-6% and run-to-run differences wider than that.
    parser.add_argument("--pairs", type=int, default=300, help="pairs of rounds (one bare, one harness)")
    parser.add_argument("--case", choices=sorted(CASES), default="mlp",
                        help="mlp: the training track (adamw on fashion_mnist_mlp); jax: a JAX trial (adamw_jax on "
                             "fashion_mnist_mlp's Flax twin); jax-sync: the same against a bare loop that waits on "
                             "every step; lora: the PEFT track (LoRA on minilm_rotten_tomatoes)")
    parser.add_argument("--round-seconds", type=float, default=None,
                        help="length of a bare round (default: 0.25 s, 1.5 s for lora)")
    parser.add_argument("--max-seconds", type=float, default=150.0, help="start no pair after this many seconds")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--serve", choices=("bare", "harness"), help=argparse.SUPPRESS)
    parser.add_argument("--heartbeat", help=argparse.SUPPRESS)
    args = parser.parse_args()
    global CASE
    CASE = CASES[args.case]
    if args.round_seconds is None:
        args.round_seconds = CASE.round_seconds
    if args.serve:
        serve(args.serve, args.threads, args.heartbeat)
        return
    load_before = os.getloadavg()
    results = measure(args)
    if len(results) < 2:
        raise SystemExit("fewer than 2 pairs of rounds fitted in --max-seconds: no interval (is the machine busy?)")
    report(results, args.threads, load_before)


if __name__ == "__main__":
    main()
