"""The MiniLM workloads' held-out evaluation on a CPU: batches of 64 (what they use) against 256 (the default).

Both evaluators sort the split by length and trim each batch to its longest row
(:class:`workloads.common.peft.ModelEvaluator`), so a smaller batch carries less padding but makes more calls. Each
pair evaluates the pretrained MiniLM-L6 (with its new head) on the validation and test splits (2 x 1,300 snippets)
once at each batch size, in alternating order, with the trial's threads; printed: each size's median seconds, the
ratio 256/64 per pair (median and range: the noise), and whether the two give the same accuracy and loss.

Run: ``make bench`` (or ``python benchmarks/eval_batch.py --pairs 5``; about 25 s a pair on the 2-core VM).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    from workloads.common.peft import ModelEvaluator
    from workloads.rotten_tomatoes.pytorch.models import CPU_EVAL_BATCH_SIZE, _tensors, load_model, tokenized

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    data = tokenized()
    splits = {s: (_tensors(data.splits[s][0]), torch.from_numpy(data.splits[s][1])) for s in ("validation", "test")}
    model = load_model()
    sizes = (256, CPU_EVAL_BATCH_SIZE)
    evaluators = {bs: ModelEvaluator(torch.device("cpu"), splits, batch_size=bs) for bs in sizes}
    seconds: dict[int, list[float]] = {bs: [] for bs in sizes}
    metrics: dict[int, list[dict[str, float]]] = {}
    for pair in range(args.pairs):
        for bs in sizes if pair % 2 == 0 else reversed(sizes):
            started = time.perf_counter()
            metrics[bs] = [dict(evaluators[bs].evaluate(model, None, s)) for s in ("validation", "test")]
            seconds[bs].append(time.perf_counter() - started)
    ratios = [a / b for a, b in zip(seconds[256], seconds[CPU_EVAL_BATCH_SIZE])]
    for bs in sizes:
        print(f"batch {bs:3d}: validation+test {statistics.median(seconds[bs]):.2f} s median of {args.pairs} "
              f"({', '.join(f'{s:.2f}' for s in seconds[bs])})")
    print(f"256 / {CPU_EVAL_BATCH_SIZE}: {statistics.median(ratios):.2f}x median, {min(ratios):.2f}-{max(ratios):.2f}x "
          f"over {args.pairs} interleaved pairs ({args.threads} threads)")
    same_accuracy = all(a["accuracy"] == b["accuracy"] for a, b in zip(metrics[256], metrics[CPU_EVAL_BATCH_SIZE]))
    loss_gap = max(abs(a["loss"] - b["loss"]) for a, b in zip(metrics[256], metrics[CPU_EVAL_BATCH_SIZE]))
    print(f"same accuracy: {same_accuracy}; largest loss difference {loss_gap:.1e}")


if __name__ == "__main__":
    main()
