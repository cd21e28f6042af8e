"""Fashion-MNIST transfer workloads (PEFT track). No framework is imported here.

A CNN that Podium pretrains on five Fashion-MNIST classes (deterministically, from a recipe with a recorded weights
hash: :mod:`workloads.fashion_transfer.recipe`) is adapted to the other five. Forgetting is the source-task accuracy
lost (:mod:`workloads.fashion_transfer.pytorch.models`).
"""

from workloads import register
from workloads.fashion_mnist.data import CONTENT_SHA256
from workloads.fashion_transfer.recipe import RECIPES, WEIGHTS_SHA256
from workloads.spec import WorkloadSpec


def _pretrained(source: tuple[int, ...]) -> str:
    recipe = RECIPES[source]
    return f"{recipe.name}, weights sha256 {WEIGHTS_SHA256[recipe.name][:16]}"


_COMMON = dict(
    family="fashion_transfer",
    track="peft",
    dataset="Fashion-MNIST (Zalando Research; Debian dataset-fashion-mnist or hub zalando-datasets/fashion_mnist)",
    data_revision=f"content-sha256:{CONTENT_SHA256[:16]}",
    metric="accuracy",
    builder="workloads.fashion_transfer.pytorch.models:build",
    # Full fine-tuning (AdamW 1e-3, batch 64, one thread) reaches 0.97 validation accuracy in about 20 s of CPU time
    # here (0.92 on the reverse split in about 24 s): the budget is about 3x that. One validation pass (~2,500
    # images) costs ~0.35 s, so an evaluation every 4 s is under 10% of the wall time. ~50 updates/s at batch 64.
    budget_s={"cpu-2core": 60.0},
    eval_period_s=4.0,
    # 1,000 updates at batch 32 (a little over one epoch of the ~27,500 target images): target-setting curves run
    # 1,250, so 10 seeds of two baselines fit a few minutes; full fine-tuning is past 0.95 by then
    step_hint=1000,
)

register(WorkloadSpec(
    name="fashion_cnn_transfer",
    description="Fashion-MNIST transfer: a CNN pretrained by Podium on classes 0-4 (tops, trousers, dresses, coats) "
                "adapted to classes 5-9 (sandal, shirt, sneaker, bag, ankle boot) with a fresh 5-way head",
    model=f"CNN conv16-conv32-fc128-fc128 + fresh fc5 head; pretrained {_pretrained((0, 1, 2, 3, 4))}",
    builder_kwargs={"source_classes": [0, 1, 2, 3, 4], "target_classes": [5, 6, 7, 8, 9]},
    **_COMMON,
))

register(WorkloadSpec(
    name="fashion_cnn_transfer_reverse",
    base="fashion_cnn_transfer",
    description="Variant of fashion_cnn_transfer with the split reversed: pretrained on classes 5-9, adapted to "
                "classes 0-4",
    model=f"CNN conv16-conv32-fc128-fc128 + fresh fc5 head; pretrained {_pretrained((5, 6, 7, 8, 9))}",
    builder_kwargs={"source_classes": [5, 6, 7, 8, 9], "target_classes": [0, 1, 2, 3, 4]},
    **_COMMON,
))
