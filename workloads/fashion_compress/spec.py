"""Fashion-MNIST compression workloads (compression track). No framework is imported here.

The dense model is the transfer family's CNN trained by Podium on all ten classes, from a recipe with a recorded
weights hash (:data:`workloads.fashion_transfer.recipe.DENSE_RECIPES`): validation accuracy 0.8852, test 0.8865.
A compressed model must keep ``floor_fraction`` of the dense model's accuracy on validation (and on test, for the
test target) and bring its deflated bytes on disk (``fashion_cnn_compress``) or its batch-1 latency
(``fashion_cnn_compress_latency``) to at most the target ratio of the dense model's. Floors, ratios and budgets come
from ``podium targets set`` on the compression baselines (:mod:`harness.targets`).
"""

from workloads import register
from workloads.fashion_mnist.data import CONTENT_SHA256
from workloads.fashion_transfer.recipe import DENSE_RECIPES, WEIGHTS_SHA256
from workloads.spec import CompressionGoal, WorkloadSpec

_RECIPE = DENSE_RECIPES[tuple(range(10))]
#: a batch-1 pass of the CNN takes ~0.5 ms: 500 timed passes keep the latency ratio's noise under 2%
#: (:class:`workloads.spec.CompressionGoal`); both goals measure latency alike, as their target-setting runs are shared
LATENCY_RUNS = 500

_COMMON = dict(
    family="fashion_compress",
    track="compression",
    dataset="Fashion-MNIST (Zalando Research; Debian dataset-fashion-mnist or hub zalando-datasets/fashion_mnist)",
    data_revision=f"content-sha256:{CONTENT_SHA256[:16]}",
    metric="accuracy",
    builder="workloads.fashion_compress.pytorch.models:build",
    model=f"CNN conv16-conv32-fc128-fc128-fc10 (222 k parameters), trained by Podium: {_RECIPE.name}, weights "
          f"sha256 {WEIGHTS_SHA256[_RECIPE.name][:16]}",
    # A budget for compress() itself (recovery fine-tuning included); the baselines' first points take well under
    # it on two threads. Replaced by the measured one (3x the best baseline's median) when targets are set.
    budget_s={"cpu-2core": 60.0},
    # One measurement per trial, after compress returns: no periodic evaluation in this track.
    eval_period_s=1e9,
    # Updates a recovery fine-tune should plan for (a little over half an epoch of 55,000 images at batch 32).
    step_hint=1000,
)

register(WorkloadSpec(
    name="fashion_cnn_compress",
    description="Fashion-MNIST CNN compression: keep 99% of the dense model's accuracy with fewer bytes on disk "
                "(deflated state dict)",
    compression=CompressionGoal(measure="bytes_ratio", latency_runs=LATENCY_RUNS),
    **_COMMON,
))

register(WorkloadSpec(
    name="fashion_cnn_compress_latency",
    description="Fashion-MNIST CNN compression: keep 99% of the dense model's accuracy with a lower batch-1 p50 "
                "latency (pinned threads)",
    compression=CompressionGoal(measure="latency_ratio", latency_runs=LATENCY_RUNS),
    **_COMMON,
))
