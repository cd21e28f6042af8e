"""PyTorch glue for causal-language-model workloads: text as fixed-length blocks of token ids, each position's next
token its target, quality as perplexity.

**Blocks.** A block is ``T + 1`` consecutive token ids of a text; its *inputs* are the first ``T`` (``{"input_ids":
(B, T)}``, no padding and so no attention mask) and its *targets* the last ``T``: target ``t`` is the token that
follows input ``t``.

**One row a predicted token.** The model (:class:`NextTokenLM`) returns the logits of every position of every block
as rows, ``(B * T, V)``, row ``b * T + t`` predicting target ``t`` of block ``b``; the training queue's targets are
flattened the same way, ``(B * T,)`` (:class:`TokenBlockWorkload`). A classification workload has one row of logits
and one label an example; here a row is a token. So the track's loss (``loss_fn``: softmax cross-entropy over rows,
``summed / n_valid_examples`` the mean over tokens) and a compressor written for rows of logits and a vector of
targets (``F.cross_entropy(logits, targets)`` for recovery fine-tuning, a softmax over the last axis for
distillation) run on a language model unchanged, where ``(B, T, V)`` logits against ``(B, T)`` targets would make
``F.cross_entropy`` read the positions as classes.

**Perplexity** (:class:`PerplexityEvaluator`): ``exp`` of the mean next-token cross-entropy (nats) over every target
of a split, each token weighing the same (a sum over the split's tokens divided by their number, not a mean of
per-block or per-batch means); the metric is ``"perplexity"``, the mean itself ``"loss"``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from workloads.common.compression import CompressionWorkload
from workloads.common.peft import Inputs, forward, take, to_device
from workloads.common.pytorch import EvaluationError, SplitMetrics

#: blocks a forward pass when evaluating: the float32 logits of 8 blocks of 128 tokens over a 49,152-token vocabulary
#: are 201 MB, which a 2-core CPU machine holds beside two copies of a 135 M-parameter model
EVAL_BATCH_SIZE = 8


def block_tensors(blocks: np.ndarray) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """``({"input_ids": (N, T)}, targets (N, T))``, int64, from token blocks ``(N, T + 1)`` (copies: the array a
    cache may keep stays untouched)."""
    ids = torch.from_numpy(np.array(blocks, dtype=np.int64))  # (N, T + 1)
    return {"input_ids": ids[:, :-1].contiguous()}, ids[:, 1:].contiguous()


class NextTokenLM(nn.Module):
    """A causal language model as a workload's model: ``forward(input_ids)`` takes blocks ``(B, T)`` and returns the
    next-token logits at every position as rows, ``(B * T, V)`` (row ``b * T + t``: position ``t`` of block ``b``).

    ``lm`` is a Hugging Face causal LM (its output's ``.logits``, ``(B, T, V)``), called without a cache: each block
    is scored on its own.
    """

    def __init__(self, lm: nn.Module) -> None:
        super().__init__()
        self.lm = lm

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        logits = self.lm(input_ids=input_ids, use_cache=False).logits  # (B, T, V)
        return logits.flatten(0, 1)  # (B * T, V)


def _flat(batch: dict[str, Any]) -> dict[str, Any]:
    return {"inputs": batch["inputs"], "targets": batch["targets"].reshape(-1)}  # (B, T) -> (B * T,)


class TokenBlockWorkload(CompressionWorkload):
    """A compression workload whose examples are token blocks (see the module docstring): batches of ``B`` blocks,
    ``inputs`` ``{"input_ids": (B, T)}``, ``targets`` ``(B * T,)`` in the model's row order. ``num_train_examples``
    and the batch sizes count blocks; ``loss_fn``'s ``n_valid_examples`` counts tokens."""

    def input_queue(self, batch_size: int, seed: int) -> Iterator[dict[str, Any]]:
        """Infinite, shuffled-per-epoch batches of ``batch_size`` training blocks (the ``train_queue``)."""
        return (_flat(batch) for batch in super().input_queue(batch_size, seed))

    def calibration_batches(self, seed: int) -> list[dict[str, Any]]:
        """The track's calibration batches (:meth:`CompressionWorkload.calibration_batches`), in blocks."""
        return [_flat(batch) for batch in super().calibration_batches(seed)]


class PerplexityEvaluator:
    """Harness-side evaluation of a model on held-out token blocks: the mean next-token loss over every target of a
    split and its exp, the perplexity. Never handed to a submission.

    ``splits`` maps a split to ``({"input_ids": (N, T)}, targets (N, T))`` (:func:`block_tensors`); the model returns
    ``(B * T, V)`` logits for ``B`` blocks (:class:`NextTokenLM`). The model is put in eval mode under
    ``torch.no_grad()`` and its mode restored, as :class:`~workloads.common.peft.ModelEvaluator` does.
    """

    def __init__(self, device: torch.device, splits: dict[str, tuple[Inputs, torch.Tensor]],
                 batch_size: int = EVAL_BATCH_SIZE) -> None:
        self._splits = {k: (to_device(x, device), y.to(device)) for k, (x, y) in splits.items()}
        self._batch_size = batch_size

    @torch.no_grad()
    def evaluate(self, params: Any, model_state: Any, split: str) -> SplitMetrics:
        """``{"loss", "perplexity"}`` on ``split`` ("validation" or "test"), also under ``"<split>/<metric>"``."""
        del model_state
        if not isinstance(params, nn.Module):
            raise EvaluationError(f"the model to evaluate is a {type(params).__name__}, not a torch.nn.Module")
        model, was_training = params, params.training
        model.eval()
        try:
            x, y = self._splits[split]
            total, count = 0.0, 0
            for start in range(0, len(y), self._batch_size):
                rows = slice(start, start + self._batch_size)
                logits = forward(model, take(x, rows))  # (B * T, V)
                targets = y[rows].reshape(-1)  # (B * T,)
                if logits.dim() != 2 or logits.shape[0] != targets.numel():
                    raise EvaluationError(f"the model returned logits of shape {tuple(logits.shape)} for "
                                          f"{tuple(y[rows].shape)} blocks x tokens; expected one row a token, "
                                          f"({targets.numel()}, vocabulary)")
                total += float(F.cross_entropy(logits.float(), targets, reduction="sum"))
                count += targets.numel()
        finally:
            model.train(was_training)
        loss = total / count
        return SplitMetrics(split, {"loss": loss, "perplexity": perplexity(loss)})


def perplexity(loss: float) -> float:
    """``exp(loss)``: infinite where that overflows a float (a loss over ~709 nats a token), NaN for a NaN loss.

    >>> perplexity(0.0), perplexity(1e4), perplexity(float("nan"))
    (1.0, inf, nan)
    """
    try:
        return math.exp(loss)
    except OverflowError:
        return math.inf
