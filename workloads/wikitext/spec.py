"""WikiText-103 language-model workloads for GPU hardware classes (the training track's ``full`` suite). No framework
is imported here.

A GPT-2-small-sized decoder-only transformer trained from scratch (:mod:`workloads.wikitext.pytorch.models`) on
WikiText-103 from the hub, tokenized with a byte-level BPE of 32,768 tokens trained on the training split
(:mod:`workloads.wikitext.data`). The metric is validation perplexity (lower is better): ``exp`` of the mean
next-token cross-entropy over every target of the whole validation split. Batch sizes count blocks of ``context``
tokens. A GPU workload: one update at 64 blocks of 512 tokens is about 11.7 T multiply-adds (3 x 61.2 G a block),
out of reach of a 2-core CPU; it has no ``cpu-2core`` budget. Targets and the budget are set on the hardware class
(``podium targets set --workload wikitext103_gpt2 --hardware-class gpu-h100``); none is set yet.
"""

from workloads import register
from workloads.spec import WorkloadSpec
from workloads.wikitext.data import HUB_CONFIG, HUB_DATASET, TEXT_SHA256, TOKENS_SHA256, VOCAB_SIZE

_COMMON = dict(
    family="wikitext",
    builder="workloads.wikitext.pytorch.models:build",
    dataset=(f"WikiText-103 (hub {HUB_DATASET}, config {HUB_CONFIG}): the hub's train / validation / test splits, "
             f"byte-level BPE {VOCAB_SIZE} trained on train"),
    data_revision=(f"text-sha256:{TEXT_SHA256[:16]}/tokens-sha256:{TOKENS_SHA256[:16]}" if TEXT_SHA256 and TOKENS_SHA256
                   else "content hashes (text, tokens) recorded when the gpu-h100 targets are set (the hub revision "
                        "cannot be pinned offline)"),
    metric="perplexity",
    higher_is_better=False,
    # A placeholder until `podium targets set` measures the budget on gpu-h100 (BUDGET_FACTOR x the reference's time
    # to the target; no GPU run of this workload has been timed). Its scale: step_hint updates at 64 blocks of 512
    # tokens are 117 P multiply-adds (forward and backward, counted as three forward passes).
    budget_s={"gpu-h100": 7200.0},
    eval_period_s=120.0,  # the whole validation split (217 k words) forward: 60 evaluations a budget
    step_hint=10_000,  # 328 M tokens at 64 blocks of 512: a few epochs of the training split
)

register(WorkloadSpec(
    name="wikitext103_gpt2",
    description=(f"WikiText-103, GPT-2-small-sized decoder-only transformer LM trained from scratch: 12 blocks, width "
                 f"768, 12 heads, context 512, tied embeddings, byte-level BPE {VOCAB_SIZE}"),
    model="GPT-2 small shape (transformers GPT2LMHeadModel from a config): 12x768, 12 heads, context 512, 110.6 M "
          "parameters",
    builder_kwargs={"context": 512},
    **_COMMON,
))

register(WorkloadSpec(
    name="wikitext103_gpt2_short_context",
    base="wikitext103_gpt2",
    description="Variant of wikitext103_gpt2: a context of 256 tokens (blocks, and so batches, of half the tokens)",
    model="GPT-2 small shape (transformers GPT2LMHeadModel from a config): 12x768, 12 heads, context 256, 110.4 M "
          "parameters",
    builder_kwargs={"context": 256},
    **_COMMON,
))
