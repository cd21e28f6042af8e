"""CIFAR-10 workloads for GPU hardware classes (the training track's ``full`` suite). No framework is imported here.

ResNet-18 with a CIFAR stem (:mod:`workloads.cifar10.pytorch.models`) on CIFAR-10 from the hub
(:mod:`workloads.cifar10.data`), metric validation accuracy. A GPU workload: a forward pass is 0.56 G multiply-adds an
image (counted), so one epoch of training is about 75 T multiply-adds, out of reach of a 2-core CPU's minutes; it
has no ``cpu-2core`` budget. Targets, like the budget, are set on the hardware class (``podium targets set
--workload cifar10_resnet18 --hardware-class gpu-h100``); none is set yet.
"""

from workloads import register
from workloads.cifar10.data import CONTENT_SHA256, HUB_CONFIG, HUB_DATASET, N_VALIDATION
from workloads.spec import WorkloadSpec

_COMMON = dict(
    family="cifar10",
    builder="workloads.cifar10.pytorch.models:build",
    dataset=(f"CIFAR-10 (hub {HUB_DATASET}, config {HUB_CONFIG}): train 50,000 less {N_VALIDATION:,} carved out for "
             "validation (fixed seed), test 10,000 (the hub's test split)"),
    data_revision=(f"content-sha256:{CONTENT_SHA256[:16]}" if CONTENT_SHA256 else "content hash recorded when the "
                   "gpu-h100 targets are set (the hub revision cannot be pinned offline)"),
    metric="accuracy",
    # A placeholder until `podium targets set` measures the budget on gpu-h100 (BUDGET_FACTOR x the reference's time
    # to the target; no GPU run of this workload has been timed). Its scale: step_hint updates at batch 256 are
    # 2.56 M images, about 4.3 P multiply-adds counting the backward pass as twice the forward.
    budget_s={"gpu-h100": 1800.0},
    eval_period_s=30.0,  # a validation pass is 5,000 images forward, 2.8 T multiply-adds: 60 evaluations a budget
    step_hint=10_000,  # ~57 epochs of the 45,000 training images at batch 256, a usual ResNet-18 CIFAR-10 schedule
)

register(WorkloadSpec(
    name="cifar10_resnet18",
    description=("CIFAR-10, ResNet-18 with a CIFAR stem (3x3 conv, no max-pool), batch norm; training batches "
                 "randomly shifted (4 px zero padding) and flipped"),
    model="ResNet-18 (CIFAR stem), widths 64-128-256-512, batch norm, 11.2 M parameters",
    **_COMMON,
))

register(WorkloadSpec(
    name="cifar10_resnet18_groupnorm",
    base="cifar10_resnet18",
    description="Variant of cifar10_resnet18: group normalisation (32 groups) in place of batch normalisation",
    model="ResNet-18 (CIFAR stem), widths 64-128-256-512, group norm (32 groups), 11.2 M parameters",
    builder_kwargs={"norm": "group"},
    **_COMMON,
))
