"""Digits workloads. No framework is imported here."""

from workloads import register
from workloads.digits.data import DIGITS_SHA256, N_TEST, N_TRAIN, N_VALIDATION
from workloads.spec import WorkloadSpec

_COMMON = dict(
    family="digits",
    builder="workloads.digits.pytorch.models:build",
    jax_builder="workloads.digits.jax.models:build",
    dataset="scikit-learn digits (sklearn/datasets/data/digits.csv.gz)",
    data_revision=f"sha256:{DIGITS_SHA256[:16]}/splits-{N_TRAIN}-{N_VALIDATION}-{N_TEST}",
    metric="accuracy",
    budget_s={"cpu-2core": 10.0},
    eval_period_s=0.05,  # an evaluation costs ~1 ms; coarser periods tie methods that reach the target in 0.1 s
    step_hint=1000,
)

register(WorkloadSpec(
    name="digits_mlp",
    description="8x8 digits, MLP 64-128-128-10 with ReLU",
    model="MLP 64-128-128-10, ReLU",
    builder_kwargs={"activation": "relu"},
    **_COMMON,
))

register(WorkloadSpec(
    name="digits_mlp_tanh",
    base="digits_mlp",
    description="Variant of digits_mlp: tanh activations",
    model="MLP 64-128-128-10, tanh",
    builder_kwargs={"activation": "tanh"},
    **_COMMON,
))
