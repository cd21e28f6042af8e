"""Harness overhead: per-step time of a trial under Podium / per-step time of a bare PyTorch loop.

Both sides train the same model (``fashion_mnist_mlp``), on the same tensors, with the same batch size (128), the
same optimizer (AdamW, the adamw baseline's first hyperparameter point, with its warmup + cosine schedule), the same
shuffling, the same thread count, each in a fresh process. The harness side is a real trial (supervisor, worker,
heartbeat, clock, checks) in target-setting mode so it does not stop at the target; its per-step time is
``(loop wall time - evaluation time) / steps`` - harness bookkeeping included, evaluation excluded (the bare loop
does not evaluate). Runs alternate A/B so drifts in machine load hit both sides; the ratio of medians is printed.

Run: ``make bench`` (or ``python benchmarks/step_overhead.py --repeats 5 --seconds 8``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKLOAD = "fashion_mnist_mlp"
BASELINE = ROOT / "submissions" / "training" / "adamw"


def bare_loop(seconds: float, threads: int) -> dict[str, float]:
    """The hand-written loop: no harness, no clock, no checks."""
    import torch
    from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR

    from workloads import get_spec
    from workloads.digits.pytorch.models import MLP
    from workloads.fashion_mnist.data import load_splits

    torch.set_num_threads(threads)
    hp = json.loads((BASELINE / "search_space.json").read_text())[0]
    splits = load_splits()
    x = torch.from_numpy(splits.train_x).reshape(len(splits.train_y), 784)
    y = torch.from_numpy(splits.train_y)
    torch.manual_seed(0)
    model = MLP((784, 256, 128, 10), "relu")
    opt = torch.optim.AdamW(model.parameters(), lr=hp["learning_rate"], betas=(1 - hp["one_minus_beta1"], hp["beta2"]),
                            eps=1e-8, weight_decay=hp["weight_decay"])
    step_hint = get_spec(WORKLOAD).step_hint
    warmup = max(int(hp["warmup_factor"] * step_hint), 1)
    sched = SequentialLR(opt, [LinearLR(opt, 1e-10, 1.0, warmup), CosineAnnealingLR(opt, max(step_hint - warmup, 1))],
                         milestones=[warmup])
    generator, steps, batch = torch.Generator().manual_seed(0), 0, 128
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        order = torch.randperm(len(y), generator=generator)
        for i in range(0, len(y) - batch + 1, batch):
            idx = order[i:i + batch]
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            sched.step()
            steps += 1
            if time.perf_counter() - start >= seconds:
                break
    elapsed = time.perf_counter() - start
    return {"steps": steps, "seconds": elapsed, "step_s": elapsed / steps}


def harness_trial(seconds: float, threads: int) -> dict[str, float]:
    from harness.runner.messages import TrialRequest
    from harness.runner.supervisor import run_trial
    from workloads import get_spec

    hp = json.loads((BASELINE / "search_space.json").read_text())[0]
    request = TrialRequest(trial_id="bench", submission_dir=str(BASELINE), workload=get_spec(WORKLOAD),
                           hardware_class="cpu-2core", budget_s=seconds, hyperparameters=hp, seed=0, threads=threads,
                           mode="target_setting")
    with tempfile.TemporaryDirectory() as workdir:
        outcome = run_trial(request, Path(workdir))
    r = outcome.result
    if r is None or outcome.status in ("failed", "timed_out"):
        raise SystemExit(f"harness trial {outcome.status}: {outcome.reason}")
    # Target-setting mode also evaluates the test split at each evaluation; both are excluded via eval_time_s.
    train_wall = r.loop_wall_s - r.eval_time_s
    return {"steps": r.steps, "seconds": train_wall, "step_s": train_wall / r.steps,
            "submission_step_s": r.submission_time_s / r.steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6.0, help="training seconds per run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        print(json.dumps(bare_loop(args.seconds, args.threads)))
        return
    bare, harness = [], []
    for i in range(args.repeats):
        out = subprocess.run([sys.executable, __file__, "--bare", "--seconds", str(args.seconds), "--threads",
                              str(args.threads)], capture_output=True, text=True, check=True, cwd=ROOT)
        bare.append(json.loads(out.stdout.strip().splitlines()[-1]))
        harness.append(harness_trial(args.seconds, args.threads))
        print(f"run {i + 1}/{args.repeats}: bare {bare[-1]['step_s'] * 1e3:.3f} ms/step ({bare[-1]['steps']} steps), "
              f"harness {harness[-1]['step_s'] * 1e3:.3f} ms/step ({harness[-1]['steps']} steps)", flush=True)
    b = statistics.median(r["step_s"] for r in bare)
    h = statistics.median(r["step_s"] for r in harness)
    s = statistics.median(r["submission_step_s"] for r in harness)
    print(f"\n{WORKLOAD}, batch 128, AdamW, {args.threads} threads, {args.repeats} alternating runs of {args.seconds:g}s")
    print(f"  bare PyTorch loop      : {b * 1e3:.3f} ms/step (median)")
    print(f"  harness, per loop step : {h * 1e3:.3f} ms/step (median; harness bookkeeping included, eval excluded)")
    print(f"  harness, submission    : {s * 1e3:.3f} ms/step (median; what the clock charges)")
    pairs = statistics.median(hr["step_s"] / br["step_s"] for hr, br in zip(harness, bare))
    fastest = min(r["step_s"] for r in harness) / min(r["step_s"] for r in bare)
    print(f"  ratio harness / bare   : {h / b:.3f} of medians, {fastest:.3f} of minimums (least-disturbed runs), "
          f"{pairs:.3f} median of the {len(bare)} A/B pairs   (goal <= 1.05)")
    print(f"  ratio submission / bare: {s / b:.3f} of medians")
    spread = max(r["step_s"] for r in bare) / min(r["step_s"] for r in bare)
    print(f"  run-to-run spread of the bare loop: max/min = {spread:.2f} (machine noise; compare it with the ratio)")


if __name__ == "__main__":
    main()
