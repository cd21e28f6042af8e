"""The compression track's latency measurement, measured: its own noise, and the time it adds per trial.

The same model is measured ``--repeats`` times in one run with :func:`harness.tracks.compression.compare_latency`
(batch-1 p50 over its workload's ``compression.latency_runs`` timed passes after warm-up, or ``--runs``,
interleaved with a second copy of it standing in for the dense reference, on pinned cores; the quickest of
``--attempts`` attempts). Printed per model: the coefficient of variation of the p50 over the repeats (goal: under
2%), the spread and coefficient of variation of the copy/original p50 ratio (what a latency target bounds), how
much the machine disturbed the measurements (the slowest attempt over the quickest, median and worst), and the
seconds one measurement takes (what the measurement adds to each compression trial, bytes after deflate included).
``--attempts 1`` shows what keeping the quickest attempt buys on the machine at hand. Models: the Fashion-MNIST transfer CNN
and MiniLM-L6 (``--model``), with random weights of the workloads' shapes (latency does not depend on the values).

Run: ``python benchmarks/latency_noise.py`` (``make bench``).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CV_GOAL = 0.02


def cnn() -> tuple[object, object, object, object]:
    import torch

    from workloads.fashion_transfer.pytorch.models import TransferCNN

    torch.manual_seed(0)
    single = [torch.randn(1, 1, 28, 28) for _ in range(64)]
    batches = [torch.randn(32, 1, 28, 28) for _ in range(64)]
    return TransferCNN(5), lambda i: single[i % 64], lambda i: batches[i % 64], lambda m, x: m(x)


def minilm() -> tuple[object, object, object, object]:
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from workloads.rotten_tomatoes.pytorch.models import MAX_LENGTH, model_dir

    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig.from_pretrained(str(model_dir()), num_labels=2))

    def tokens(rows: int, i: int) -> dict[str, torch.Tensor]:
        generator = torch.Generator().manual_seed(i)
        ids = torch.randint(1000, 30000, (rows, 32), generator=generator)  # the snippets' median is 26 tokens
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}

    single = [tokens(1, i) for i in range(64)]
    batches = [tokens(32, 1000 + i) for i in range(64)]
    assert 32 <= MAX_LENGTH
    return model, lambda i: single[i % 64], lambda i: batches[i % 64], lambda m, x: m(**x)


MODELS = {"cnn": cnn, "minilm": minilm}
#: the workload whose latency protocol (its ``compression.latency_runs``) each model is measured with by default
WORKLOADS = {"cnn": "fashion_cnn_compress", "minilm": "minilm_sentiment_compress"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), action="append", help="default: every model")
    parser.add_argument("--repeats", type=int, default=10, help="measurements of the same model in one run")
    parser.add_argument("--threads", type=int, default=1, help="threads (pinned cores) of the measurement")
    parser.add_argument("--runs", type=int, default=None,
                        help="timed passes per measurement (default: the workload's compression.latency_runs)")
    parser.add_argument("--attempts", type=int, default=None,
                        help="batch-1 attempts per measurement, the quickest kept (default: the harness's, "
                             "harness.tracks.compression.LATENCY_ATTEMPTS)")
    args = parser.parse_args()

    from harness.tracks import compression
    from workloads import get_spec

    compression.pinned(args.threads)
    for name in args.model or sorted(MODELS):
        runs = args.runs or get_spec(WORKLOADS[name]).compression.latency_runs
        model, single, batch, forward = MODELS[name]()
        other = copy.deepcopy(model)
        attempts = args.attempts or compression.LATENCY_ATTEMPTS
        p50s, ratios, seconds, spreads = [], [], [], []
        for _ in range(args.repeats):
            started = time.perf_counter()
            out = compression.compare_latency({"dense": other, "model": model}, single, batch, forward,
                                              runs=runs, attempts=attempts)
            compression.deflated_bytes(compression.artifact(model))
            seconds.append(time.perf_counter() - started)
            p50s.append(out["model"].p50_ms)
            ratios.append(out["dense"].p50_ms / out["model"].p50_ms)
            spreads.append(out["model"].spread)
        cv = statistics.stdev(p50s) / statistics.fmean(p50s)
        ratio_cv = statistics.stdev(ratios) / statistics.fmean(ratios)
        print(f"{name}: batch-1 p50 {statistics.median(p50s):.3f} ms over {args.repeats} measurements "
              f"({runs} timed passes each, the quickest of {attempts} attempt(s), {args.threads} thread(s), pinned): "
              f"coefficient of "
              f"variation {cv:.1%} (goal < {CV_GOAL:.0%}: {'met' if cv < CV_GOAL else 'NOT met'}); a copy of it "
              f"against it, measured interleaved (what a latency target bounds): p50 ratio "
              f"{min(ratios):.3f}-{max(ratios):.3f}, coefficient of variation {ratio_cv:.1%} "
              f"({'met' if ratio_cv < CV_GOAL else 'NOT met'}); the machine slowed an attempt by up to "
              f"{statistics.median(spreads) - 1:.0%} (median), {max(spreads) - 1:.0%} (worst); one measurement with "
              f"its bytes "
              f"{statistics.median(seconds):.1f} s (median)")


if __name__ == "__main__":
    main()
