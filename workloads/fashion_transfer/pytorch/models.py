"""The transfer CNN and the builder of the Fashion-MNIST transfer workloads (PEFT track).

The model is :class:`TransferCNN`, pretrained by Podium on the *source* classes
(:mod:`workloads.fashion_transfer.pytorch.pretrained`); a submission adapts it, with a fresh head, to the *target*
classes. Nothing is frozen: which parameters train is the submission's choice.

Task. Train / validation / test are Fashion-MNIST's train (55,000 after the 5,000-image validation carve-out) /
validation / test images of the target classes only, labels remapped to ``0..4`` in ``target_classes`` order
(about 27,500 / 2,500 / 5,000 images). Inputs are ``(N, 1, 28, 28)`` float32, standardised as in
:mod:`workloads.fashion_mnist.data`.

Forgetting (``workload.forgetting(base, adapted)``): the source-task accuracy lost. The reference sample is the first
:data:`N_REFERENCE` source-class validation images (no split of the target task holds them). Each model's backbone
features are read at the input of its module named ``head`` (the outermost one, so a ``peft`` wrapper's
``modules_to_save`` head counts) and classified by the *original* source head, the pretrained one, kept in the
workload: ``forgetting = accuracy(base) - accuracy(adapted)``, in accuracy points on ``[-1, 1]``. 0 means the
adapted backbone serves the source task as well as the pretrained one (a linear probe's is exactly 0); the base
model's own accuracy is the pretrained CNN's on the reference sample (about 0.90 for source classes 0-4, 0.95 for
5-9). Measured after 60 s of CPU time on the 0-4 -> 5-9 split: full fine-tuning ~0.44, LoRA on ``body.1``/``body.3``
~0.48: adaptation reuses the features the source head read, so the number is large and informative.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from workloads.common.data import export_splits, preload, splits_from
from workloads.common.made import MadeMismatchError, made_in_child
from workloads.common.peft import ModelEvaluator, PeftWorkload, build_peft
from workloads.common.pytorch import DropoutModel, dropout
from workloads.fashion_mnist.data import load_splits
from workloads.fashion_transfer.pytorch.pretrained import cached_weights, pretrained_weights
from workloads.fashion_transfer.recipe import DENSE_RECIPES, RECIPES, Recipe, recipe_for
from workloads.spec import WorkloadSpec

#: source-class validation images in the forgetting reference sample
N_REFERENCE = 1024
HEAD = "head"


class TransferCNN(DropoutModel):
    """Two conv blocks and two fully connected layers, then the head. Named submodules for PEFT methods:
    ``features.0`` (conv 1->16), ``features.3`` (conv 16->32), ``body.1`` (linear 1568->128), ``body.3`` (linear
    128->128), ``head`` (linear 128->n_classes). Dropout (off unless a rate is set): ``dropout_rate`` before the
    head, ``aux_dropout_rate`` on the input image. About 1.2 M multiply-adds per image."""

    def __init__(self, n_classes: int = 5) -> None:
        super().__init__()

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]

        self.features = nn.Sequential(*block(1, 16), *block(16, 32))  # (B,1,28,28) -> (B,32,7,7)
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(),
                                  nn.Linear(128, 128), nn.ReLU())  # (B, 128)
        self.head = nn.Linear(128, n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:  # (B,1,28,28) -> (B,128)
        return self.body(self.features(dropout(x, self.aux_dropout_rate, self.training)))

    def forward(self, x: torch.Tensor, dropout_rate: float | None = None) -> torch.Tensor:  # -> (B, n_classes)
        return self.head(dropout(self.embed(x), self.rate(dropout_rate), self.training))


# ---------------------------------------------------------------------------------------------- pretrained weights

#: recipe name -> verified weights, loaded ahead of the trials by :func:`warm` in a fork server
_preloaded: dict[str, dict[str, np.ndarray]] = {}


def weights_for(recipe: Recipe) -> dict[str, np.ndarray]:
    """The recipe's verified pretrained weights: preloaded by :func:`warm`, else from the cache (built if needed)."""
    if recipe.name in _preloaded:
        return _preloaded[recipe.name]
    return pretrained_weights(recipe)


def ensure_made() -> None:
    """Make every recipe's pretrained CNN (the two transfer sources and the ten-class one the regroup workloads
    adapt) in this machine's cache when it lacks it, each in a child process (20-50 s each, once per machine). The
    Docker executor calls this on the host before a trial (a container mounts the cache read-only); a fork server's
    :func:`warm` calls it because it must run no torch operation before it forks."""
    for recipe in (*RECIPES.values(), *DENSE_RECIPES.values()):
        made_in_child(lambda recipe=recipe: cached_weights(recipe), "workloads.fashion_transfer.pytorch.pretrained",
                      (",".join(map(str, recipe.source_classes)),), f"pretrained CNN ({recipe.name})", 600)


def warm() -> None:
    """For a fork server: decode Fashion-MNIST and load every recipe's verified weights once, as numpy arrays
    (made first in child processes when missing; a failure there is left for the trial to report)."""
    preload(load_splits)
    with contextlib.suppress(MadeMismatchError):
        ensure_made()
    for recipe in (*RECIPES.values(), *DENSE_RECIPES.values()):
        weights = cached_weights(recipe)
        if weights is not None:
            _preloaded[recipe.name] = weights


# -------------------------------------------------------------------------------------------------------- forgetting


def outer_head(model: nn.Module) -> nn.Module:
    """The outermost module named ``head`` (``head`` itself, or ``base_model.model.head`` inside a peft model)."""
    heads = [(name, m) for name, m in model.named_modules() if name == HEAD or name.endswith(f".{HEAD}")]
    if not heads:
        raise ValueError(f"the model has no module named {HEAD!r}: the forgetting measure reads the backbone's "
                         "features at its input")
    return min(heads, key=lambda item: item[0].count("."))[1]


@torch.no_grad()
def head_inputs(model: nn.Module, inputs: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """What ``model``'s head receives for ``inputs`` in eval mode: ``(N, features)``."""
    captured: list[torch.Tensor] = []
    hook = outer_head(model).register_forward_pre_hook(lambda _m, args: captured.append(args[0].detach()))
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(inputs), batch_size):
            before = len(captured)
            model(inputs[start:start + batch_size])
            if len(captured) != before + 1:
                raise ValueError(f"the model's head ran {len(captured) - before} times in one forward pass; "
                                 "the forgetting measure needs exactly one")
    finally:
        hook.remove()
        model.train(was_training)
    return torch.cat(captured)


def source_accuracy_drop(source_head: dict[str, torch.Tensor],
                         reference_labels: torch.Tensor) -> Callable[[nn.Module, nn.Module, torch.Tensor], float]:
    """The forgetting measure (see the module docstring): source accuracy of base minus adapted, both read through
    the original source head."""
    weight, bias = source_head["weight"], source_head["bias"]

    def source_accuracy(model: nn.Module, reference: torch.Tensor) -> float:
        if len(reference) != len(reference_labels):
            raise ValueError(f"the reference sample has {len(reference)} rows, its labels {len(reference_labels)}")
        h = head_inputs(model, reference).float()
        logits = F.linear(h, weight.to(h.device), bias.to(h.device))
        return float((logits.argmax(-1) == reference_labels.to(h.device)).float().mean())

    def forgetting(base: nn.Module, adapted: nn.Module, reference: torch.Tensor) -> float:
        return source_accuracy(base, reference) - source_accuracy(adapted, reference)

    return forgetting


# ----------------------------------------------------------------------------------------------------------- builder


def class_subset(x: np.ndarray, y: np.ndarray, classes: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Images of ``classes`` as ``(N, 1, 28, 28)`` float32 and their labels remapped to ``0..len(classes)-1`` (in
    ``classes`` order), in the split's own order."""
    mask = np.isin(y, classes)
    remap = np.full(10, -1, dtype=np.int64)
    remap[list(classes)] = np.arange(len(classes))
    images = torch.from_numpy(np.ascontiguousarray(x[mask], dtype=np.float32)).reshape(-1, 1, 28, 28)
    return images, torch.from_numpy(remap[y[mask].astype(np.int64)])


def pretrained_workload(spec: WorkloadSpec, hardware_class: str, device: torch.device, recipe: Recipe,
                        n_classes: int, splits: dict[str, tuple[torch.Tensor, torch.Tensor]],
                        reference: torch.Tensor, reference_labels: torch.Tensor,
                        held_out_sizes: dict[str, int]) -> tuple[PeftWorkload, ModelEvaluator]:
    """The PEFT workload of ``recipe``'s pretrained CNN with a fresh ``n_classes`` head, on ``splits``; forgetting
    is the source-task accuracy the adapted backbone loses on ``reference`` through the pretrained head.
    ``held_out_sizes``: the validation and test splits' sizes, which ``splits`` may not hold (a container's export
    of the training data)."""
    weights = {k: torch.from_numpy(v) for k, v in weights_for(recipe).items()}
    backbone = {k: v for k, v in weights.items() if not k.startswith(f"{HEAD}.")}
    source_head = {"weight": weights[f"{HEAD}.weight"].clone(), "bias": weights[f"{HEAD}.bias"].clone()}

    def factory() -> nn.Module:
        model = TransferCNN(n_classes=n_classes)  # the head's init is drawn from the seeded torch RNG
        missing, unexpected = model.load_state_dict(backbone, strict=False)
        assert not unexpected and set(missing) == {f"{HEAD}.weight", f"{HEAD}.bias"}, (missing, unexpected)
        return model

    return build_peft(spec, hardware_class, device, splits=splits, model_factory=factory, head_modules=(HEAD,),
                      reference=reference, forgetting=source_accuracy_drop(source_head, reference_labels),
                      held_out_sizes=held_out_sizes)


def build(spec: WorkloadSpec, hardware_class: str, device: torch.device,
          source_classes: tuple[int, ...] = (0, 1, 2, 3, 4),
          target_classes: tuple[int, ...] = (5, 6, 7, 8, 9)) -> tuple[PeftWorkload, ModelEvaluator]:
    """The transfer workload: the CNN pretrained on ``source_classes``, adapted to ``target_classes``."""
    source_classes, target_classes = tuple(map(int, source_classes)), tuple(map(int, target_classes))
    if set(source_classes) & set(target_classes) or len(set(target_classes)) != len(target_classes) \
            or not set(source_classes) | set(target_classes) <= set(range(10)) or len(target_classes) < 2:
        raise ValueError(f"source {source_classes} and target {target_classes} must be disjoint Fashion-MNIST "
                         "classes (0-9), at least two targets")
    recipe = recipe_for(source_classes)

    data = splits_from(load_splits)
    splits = {"train": class_subset(data.train_x, data.train_y, target_classes),
              "validation": class_subset(data.validation_x, data.validation_y, target_classes),
              "test": class_subset(data.test_x, data.test_y, target_classes)}
    rows = transfer_reference_rows(data.validation_y, source_classes)
    ref_x, ref_y = class_subset(data.validation_x[rows], data.validation_y[rows], source_classes)
    sizes = {name: data.count(name, target_classes) for name in ("validation", "test")}
    return pretrained_workload(spec, hardware_class, device, recipe, len(target_classes), splits, ref_x, ref_y,
                               sizes)


def transfer_reference_rows(validation_y: np.ndarray, source_classes: tuple[int, ...] = (0, 1, 2, 3, 4),
                            **_: object) -> np.ndarray:
    """Rows of the validation split in a transfer workload's forgetting reference sample: its first
    :data:`N_REFERENCE` images of ``source_classes`` (none of them in a split the workload scores)."""
    return np.flatnonzero(np.isin(validation_y, tuple(map(int, source_classes))))[:N_REFERENCE]


def regroup_reference_rows(validation_y: np.ndarray, **_: object) -> np.ndarray:
    """Rows of the validation split in a regroup workload's reference sample: the first :data:`N_REFERENCE` (its
    scored validation split is the rest)."""
    return np.arange(min(N_REFERENCE, len(validation_y)))


#: each builder's reference rows, by the builder's name (``spec.builder``'s function)
REFERENCE_ROWS = {"build": transfer_reference_rows, "build_regroup": regroup_reference_rows}


def export_training(spec: WorkloadSpec, folder: Path) -> None:
    """What a trial of ``spec`` may hold, for a container that mounts no dataset folder: Fashion-MNIST's training
    split and, of its validation split, only the reference sample's rows (:meth:`Splits.with_reference`)."""
    data = load_splits()
    rows = REFERENCE_ROWS[spec.builder.split(":")[1]](data.validation_y, **spec.builder_kwargs)
    export_splits(load_splits, data.with_reference(rows), folder)


def group_labels(y: np.ndarray, groups: tuple[tuple[int, ...], ...]) -> torch.Tensor:
    """Fashion-MNIST labels ``y`` mapped to the index of the group that holds them, ``(N,)`` int64."""
    remap = np.full(10, -1, dtype=np.int64)
    for index, group in enumerate(groups):
        remap[list(group)] = index
    return torch.from_numpy(remap[y.astype(np.int64)])


def build_regroup(spec: WorkloadSpec, hardware_class: str, device: torch.device,
                  groups: tuple[tuple[int, ...], ...]) -> tuple[PeftWorkload, ModelEvaluator]:
    """The regroup workload: the CNN Podium pretrained on all ten classes, adapted with a fresh head to a new
    labelling of the same images, ``groups`` (each a tuple of Fashion-MNIST classes; together every class once).

    Splits: every train / test image, labels mapped to their group. The validation split is Fashion-MNIST's minus
    its first :data:`N_REFERENCE` images, which are the forgetting reference sample: forgetting is the ten-class
    accuracy lost when the adapted backbone's features are read by the pretrained ten-class head (as for the
    transfer workloads; the base model's own is about 0.89)."""
    groups = tuple(tuple(map(int, group)) for group in groups)
    flat = [c for group in groups for c in group]
    if sorted(flat) != list(range(10)) or len(groups) < 2:
        raise ValueError(f"groups {groups} must hold each Fashion-MNIST class (0-9) exactly once, in two groups or "
                         "more")
    recipe = recipe_for(tuple(range(10)))

    data = splits_from(load_splits)

    def images(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).reshape(-1, 1, 28, 28)

    validation_x, validation_y = images(data.validation_x), data.validation_y
    n = len(regroup_reference_rows(validation_y))
    splits = {"train": (images(data.train_x), group_labels(data.train_y, groups)),
              "validation": (validation_x[n:], group_labels(validation_y[n:], groups)),
              "test": (images(data.test_x), group_labels(data.test_y, groups))}
    ref_x = validation_x[:n]
    ref_y = torch.from_numpy(validation_y[:n].astype(np.int64))
    sizes = {"validation": data.count("validation") - n, "test": data.count("test")}
    return pretrained_workload(spec, hardware_class, device, recipe, len(groups), splits, ref_x, ref_y, sizes)
