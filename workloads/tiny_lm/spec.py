"""``tiny_lm``: a small decoder-only transformer language model trained from scratch on Jane Austen's novels
(:mod:`workloads.tiny_lm.data`, :mod:`workloads.tiny_lm.pytorch.models`). No framework is imported here.

The metric is validation perplexity (lower is better): ``exp`` of the mean next-token cross-entropy over the held-out
novel's evaluation blocks. Batch sizes count blocks of ``context`` tokens.
"""

from workloads import register
from workloads.spec import WorkloadSpec
from workloads.tiny_lm.data import RDB_SHA256, TOKENIZER_SHA256, TOKENS_SHA256, VOCAB_SIZE

_COMMON = dict(
    family="tiny_lm",
    builder="workloads.tiny_lm.pytorch.models:build",
    dataset=("Jane Austen's six novels (Debian r-cran-janeaustenr 1.0.0, MIT; texts public domain, Project "
             "Gutenberg); train: four novels, validation: Northanger Abbey, test: Persuasion"),
    data_revision=(f"rdb-sha256:{RDB_SHA256[:16]}/bpe{VOCAB_SIZE}-sha256:{TOKENIZER_SHA256[:16]}"
                   f"/tokens-sha256:{TOKENS_SHA256[:16]}"),
    metric="perplexity",
    higher_is_better=False,
    # ~0.08 s an update at batch 32 (2,048 tokens) on 2 threads: step_hint updates are ~1 minute (1.6 M tokens, 1.7
    # epochs); replaced by the measured budget once `podium targets set` has run
    budget_s={"cpu-2core": 180.0},
    eval_period_s=5.0,  # an evaluation (16,384 tokens) costs ~0.3 s: ~6% of wall time
    step_hint=800,
)

register(WorkloadSpec(
    name="tiny_lm",
    description=(f"Jane Austen, decoder-only transformer LM: 2 pre-norm blocks, width 128, 4 heads, context 64, "
                 f"tied embeddings, byte-level BPE {VOCAB_SIZE}"),
    model="Transformer LM 2x128, 4 heads, context 64, 0.67 M parameters",
    builder_kwargs={"context": 64},
    **_COMMON,
))

register(WorkloadSpec(
    name="tiny_lm_deep",
    base="tiny_lm",
    description="Variant of tiny_lm: twice the depth at three quarters of the width (4 blocks, width 96)",
    model="Transformer LM 4x96, 4 heads, context 64, 0.65 M parameters",
    builder_kwargs={"context": 64, "depth": 4, "width": 96},
    **_COMMON,
))

register(WorkloadSpec(
    name="tiny_lm_short_context",
    base="tiny_lm",
    description="Variant of tiny_lm: a context of 32 tokens (blocks, and so batches, of half the tokens)",
    model="Transformer LM 2x128, 4 heads, context 32, 0.66 M parameters",
    builder_kwargs={"context": 32},
    **_COMMON,
))
