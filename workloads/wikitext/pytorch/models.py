"""A GPT-2-small-sized language model trained from scratch on WikiText-103 (:mod:`workloads.wikitext.data`).

**Model** (:class:`GPT2LM`): Hugging Face ``transformers``' ``GPT2LMHeadModel`` built from a ``GPT2Config``, randomly
initialised (nothing is downloaded): 12 pre-norm blocks of width 768 with 12 heads, learned positions for a context
of 512, the output projection tied to the token embedding, over the workload's own 32,768-token byte-level BPE
(GPT-2's 50,257 tokens are not available offline). 110.6 M parameters, 85.1 M of them outside the embeddings; a
forward pass of a block of 512 tokens is 61.2 G multiply-adds (counted: 56.4 G in the linear layers, the output
projection's 12.9 G included, and 4.8 G in attention). GPT-2's initialisation: N(0, 0.02), the residual
projections' N(0, 0.02 / sqrt(2 x 12)), biases 0, so the logits at initialisation are near zero and the loss near
log(32,768) = 10.4 nats (a test checks it at a small size; the full-size model's first loss on the test's tiny files
was 10.47).

Dropout sites (off unless ``init_model_fn`` sets a rate; GPT-2's own ``0.1`` defaults are not used):
``dropout_rate`` on each residual branch's output and on the attention probabilities, ``aux_dropout_rate`` on the
summed embeddings, as in :class:`workloads.tiny_lm.pytorch.models.TinyLM`.

**One row a predicted token**, as in :mod:`workloads.common.causal_lm` and the ``tiny_lm`` family: ``forward`` takes
blocks ``(B, T)`` of token ids and returns logits ``(B * T, V)``; the training queue's targets are ``(B * T,)``
(:class:`workloads.tiny_lm.pytorch.models.LMWorkload`), so the training track's ``loss_fn`` works unchanged and
``summed / n_valid_examples`` is the mean next-token loss. Batch sizes count blocks.

**Metric**: perplexity, ``exp`` of the mean next-token cross-entropy over every target of the split
(:class:`workloads.tiny_lm.pytorch.models.LMEvaluator`), lower is better.

**Parameter types**: GPT-2's names (``lm.transformer.h.<i>.attn.c_attn`` the fused query/key/value projection,
``attn.c_proj`` the attention output, ``mlp.c_fc``/``mlp.c_proj`` the MLP). Its linear layers are ``Conv1D``
modules whose weights are stored ``(in, out)``, the transpose of ``nn.Linear``'s.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import GPT2Config, GPT2LMHeadModel

from harness.tracks.training import ParameterType
from workloads.common.data import preload, splits_from
from workloads.common.pytorch import DropoutModel
from workloads.spec import WorkloadSpec
from workloads.tiny_lm.pytorch.models import LMEvaluator, LMWorkload, build_lm
from workloads.wikitext.data import VOCAB_SIZE, loader

#: blocks a forward pass when evaluating: 16 blocks of 512 tokens' float32 logits over 32,768 tokens are 1.07 GB
EVAL_BATCH_SIZE = 16


class GPT2LM(DropoutModel):
    """``GPT2LMHeadModel`` (as ``lm``) from a config, returning one row of logits a token."""

    def __init__(self, vocab: int = VOCAB_SIZE, context: int = 512, width: int = 768, depth: int = 12,
                 heads: int = 12) -> None:
        super().__init__()
        self.context = context
        config = GPT2Config(vocab_size=vocab, n_positions=context, n_embd=width, n_layer=depth, n_head=heads,
                            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, use_cache=False,
                            bos_token_id=None, eos_token_id=None)  # GPT-2's 50256 is outside this vocabulary
        self.lm = GPT2LMHeadModel(config)
        # the dropout modules by site (a plain list: not registered again as submodules)
        self._sites = {"embedding": [self.lm.transformer.drop],
                       "residual": [m for name, m in self.lm.named_modules()
                                    if isinstance(m, nn.Dropout) and name != "transformer.drop"]}
        self._rates = (0.0, 0.0)

    def _set_rates(self, rate: float, aux_rate: float) -> None:
        if (rate, aux_rate) != self._rates:  # GPT-2 reads each site's rate from its module, attention's too
            for module in self._sites["residual"]:
                module.p = rate
            for module in self._sites["embedding"]:
                module.p = aux_rate
            self._rates = (rate, aux_rate)

    def forward(self, x: torch.Tensor, dropout_rate: float | None = None) -> torch.Tensor:  # (B, T) -> (B*T, V)
        if x.dim() != 2 or x.shape[1] > self.context:
            raise ValueError(f"expected token blocks (batch, <= {self.context}), got {tuple(x.shape)}")
        self._set_rates(self.rate(dropout_rate), self.aux_dropout_rate)
        return self.lm(input_ids=x, use_cache=False).logits.flatten(0, 1)  # (B * T, V)


class GPT2Workload(LMWorkload):
    """:class:`LMWorkload` (token blocks in, targets ``(B * T,)``) with GPT-2's parameter names."""

    def is_output_params(self, param_key: str) -> bool:
        return param_key == "lm.transformer.wte.weight"  # the tied output projection (lm_head shares it)

    #: GPT-2's names (TinyLM's ``proj.weight`` rule would also catch GPT-2's MLP ``mlp.c_proj.weight``)
    NAMED_TYPES = (
        (("transformer.wte.weight", "transformer.wpe.weight"), ParameterType.EMBEDDING),
        (("attn.c_attn.weight",), ParameterType.ATTENTION_QKV),
        (("attn.c_attn.bias",), ParameterType.ATTENTION_BIAS),
        (("attn.c_proj.weight",), ParameterType.ATTENTION_OUT),
    )


def build(spec: WorkloadSpec, hardware_class: str, device: torch.device, context: int = 512, width: int = 768,
          depth: int = 12, heads: int = 12, vocab_size: int = VOCAB_SIZE) -> tuple[GPT2Workload, LMEvaluator]:
    """``vocab_size`` is the tokenizer's and the model's (a test passes a few hundred)."""
    return build_lm(spec, hardware_class, device, splits_from(loader(context, vocab_size)),
                    lambda: GPT2LM(vocab_size, context, width, depth, heads), EVAL_BATCH_SIZE, GPT2Workload)


def warm() -> None:
    """Read WikiText-103 and its token streams once in a fork server (tokenizing it, and training the tokenizer, only
    the first time on a machine: both are cached); its trials reuse the blocks of every context length the family's
    workloads use."""
    from workloads import WORKLOADS

    kwargs = [WORKLOADS.get(name).builder_kwargs for name in WORKLOADS.names()
              if WORKLOADS.get(name).family == "wikitext"]
    for context, vocab_size in sorted({(k.get("context", 512), k.get("vocab_size", VOCAB_SIZE)) for k in kwargs}):
        preload(loader(context, vocab_size))
