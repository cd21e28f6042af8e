"""A small decoder-only transformer trained from scratch on Jane Austen's novels (:mod:`workloads.tiny_lm.data`).

**Model** (:class:`TinyLM`), GPT-2's shape at a size a 2-core CPU trains in a minute: token and learned position
embeddings; ``depth`` pre-norm blocks (LayerNorm, causal multi-head self-attention through
``F.scaled_dot_product_attention(is_causal=True)``, residual; LayerNorm, a 4x GELU MLP, residual); a final LayerNorm;
the output projection is the token embedding itself (tied). Weights are drawn from N(0, 0.02), the residual
projections' from N(0, 0.02 / sqrt(2 * depth)) (GPT-2), biases and LayerNorm shifts at 0: the logits at
initialisation are near zero and the loss near log(vocabulary) = 7.62 nats (a test checks it).

Dropout sites (off unless ``init_model_fn`` sets a rate): ``dropout_rate`` on each residual branch's output and on
the attention probabilities, ``aux_dropout_rate`` on the summed embeddings.

**One row a predicted token**, as in :mod:`workloads.common.causal_lm`: ``forward(inputs)`` takes blocks ``(B, T)``
of token ids and returns logits ``(B * T, V)``; the training queue's targets are ``(B * T,)`` in the same order. So
the training track's ``loss_fn`` (softmax cross-entropy over rows, ``n_valid_examples`` the number of tokens) and a
submission written for classification logits work unchanged, and ``summed / n_valid_examples`` is the mean
next-token loss. Batch sizes count blocks.

**Metric**: validation perplexity, ``exp`` of the mean next-token cross-entropy (nats) over every target of the
split (:class:`LMEvaluator`), lower is better.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from harness.tracks.training import ParameterType
from workloads.common.causal_lm import perplexity
from workloads.common.data import Splits, preload, splits_from
from workloads.common.pytorch import DropoutModel, EvaluationError, Evaluator, SplitMetrics, TorchWorkload, dropout
from workloads.spec import WorkloadSpec
from workloads.tiny_lm.data import VOCAB_SIZE, loader

#: blocks a forward pass when evaluating: 64 blocks of 128 tokens' logits over 2,048 tokens are 67 MB (float32)
EVAL_BATCH_SIZE = 64


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(ln1(x))``, then ``x + mlp(ln2(x))``."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.ln2 = nn.LayerNorm(width)
        self.fc = nn.Linear(width, 4 * width)
        self.out = nn.Linear(4 * width, width)

    def forward(self, x: torch.Tensor, rate: float) -> torch.Tensor:  # (B, T, D) -> (B, T, D)
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attn = F.scaled_dot_product_attention(q, k, v, dropout_p=rate, is_causal=True)  # (B, H, T, D/H)
        x = x + dropout(self.proj(attn.transpose(1, 2).reshape(b, t, d)), rate, True)
        return x + dropout(self.out(F.gelu(self.fc(self.ln2(x)))), rate, True)


class TinyLM(DropoutModel):
    """Decoder-only transformer with tied embeddings; ``forward`` returns one row of logits a token."""

    def __init__(self, vocab: int = VOCAB_SIZE, context: int = 128, width: int = 128, depth: int = 2,
                 heads: int = 4) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not a multiple of heads {heads}")
        self.context = context
        self.embed = nn.Embedding(vocab, width)
        self.position = nn.Embedding(context, width)
        self.blocks = nn.ModuleList(Block(width, heads) for _ in range(depth))
        self.ln = nn.LayerNorm(width)
        for name, p in self.named_parameters():
            if p.dim() > 1:
                std = 0.02 / math.sqrt(2 * depth) if name.endswith(("proj.weight", "out.weight")) else 0.02
                nn.init.normal_(p, std=std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, x: torch.Tensor, dropout_rate: float | None = None) -> torch.Tensor:  # (B, T) -> (B*T, V)
        if x.dim() != 2 or x.shape[1] > self.context:
            raise ValueError(f"expected token blocks (batch, <= {self.context}), got {tuple(x.shape)}")
        rate = self.rate(dropout_rate) if self.training else 0.0
        h = self.embed(x) + self.position.weight[:x.shape[1]]  # (B, T, D)
        h = dropout(h, self.aux_dropout_rate, self.training)
        for block in self.blocks:
            h = block(h, rate)
        return F.linear(self.ln(h), self.embed.weight).flatten(0, 1)  # tied output projection: (B * T, V)


class LMWorkload(TorchWorkload):
    """The training track's workload over token blocks: inputs ``(B, T)`` int64, targets ``(B * T,)``."""

    #: AlgoPerf's transformer parameter types by name suffix (the first match wins), over the module-based ones
    #: (:func:`workloads.common.pytorch.parameter_type`): a subclass for another model names its own parts
    NAMED_TYPES: tuple[tuple[tuple[str, ...], ParameterType], ...] = (
        (("embed.weight", "position.weight"), ParameterType.EMBEDDING),
        (("qkv.weight",), ParameterType.ATTENTION_QKV),
        (("qkv.bias",), ParameterType.ATTENTION_BIAS),
        (("proj.weight",), ParameterType.ATTENTION_OUT),
    )

    def is_output_params(self, param_key: str) -> bool:
        return param_key == "embed.weight"  # the tied output projection

    def describe_parameters(self, model: nn.Module) -> None:
        """AlgoPerf's types, with the transformer's own (:attr:`NAMED_TYPES`): embeddings, fused QKV, attention
        output."""
        super().describe_parameters(model)
        for name in self._param_types:
            kind = next((kind for suffixes, kind in self.NAMED_TYPES if name.endswith(suffixes)), None)
            if kind is not None:
                self._param_types[name] = kind

    def input_queue(self, batch_size: int, seed: int) -> Iterator[dict[str, torch.Tensor]]:
        """Infinite, shuffled-per-epoch batches of ``batch_size`` blocks; targets flattened to ``(B * T,)``."""
        for batch in super().input_queue(batch_size, seed):
            yield {"inputs": batch["inputs"], "targets": batch["targets"].reshape(-1)}


class LMEvaluator(Evaluator):
    """Mean next-token loss and perplexity over every target of a held-out split, on the evaluator's own model."""

    @torch.no_grad()
    def evaluate(self, params: Any, model_state: Any, split: str) -> SplitMetrics:
        """``{"loss", "perplexity"}`` on ``split``, also under ``"<split>/<metric>"``."""
        model = self._load(params)
        model.eval()
        x, y = self._splits[split]
        total = 0.0
        for start in range(0, len(y), self._batch_size):
            logits = model(x[start:start + self._batch_size])  # (B * T, V)
            targets = y[start:start + self._batch_size].reshape(-1)
            if logits.shape[0] != targets.numel():
                raise EvaluationError(f"logits of shape {tuple(logits.shape)} for {targets.numel()} targets")
            total += float(F.cross_entropy(logits, targets, reduction="sum"))
        loss = total / y.numel()
        return SplitMetrics(split, {"loss": loss, "perplexity": perplexity(loss)})


def build_lm(spec: WorkloadSpec, hardware_class: str, device: torch.device, splits: Splits,
             model_factory: Callable[[], nn.Module], eval_batch_size: int,
             workload_class: type[LMWorkload] = LMWorkload) -> tuple[LMWorkload, LMEvaluator]:
    """A (workload, evaluator) pair from token-block splits (uint16 numpy ids, made int64 tensors here)."""

    def tokens(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a.astype(np.int64))

    workload = workload_class(spec, hardware_class, tokens(splits.train_x), tokens(splits.train_y),
                              model_factory=model_factory, device=device,
                              held_out_sizes={k: v for k, v in splits.sizes().items() if k != "train"},
                              eval_batch_size=eval_batch_size)
    held_out = {s: (tokens(getattr(splits, f"{s}_x")), tokens(getattr(splits, f"{s}_y")))
                for s in ("validation", "test")}
    return workload, LMEvaluator(workload, held_out, eval_batch_size)


def build(spec: WorkloadSpec, hardware_class: str, device: torch.device, context: int = 128, width: int = 128,
          depth: int = 2, heads: int = 4) -> tuple[LMWorkload, LMEvaluator]:
    return build_lm(spec, hardware_class, device, splits_from(loader(context)),
                    lambda: TinyLM(VOCAB_SIZE, context, width, depth, heads), EVAL_BATCH_SIZE)


def warm() -> None:
    """Read, verify and tokenize the novels once in a fork server (~3 s); its trials reuse the blocks of every
    context length the family's workloads use."""
    from workloads import WORKLOADS

    specs = (WORKLOADS.get(name) for name in WORKLOADS.names())
    for context in sorted({s.builder_kwargs.get("context", 128) for s in specs if s.family == "tiny_lm"}):
        preload(loader(context))
