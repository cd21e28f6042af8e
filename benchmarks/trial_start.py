"""Fixed cost of a trial, cold start against warm start, with a 95% interval; and the cost of one evaluation.

A trial's *fixed cost* is its wall time outside submission code and evaluation: process start and imports (spawn),
loading the workload and importing the submission (startup), initialisation, the loop's own bookkeeping, and the
tail (result, exit, reaping): ``wall - submission - evaluation``, each part measured by the supervisor and the worker
(see ``harness.runner.supervisor.account``). Trials here are real ``digits_mlp`` trials of the adamw baseline capped
at a few updates, so almost all of their wall time is fixed cost.

* **cold**: every trial a new interpreter (``PODIUM_TRIAL_START=cold``);
* **warm**: every trial forked by the run's fork server (``harness.runner.forkserver``), the default.

The two alternate (cold, warm, warm, cold, ...) so that the machine's drift favours neither; each pair gives one
log-ratio, and the ratio's 95% interval is a t interval over them. The fork server's own start (once per run) is
reported separately: it is in no trial's wall time. Goal (issue: trials that start fast): warm fixed cost at most
0.5 s on this machine.

Then, per lite workload, the wall time of one validation evaluation of a freshly initialised model (median of 5),
the cost every ``eval_period_s`` adds to a trial's wall time: in the trial's process, and through the evaluation
server (``harness.runner.evaluator``), as training-track trials are evaluated. And per PEFT lite workload (with its
scored variants), with the LoRA baseline's model: the export a trial does once before its timed loop
(``harness.runner.program``), the server's rebuild of it, and one evaluation in the trial's process against one
through the server (save the weights, request, load them into the program, evaluate, answer; median of 3).

Run: ``make bench`` (or ``python benchmarks/trial_start.py --pairs 8``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.step_overhead import paired_ratio  # noqa: E402

BASELINE = ROOT / "submissions" / "training" / "adamw"
GOAL_S = 0.5


def trial(start: str, index: int, workdir: Path) -> dict[str, float]:
    from harness.runner.messages import TrialRequest
    from harness.runner.run import first_point
    from harness.runner.supervisor import run_trial
    from workloads import get_spec

    if start == "cold":
        os.environ["PODIUM_TRIAL_START"] = "cold"
    else:
        os.environ.pop("PODIUM_TRIAL_START", None)  # the default; also keeps the fork server's environment the same
    request = TrialRequest(trial_id=f"{start}-{index}", submission_dir=str(BASELINE), workload=get_spec("digits_mlp"),
                           hardware_class="cpu-2core", budget_s=60.0, hyperparameters=first_point(BASELINE), seed=index,
                           threads=1, max_steps=5, eval_every_steps=5)
    outcome = run_trial(request, workdir)
    if outcome.start != start or outcome.result is None:
        raise SystemExit(f"a {start} trial did not run as one: {outcome.start}, {outcome.status}: {outcome.reason}")
    r = outcome.result
    return dict(wall=outcome.wall_s, fixed=outcome.wall_s - r.submission_time_s - r.eval_time_s,
                spawn=outcome.spawn_s, startup=r.startup_time_s, init=r.init_time_s, tail=outcome.tail_s)


def server_start_s() -> float:
    """Seconds to start a fork server and load the digits into it (once per run)."""
    from harness.runner import forkserver
    from harness.runner.supervisor import _child_env
    from harness.runner.messages import TrialRequest
    from workloads import get_spec

    request = TrialRequest(trial_id="x", submission_dir=str(BASELINE), workload=get_spec("digits_mlp"),
                           hardware_class="cpu-2core", budget_s=1.0, seed=0, threads=1)
    forkserver.close_all()
    started = time.perf_counter()
    forkserver.server_for(_child_env(request), request.workload.builder)
    return time.perf_counter() - started


def evaluation_costs(threads: int) -> list[tuple[str, int, float, float]]:
    """(workload, validation examples, median seconds of one validation evaluation in this process, and through
    the evaluation server: the worker's ``torch.save`` of the ``state_dict``, the request, the server's load and
    evaluation, the answer). The two alternate, five times each."""
    import importlib

    import numpy as np
    import torch

    from harness.runner.evaluator import EvaluationServer
    from harness.runner.messages import TrialRequest
    from workloads import get_spec, scored_workloads
    from harness.runner.run import BENCHMARK_RELEASE

    torch.set_num_threads(threads)
    out = []
    with tempfile.TemporaryDirectory(prefix="podium-bench-eval-") as folder:
        path = Path(folder) / "evaluate.pt"
        for name in scored_workloads("lite", BENCHMARK_RELEASE):
            spec = get_spec(name)
            module, function = spec.builder.split(":")
            workload, evaluator = getattr(importlib.import_module(module), function)(
                spec, "cpu-2core", torch.device("cpu"), **spec.builder_kwargs)
            model, state = workload.init_model_fn(np.array([0, 0], dtype=np.uint32))
            server = EvaluationServer(TrialRequest(trial_id="bench", submission_dir=folder, workload=spec,
                                                   hardware_class="cpu-2core", budget_s=1.0, seed=0, threads=threads))

            def remote() -> None:
                torch.save(model.state_dict(), path)
                server.evaluate(path, "validation", None, 300.0)

            local = lambda: evaluator.evaluate(model, state, "validation")  # noqa: E731
            local(), remote()  # first touch, discarded
            times: dict[str, list[float]] = {"local": [], "remote": []}
            for _ in range(5):
                for kind, run in (("local", local), ("remote", remote)):
                    started = time.perf_counter()
                    run()
                    times[kind].append(time.perf_counter() - started)
            server.close()
            out.append((name, workload.num_validation_examples, statistics.median(times["local"]),
                        statistics.median(times["remote"])))
    return out


def peft_evaluation_costs(threads: int, names: list[str], repeats: int = 3) -> list[tuple]:
    """(workload, validation examples, export seconds, rebuild seconds, median seconds of one evaluation in this
    process, and through the server) for the LoRA baseline's model on each workload."""
    import importlib

    import numpy as np
    import torch

    from harness.runner import program
    from harness.runner.evaluator import EvaluationServer
    from harness.runner.messages import TrialRequest
    from harness.tracks import peft
    from harness.tracks.training import as_hyperparameters
    from workloads import get_spec

    torch.set_num_threads(threads)
    lora = Path(__file__).resolve().parents[1] / "submissions" / "peft" / "lora"
    out = []
    with tempfile.TemporaryDirectory(prefix="podium-bench-peft-") as folder:
        path = Path(folder) / "evaluate.pt"
        for name in names:
            spec = get_spec(name)
            module, function = spec.builder.split(":")
            workload, evaluator = getattr(importlib.import_module(module), function)(
                spec, "cpu-2core", torch.device("cpu"), **spec.builder_kwargs)
            model, state = workload.init_model_fn(np.array([0, 0], dtype=np.uint32))
            hyperparameters = {"learning_rate": 0.003}
            method = peft.compose(peft.config_submission(lora), hyperparameters)
            model = method.adapt(model=model, workload=workload, hyperparameters=as_hyperparameters(hyperparameters),
                                 rng=np.array([0, 1], dtype=np.uint32))
            started = time.perf_counter()
            saved = program.write(program.export(model, program.example_of(workload.reference)),
                                  Path(folder) / f"program-{name}")
            exported_s = time.perf_counter() - started
            started = time.perf_counter()
            program.load(saved, torch.device("cpu"))
            rebuilt_s = time.perf_counter() - started
            server = EvaluationServer(TrialRequest(trial_id="bench", submission_dir=folder, workload=spec,
                                                   hardware_class="cpu-2core", budget_s=1.0, seed=0, threads=threads))

            def remote() -> None:
                torch.save(program.Logits(model).state_dict(), path)
                server.evaluate(path, "validation", None, 900.0, saved)

            local = lambda: evaluator.evaluate(model, state, "validation")  # noqa: E731
            remote()  # the server's first rebuild, discarded
            times: dict[str, list[float]] = {"local": [], "remote": []}
            for _ in range(repeats):
                for kind, run in (("local", local), ("remote", remote)):
                    started = time.perf_counter()
                    run()
                    times[kind].append(time.perf_counter() - started)
            server.close()
            out.append((name, workload.num_validation_examples, exported_s, rebuilt_s,
                        statistics.median(times["local"]), statistics.median(times["remote"])))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=8, help="cold/warm pairs of trials (default 8)")
    parser.add_argument("--threads", type=int, default=2, help="threads for the evaluation costs (default 2)")
    parser.add_argument("--part", choices=("all", "start", "evaluation", "peft"), default="all",
                        help="measure only the trials' fixed cost, the training track's evaluation cost or the PEFT "
                             "track's (default: all three)")
    args = parser.parse_args()
    load_before = os.getloadavg()
    if args.part in ("all", "start"):
        fixed_costs(args.pairs)
    if args.part in ("all", "evaluation"):
        print(f"\nOne validation evaluation of a fresh model ({args.threads} threads, median of 5), in the trial's "
              "process and through the evaluation server (save, request, load, evaluate, answer):")
        for name, n, local, remote in evaluation_costs(args.threads):
            print(f"  {name:<30}{local * 1e3:>8.1f} ms in process{remote * 1e3:>8.1f} ms via the server "
                  f"({(remote - local) * 1e3:+.1f} ms)  ({n} examples)")
    if args.part in ("all", "peft"):
        peft_report(args.threads)
    print(f"load average (1, 5, 15 min): {' '.join(f'{v:.2f}' for v in load_before)} before, "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())} after, on {os.cpu_count()} CPUs")


def fixed_costs(pairs: int) -> None:
    print(f"fork server start (imports and the digits' load, once per run): {server_start_s():.2f} s")
    rows = {"cold": [], "warm": []}
    with tempfile.TemporaryDirectory(prefix="podium-bench-start-") as scratch:
        trial("warm", -1, Path(scratch))  # warm-up of both paths' caches (discarded)
        trial("cold", -1, Path(scratch))
        for i in range(pairs):
            order = ("cold", "warm") if i % 2 == 0 else ("warm", "cold")
            for start in order:
                rows[start].append(trial(start, i, Path(scratch)))
            print(f"pair {i + 1:2d}: fixed cost cold {rows['cold'][-1]['fixed']:.2f} s, warm "
                  f"{rows['warm'][-1]['fixed']:.3f} s", flush=True)
    os.environ.pop("PODIUM_TRIAL_START", None)
    median = statistics.median
    print(f"\ndigits_mlp trials capped at 5 updates, adamw, {pairs} alternating cold/warm pairs "
          f"(medians, seconds):")
    print(f"  {'start':<6}{'fixed':>8}{'spawn':>8}{'startup':>9}{'init':>8}{'tail':>8}{'wall':>8}")
    for start, results in rows.items():
        print(f"  {start:<6}" + "".join(f"{median(r[k] for r in results):>{w}.3f}" for k, w in
                                       (("fixed", 8), ("spawn", 8), ("startup", 9), ("init", 8), ("tail", 8),
                                        ("wall", 8))))
    ratio, low, high, half = paired_ratio([r["fixed"] for r in rows["cold"]], [r["fixed"] for r in rows["warm"]])
    warm = median(r["fixed"] for r in rows["warm"])
    print(f"  cold / warm fixed cost: {ratio:.1f}x, 95% interval [{low:.1f}, {high:.1f}]; warm fixed cost "
          f"{warm:.3f} s, goal <= {GOAL_S} s: {'met' if warm <= GOAL_S else 'NOT met'}")


def peft_report(threads: int) -> None:
    from harness.runner.run import BENCHMARK_RELEASE
    from workloads import scored_workloads

    names = scored_workloads("lite", BENCHMARK_RELEASE, track="peft")
    print(f"\nPEFT track, the LoRA baseline's model ({threads} threads): the export before the timed loop, the "
          f"server's rebuild, then one validation evaluation (median of 3) in the trial's process and through the "
          f"server (save, request, load into the program, evaluate, answer):")
    for name, n, exported, rebuilt, local, remote in peft_evaluation_costs(threads, names):
        print(f"  {name:<30} export {exported:5.2f} s, rebuild {rebuilt:5.2f} s; {local:7.2f} s in process, "
              f"{remote:7.2f} s via the server ({(remote - local) * 1e3:+.0f} ms)  ({n} examples)")


if __name__ == "__main__":
    main()
