"""Layer dropping followed by knowledge distillation from the dense model (Hinton, Vinyals, Dean 2015 for the loss;
Sanh et al., DistilBERT, 2019, for a student made of every other layer of its teacher; Sajjad et al., "On the effect
of dropping layers of pre-trained transformer models", Computer Speech & Language 2023, for dropping layers of a
trained model outright).

Which layers go, found by structure rather than by name:

* **A stack of repeated layers** (the first ``nn.ModuleList`` of two or more children of one class, such as a
  Hugging Face BERT's ``bert.encoder.layer``): one layer in ``keep_every`` is kept, the last of each group (layers
  1, 3, 5 of six at ``keep_every`` 2), so that the final layer, whose output the pooler and classifier were trained
  on, stays. ``config.num_hidden_layers`` is updated where the model has a config.
* **Otherwise, blocks of ``nn.Sequential`` containers** (a child with parameters and the parameter-free children
  that follow it, such as a linear layer and its ReLU) whose output has the shape of their input, so that the
  container still runs without them. On the transfer CNN that is ``body.3`` and its ReLU (128 -> 128); the
  convolutions change the shape and the classifier is outside any container. Each candidate is replaced by
  ``nn.Identity`` in turn and its *effect* measured: the KL divergence of the model's outputs from the dense model's
  on the calibration inputs (labels unused); the ``drop_blocks`` with the least effect are dropped.

Then ``distill_steps`` AdamW updates of every remaining parameter on the training queue against the loss
``distill_weight * T^2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - distill_weight) * CE(student,
labels)``, the teacher being a frozen copy of the dense model taken before anything is dropped (cosine
learning-rate decay). The teacher is not part of what is returned.

The model returned is the dense one with the dropped layers gone (replaced by ``nn.Identity`` or removed from the
stack): fewer parameters saved and fewer layers run.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def _logits(model: nn.Module, inputs: Any) -> torch.Tensor:
    """The model's logits for a batch's inputs: a tensor, or keyword tensors (a Hugging Face model's output has
    ``.logits``)."""
    output = model(**inputs) if isinstance(inputs, Mapping) else model(inputs)
    return getattr(output, "logits", output)


def _to(inputs: Any, device: torch.device) -> Any:
    if isinstance(inputs, Mapping):
        return {name: value.to(device) for name, value in inputs.items()}
    return inputs.to(device)


def _has_parameters(module: nn.Module) -> bool:
    return any(True for _ in module.parameters())


# --- A stack of repeated layers (a transformer's encoder). ---------------------------------------------------------


def layer_stack(model: nn.Module) -> tuple[str, nn.ModuleList] | None:
    """The first ``nn.ModuleList`` holding two or more layers of one class, with its name; None if there is none."""
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) >= 2 and len({type(m) for m in module}) == 1:
            return name, module
    return None


def thin_stack(model: nn.Module, name: str, stack: nn.ModuleList, keep_every: int) -> None:
    """Keep the last layer of each group of ``keep_every`` in the stack ``name``; drop the others."""
    kept = nn.ModuleList(layer for i, layer in enumerate(stack) if (i + 1) % keep_every == 0)
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name), child, kept)
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "num_hidden_layers"):
        config.num_hidden_layers = len(kept)


# --- Shape-preserving blocks of nn.Sequential containers. ----------------------------------------------------------


class Block(NamedTuple):
    """Children ``indices`` of ``container``: one with parameters and the parameter-free ones after it."""

    container: nn.Sequential
    indices: tuple[int, ...]


def sequential_blocks(model: nn.Module) -> list[Block]:
    blocks = []
    for container in model.modules():
        if not isinstance(container, nn.Sequential):
            continue
        current: list[int] = []
        for index, child in enumerate(container):
            if _has_parameters(child):
                if current:
                    blocks.append(Block(container, tuple(current)))
                current = [index]
            elif current:
                current.append(index)
        if current:
            blocks.append(Block(container, tuple(current)))
    return blocks


@torch.no_grad()
def shape_preserving(model: nn.Module, blocks: Sequence[Block], inputs: Any) -> list[Block]:
    """The blocks whose output had the shape of their input in a forward pass of ``inputs``."""
    shapes: dict[int, list[tuple[int, ...]]] = {i: [] for i in range(len(blocks))}
    handles = []
    for i, block in enumerate(blocks):
        first, last = block.container[block.indices[0]], block.container[block.indices[-1]]
        handles.append(first.register_forward_pre_hook(lambda _m, args, i=i: shapes[i].append(tuple(args[0].shape))))
        handles.append(last.register_forward_hook(lambda _m, _a, out, i=i: shapes[i].append(tuple(out.shape))))
    try:
        _logits(model, inputs)
    finally:
        for handle in handles:
            handle.remove()
    return [block for i, block in enumerate(blocks) if len(shapes[i]) == 2 and shapes[i][0] == shapes[i][1]]


def drop(block: Block) -> None:
    for index in block.indices:
        block.container[index] = nn.Identity()


@torch.no_grad()
def effect(model: nn.Module, block: Block, inputs: Sequence[Any], dense_logits: Sequence[torch.Tensor]) -> float:
    """Mean KL divergence of the model's outputs from the dense ones with ``block`` dropped (then put back)."""
    saved = [block.container[index] for index in block.indices]
    drop(block)
    try:
        return sum(float(F.kl_div(F.log_softmax(_logits(model, x), -1), F.log_softmax(d, -1), log_target=True,
                                  reduction="batchmean")) for x, d in zip(inputs, dense_logits)) / len(inputs)
    finally:
        for index, module in zip(block.indices, saved):
            block.container[index] = module


@torch.no_grad()
def drop_least_effective_blocks(model: nn.Module, inputs: Sequence[Any], count: int) -> int:
    """Drop the ``count`` shape-preserving blocks whose removal changes the outputs least; returns how many."""
    candidates = shape_preserving(model, sequential_blocks(model), inputs[0])
    dense_logits = [_logits(model, x) for x in inputs]
    ranked = sorted(candidates, key=lambda block: effect(model, block, inputs, dense_logits))
    for block in ranked[:count]:
        drop(block)
    return min(count, len(ranked))


# --- Distillation. ------------------------------------------------------------------------------------------------


def distill(student: nn.Module, teacher: nn.Module, train_queue: Iterator[Any], steps: int, learning_rate: float,
            temperature: float, distill_weight: float) -> None:
    """``steps`` AdamW updates of the student on the soft-target KL and the labels' cross-entropy (Hinton et al.;
    the KL scaled by ``T^2`` so that its gradients keep their size as the temperature changes)."""
    if steps <= 0:
        return
    device = next(student.parameters()).device
    optimizer = torch.optim.AdamW(student.parameters(), lr=learning_rate)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 * (1.0 + math.cos(math.pi * step / steps)))
    teacher.eval()
    student.train()
    for _ in range(steps):
        batch = next(train_queue)
        inputs, targets = _to(batch["inputs"], device), batch["targets"].to(device)
        with torch.no_grad():
            soft_targets = F.log_softmax(_logits(teacher, inputs) / temperature, -1)
        logits = _logits(student, inputs)
        soft = F.kl_div(F.log_softmax(logits / temperature, -1), soft_targets, log_target=True,
                        reduction="batchmean") * temperature ** 2
        loss = distill_weight * soft + (1.0 - distill_weight) * F.cross_entropy(logits, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    optimizer.zero_grad(set_to_none=True)


def compress(model: nn.Module, workload: Any, calibration_batches: Sequence[Any], train_queue: Iterator[Any],
             hyperparameters: Any, rng: np.ndarray) -> nn.Module:
    del workload
    drop_blocks = int(getattr(hyperparameters, "drop_blocks", 1))
    keep_every = max(2, int(getattr(hyperparameters, "keep_every", 2)))
    distill_steps = int(getattr(hyperparameters, "distill_steps", 600))
    learning_rate = float(getattr(hyperparameters, "learning_rate", 1e-3))
    temperature = float(getattr(hyperparameters, "temperature", 2.0))
    distill_weight = float(getattr(hyperparameters, "distill_weight", 0.5))
    teacher = copy.deepcopy(model).eval().requires_grad_(False)
    model.eval()  # the effects and shapes are measured without dropout
    stack = layer_stack(model)
    if stack is not None:
        thin_stack(model, *stack, keep_every)
    else:
        device = next(model.parameters()).device
        inputs = [_to(batch["inputs"], device) for batch in calibration_batches]
        if not drop_least_effective_blocks(model, inputs, drop_blocks):
            raise ValueError("the model has no stack of repeated layers and no nn.Sequential block whose output "
                             "has its input's shape: nothing can be dropped")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(np.asarray(rng).ravel()[0]))  # dropout, where the model has any
        distill(model, teacher, train_queue, distill_steps, learning_rate, temperature, distill_weight)
    return model.eval()
