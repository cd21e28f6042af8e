"""Imagenette workloads for GPU hardware classes (the training track's ``full`` suite). No framework is imported here.

A ViT-S/16-sized vision transformer trained from scratch (:mod:`workloads.imagenette.pytorch.models`) on Imagenette's
160 px images from the hub, cut to 128 x 128 (:mod:`workloads.imagenette.data`), metric validation accuracy. A GPU
workload: a forward pass is 1.44 G multiply-adds an image (counted), an epoch of training about 37 T; it has no
``cpu-2core`` budget. Targets and the budget are set on the hardware class (``podium targets set --workload
imagenette_vit --hardware-class gpu-h100``); none is set yet.
"""

from workloads import register
from workloads.imagenette.data import CONTENT_SHA256, HUB_CONFIG, HUB_DATASET, IMAGE_SIZE, N_VALIDATION
from workloads.spec import WorkloadSpec

_COMMON = dict(
    family="imagenette",
    builder="workloads.imagenette.pytorch.models:build",
    dataset=(f"Imagenette (hub {HUB_DATASET}, config {HUB_CONFIG}, its parquet conversion) at {IMAGE_SIZE} px: train "
             f"9,469 less {N_VALIDATION:,} carved out for validation (fixed seed), test 3,925 (the hub's validation "
             "split)"),
    data_revision=(f"content-sha256:{CONTENT_SHA256[:16]}" if CONTENT_SHA256 else "content hash recorded when the "
                   "gpu-h100 targets are set (the hub revision cannot be pinned offline)"),
    metric="accuracy",
    # A placeholder until `podium targets set` measures the budget on gpu-h100 (BUDGET_FACTOR x the reference's time
    # to the target; no GPU run of this workload has been timed). Its scale: step_hint updates at batch 256 are
    # 1.5 M images, about 6.6 P multiply-adds counting the backward pass as twice the forward.
    budget_s={"gpu-h100": 1800.0},
    eval_period_s=30.0,  # a validation pass is 1,000 images forward, 1.4 T multiply-adds: 60 evaluations a budget
    step_hint=6_000,  # ~180 epochs of the 8,469 training images at batch 256: a ViT trained from scratch on this few
    # images needs many epochs
)

register(WorkloadSpec(
    name="imagenette_vit",
    description=(f"Imagenette at {IMAGE_SIZE} px, ViT-S/16 trained from scratch: 12 blocks, width 384, 6 heads, "
                 "class-token head; training batches randomly shifted (16 px zero padding) and flipped"),
    model=f"ViT-S/16 (transformers ViTForImageClassification from a config) at {IMAGE_SIZE} px, 21.6 M parameters",
    **_COMMON,
))

register(WorkloadSpec(
    name="imagenette_vit_patch32",
    base="imagenette_vit",
    description="Variant of imagenette_vit: 32 x 32 patches (16 an image instead of 64)",
    model=f"ViT-S/32 (transformers ViTForImageClassification from a config) at {IMAGE_SIZE} px, 22.5 M parameters",
    builder_kwargs={"patch": 32},
    **_COMMON,
))
