"""Structured pruning that removes what it prunes: whole convolution channels and hidden neurons of a chain of
layers, or whole attention heads and feed-forward neurons of a transformer, ranked by a first-order Taylor estimate
of the loss change (Molchanov, Tyree, Karras, Aila, Kautz, ICLR 2017; Molchanov, Mallya, Tyree, Frosio, Kautz, CVPR
2019; for attention heads, the head-mask gradient of Michel, Levy, Neubig, NeurIPS 2019), then recovered by
knowledge distillation from the dense model (Hinton, Vinyals, Dean 2015).

What can be removed, found by structure rather than by name:

* **A transformer** (modules with ``attention.self.query/key/value``, ``attention.output.dense``,
  ``intermediate.dense`` and ``output.dense``: a Hugging Face BERT layer): in every layer, attention heads (their
  rows of the query, key and value projections and their columns of ``attention.output.dense``; the self-attention
  module's ``num_attention_heads`` and ``all_head_size`` are updated, its forward reshapes with ``-1`` heads) and
  feed-forward neurons (rows of ``intermediate.dense``, columns of ``output.dense``). ``keep_heads`` and
  ``keep_ffn`` of each layer's heads and neurons are kept (at least one of each).
* **A gated feed-forward block** (an ``mlp`` with ``gate_proj``, ``up_proj`` and ``down_proj``: a Hugging Face Llama,
  Mistral or Qwen decoder layer, ``down(act(gate(x)) * up(x))``): its neurons (rows of ``gate_proj`` and ``up_proj``,
  columns of ``down_proj``), ``keep_ffn`` of them kept. Such a model's attention heads are left whole: with grouped
  key-value heads a query head cannot go alone, and its rotary and cache code reads the head counts from the config.
* **Otherwise, a chain of layers** (``nn.Conv2d`` and ``nn.Linear``), read from the order in which one forward pass
  runs the model's leaf modules: a layer's output units (convolution channels, linear neurons) can be removed when
  the next layer of the chain reads that output directly, through channel-wise modules only (activations, pooling,
  dropout, batch norm, which is sliced too, and at most one ``nn.Flatten``). Removing a unit removes the producer's
  filter or row (and bias), the matching batch-norm entries and the consumer's input channel or columns (after a
  ``Flatten``, a channel ``c`` of an ``H x W`` map is the features ``c*H*W .. (c+1)*H*W - 1``). The last layer (the
  classifier) feeds no other layer: its outputs are never removed. ``keep`` of each layer's units are kept
  (``keep_linear`` for the hidden neurons of linear layers, when it is given).

**Importance** (``importance``): ``"taylor"`` (default): for each unit, ``sum_n |sum_p a * dL/da|`` over the
calibration batches' examples ``n``, where ``a`` runs over the unit's activations ``p`` at the input of the layer
that reads it (its spatial positions, tokens, and a head's 32 context features) and ``L`` is the cross-entropy on
the calibration labels: the first-order estimate of the loss change when that unit is zeroed, which for a head is
exactly Michel et al.'s ``|dL/d xi_h|`` of a head mask ``xi_h`` at 1. ``"l1"``: the L1 norm of the producer's weights
for the unit (the filter, the neuron's row; a head's rows of the query, key and value projections).
Units are ranked within their layer and the kept ones keep their order, so at ``keep`` 1 the model is unchanged.

**Schedule**: ``stages`` pruning steps (the share removed following Zhu & Gupta's cubic schedule, scores computed
afresh on the pruned model each time), each followed by its share of ``recovery_steps`` AdamW updates of every
parameter on the training queue with loss ``distill_weight * T^2 * KL(softmax(teacher / T) || softmax(student /
T)) + (1 - distill_weight) * CE(student, labels)``, the teacher a frozen copy of the dense model taken before
anything is pruned, cosine learning-rate decay within each stage.

The model returned is the dense module with smaller ``nn.Conv2d`` / ``nn.Linear`` (and batch-norm) layers, in place:
fewer elements saved and fewer multiply-adds run; no mask, no hook, no class of this file.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
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


def _rows(inputs: Any, count: int) -> Any:
    if isinstance(inputs, Mapping):
        return {name: value[:count] for name, value in inputs.items()}
    return inputs[:count]


# --- Removing units from layers, in place. -------------------------------------------------------------------------


def _select(module: nn.Module, name: str, dim: int, index: torch.Tensor) -> None:
    """Keep the entries ``index`` along ``dim`` of ``module``'s parameter or buffer ``name`` (None stays None)."""
    value = getattr(module, name)
    if value is None:
        return
    kept = value.detach().index_select(dim, index.to(value.device)).clone()
    if isinstance(value, nn.Parameter):
        setattr(module, name, nn.Parameter(kept, requires_grad=value.requires_grad))
    else:
        setattr(module, name, kept)


def keep_outputs(layer: nn.Module, index: torch.Tensor) -> None:
    """Keep the output channels / features ``index`` of a ``Conv2d`` or ``Linear`` (weight rows and bias)."""
    _select(layer, "weight", 0, index)
    _select(layer, "bias", 0, index)
    if isinstance(layer, nn.Conv2d):
        layer.out_channels = len(index)
    else:
        layer.out_features = len(index)


def keep_inputs(layer: nn.Module, index: torch.Tensor) -> None:
    """Keep the input channels / features ``index`` of a ``Conv2d`` or ``Linear`` (weight columns)."""
    _select(layer, "weight", 1, index)
    if isinstance(layer, nn.Conv2d):
        layer.in_channels = len(index)
    else:
        layer.in_features = len(index)


def keep_norm(norm: nn.Module, index: torch.Tensor) -> None:
    """Keep the features ``index`` of a batch norm (affine parameters and running statistics)."""
    for name in ("weight", "bias", "running_mean", "running_var"):
        _select(norm, name, 0, index)
    norm.num_features = len(index)


def expand(units: torch.Tensor, size: int) -> torch.Tensor:
    """The features of the units ``units`` when each unit is ``size`` consecutive features (a flattened channel, a
    head's context vector)."""
    return (units[:, None] * size + torch.arange(size)[None, :]).flatten()


# --- Groups of removable units. ------------------------------------------------------------------------------------


class Group(NamedTuple):
    """``units`` removable units of one layer.

    ``reader`` is the module whose input holds the units' activations (``size`` consecutive features per unit in
    the last dimension, or the channel dimension of a convolution's input when ``channels``); ``weights`` returns
    the producer-side weight slices per unit (for the L1 importance, ``(units, -1)``); ``keep(index)`` removes every
    unit not in ``index`` (sorted).
    """

    name: str
    units: int
    reader: nn.Module
    size: int
    channels: bool
    weights: Callable[[], torch.Tensor]
    keep: Callable[[torch.Tensor], None]
    kind: str  # "channel", "neuron", "head", "ffn": which keep fraction applies


# Transformer layers.


def transformer_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Modules shaped like a Hugging Face BERT layer, with their names."""
    found = []
    for name, module in model.named_modules():
        try:
            attention, intermediate, output = module.attention, module.intermediate.dense, module.output.dense
            self_attention = attention.self
            parts = (self_attention.query, self_attention.key, self_attention.value, attention.output.dense)
            head_size = int(self_attention.attention_head_size)
        except (AttributeError, TypeError):
            continue
        if all(isinstance(p, nn.Linear) for p in (*parts, intermediate, output)) and head_size > 0:
            found.append((name, module))
    return found


def _head_group(name: str, layer: nn.Module) -> Group:
    attention = layer.attention.self
    projections = (attention.query, attention.key, attention.value)
    out, size = layer.attention.output.dense, int(attention.attention_head_size)
    heads = attention.query.out_features // size

    def weights() -> torch.Tensor:
        return torch.cat([p.weight.detach().reshape(heads, -1) for p in projections], 1)

    def keep(index: torch.Tensor) -> None:
        rows = expand(index, size)
        for projection in projections:
            keep_outputs(projection, rows)
        keep_inputs(out, rows)
        if hasattr(attention, "num_attention_heads"):
            attention.num_attention_heads = len(index)
        if hasattr(attention, "all_head_size"):
            attention.all_head_size = len(index) * size

    return Group(f"{name}.attention", heads, out, size, False, weights, keep, "head")


def _ffn_group(name: str, layer: nn.Module) -> Group:
    up, down = layer.intermediate.dense, layer.output.dense

    def keep(index: torch.Tensor) -> None:
        keep_outputs(up, index)
        keep_inputs(down, index)

    return Group(f"{name}.intermediate", up.out_features, down, 1, False, lambda: up.weight.detach(), keep, "ffn")


def gated_ffn_groups(model: nn.Module) -> list[Group]:
    """One group per gated feed-forward block (``mlp.gate_proj``, ``mlp.up_proj``, ``mlp.down_proj``, all
    ``nn.Linear``): its neurons, read at the input of ``down_proj``."""
    groups = []
    for name, module in model.named_modules():
        gate, up, down = (getattr(module, part, None) for part in ("gate_proj", "up_proj", "down_proj"))
        if not all(isinstance(p, nn.Linear) for p in (gate, up, down)) or gate.out_features != up.out_features:
            continue

        def keep(index: torch.Tensor, module: nn.Module = module, gate: nn.Linear = gate, up: nn.Linear = up,
                 down: nn.Linear = down) -> None:
            keep_outputs(gate, index)
            keep_outputs(up, index)
            keep_inputs(down, index)
            if hasattr(module, "intermediate_size"):
                module.intermediate_size = len(index)

        def weights(gate: nn.Linear = gate, up: nn.Linear = up) -> torch.Tensor:
            return torch.cat([gate.weight.detach(), up.weight.detach()], 1)

        groups.append(Group(name, gate.out_features, down, 1, False, weights, keep, "ffn"))
    return groups


# A chain of layers.

CHANNEL_WISE = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.GELU, nn.SiLU, nn.ELU, nn.Tanh, nn.Sigmoid, nn.Hardswish,
                nn.Hardtanh, nn.Mish, nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.MaxPool1d, nn.MaxPool2d,
                nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


class Call(NamedTuple):
    """One leaf module's call in a forward pass: the module, its first input and its output."""

    module: nn.Module
    name: str
    input: Any
    output: Any


@torch.no_grad()
def trace(model: nn.Module, inputs: Any) -> list[Call]:
    """The leaf modules' calls of one forward pass, in order."""
    calls: list[Call] = []
    handles = []
    for name, module in model.named_modules():
        if next(module.children(), None) is None:
            handles.append(module.register_forward_hook(
                lambda m, args, out, name=name: calls.append(Call(m, name, args[0] if args else None, out))))
    try:
        _logits(model, inputs)
    finally:
        for handle in handles:
            handle.remove()
    return calls


def _same(a: Any, b: Any) -> bool:
    return a is b or (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape
                      and bool(torch.equal(a, b)))


def _link(calls: Sequence[Call], i: int, j: int, counts: dict[int, int]) -> Group | None:
    """The group of the output units of ``calls[i]`` read by ``calls[j]`` (the next conv/linear call), or None when
    the path between them is not a direct chain of channel-wise modules."""
    producer, consumer = calls[i].module, calls[j].module
    if counts[id(producer)] != 1 or counts[id(consumer)] != 1:
        return None  # a layer called twice (shared weights) is left alone
    if any(isinstance(m, nn.Conv2d) and m.groups != 1 for m in (producer, consumer)):
        return None
    if isinstance(producer, nn.Linear) and isinstance(consumer, nn.Conv2d):
        return None
    between = calls[i + 1:j]
    if not all(_same(calls[k].output, calls[k + 1].input) for k in range(i, j)):
        return None  # something the trace does not see (a residual sum, a functional op) sits in between
    units = producer.out_channels if isinstance(producer, nn.Conv2d) else producer.out_features
    norms, flattens = [], 0
    for call in between:
        module = call.module
        if isinstance(module, NORMS):
            if counts[id(module)] != 1 or module.num_features != units:
                return None
            norms.append(module)
        elif isinstance(module, nn.Flatten):
            flattens += 1
            shape = call.input.shape
            if flattens > 1 or module.start_dim != 1 or module.end_dim not in (-1, len(shape) - 1):
                return None
            if len(shape) > 2 and shape[1] != units:
                return None
        elif not isinstance(module, CHANNEL_WISE):
            return None
    read = calls[j].input
    if isinstance(consumer, nn.Conv2d):
        if read.dim() != 4 or read.shape[1] != units or consumer.in_channels != units:
            return None
        size, channels = 1, True
    else:
        if consumer.in_features % units or read.shape[-1] != consumer.in_features:
            return None
        size, channels = consumer.in_features // units, False
        if size > 1 and not flattens:
            return None

    def keep(index: torch.Tensor) -> None:
        keep_outputs(producer, index)
        for norm in norms:
            keep_norm(norm, index)
        keep_inputs(consumer, index if channels else expand(index, size))

    kind = "channel" if isinstance(producer, nn.Conv2d) else "neuron"
    weights = lambda: producer.weight.detach().reshape(units, -1)  # noqa: E731
    return Group(calls[i].name, units, consumer, size, channels, weights, keep, kind)


def chain_groups(model: nn.Module, inputs: Any) -> list[Group]:
    """The removable output units of each conv/linear layer of the model's chain that feeds another one."""
    calls = trace(model, inputs)
    counts: dict[int, int] = {}
    for call in calls:
        counts[id(call.module)] = counts.get(id(call.module), 0) + 1
    layers = [k for k, call in enumerate(calls) if isinstance(call.module, (nn.Conv2d, nn.Linear))]
    groups = []
    for i, j in zip(layers, layers[1:]):
        group = _link(calls, i, j, counts)
        if group is not None:
            groups.append(group)
    return groups


def removable_groups(model: nn.Module, inputs: Any) -> list[Group]:
    layers = transformer_layers(model)
    if layers:
        return [group for name, layer in layers for group in (_head_group(name, layer), _ffn_group(name, layer))]
    gated = gated_ffn_groups(model)
    return gated if gated else chain_groups(model, inputs)


# --- Importance. ---------------------------------------------------------------------------------------------------


def _per_example(group: Group, product: torch.Tensor) -> torch.Tensor:
    """``(N, units)``: ``activation * gradient`` summed over each unit's activations in each example."""
    if group.channels:
        return product.flatten(2).sum(-1)
    return product.reshape(product.shape[0], -1, group.units, group.size).sum((1, 3))


def taylor_scores(model: nn.Module, groups: Sequence[Group], batches: Sequence[Any]) -> list[torch.Tensor]:
    """First-order Taylor importance of every unit: ``sum_n |sum_p a * dL/da|`` over the batches' examples, the
    activations read at the input of each group's reader (the parameters' gradients are left untouched)."""
    device = next(model.parameters()).device
    scores = [torch.zeros(group.units, dtype=torch.float64) for group in groups]
    was_training = model.training
    model.eval()
    try:
        for batch in batches:
            captured: dict[int, torch.Tensor] = {}
            handles = [group.reader.register_forward_pre_hook(
                lambda _m, args, k=k: captured.__setitem__(k, args[0])) for k, group in enumerate(groups)]
            try:
                with torch.enable_grad():
                    logits = _logits(model, _to(batch["inputs"], device))
                    loss = F.cross_entropy(logits, batch["targets"].to(device), reduction="sum")
                    keys = sorted(captured)
                    grads = torch.autograd.grad(loss, [captured[k] for k in keys], allow_unused=True)
            finally:
                for handle in handles:
                    handle.remove()
            for k, grad in zip(keys, grads):
                if grad is not None:
                    product = (captured[k].detach() * grad).double()
                    scores[k] += _per_example(groups[k], product).abs().sum(0).cpu()
    finally:
        model.train(was_training)
    return scores


def l1_scores(groups: Sequence[Group]) -> list[torch.Tensor]:
    return [group.weights().abs().reshape(group.units, -1).sum(1).double().cpu() for group in groups]


# --- Pruning. ------------------------------------------------------------------------------------------------------


def kept_count(units: int, fraction: float) -> int:
    return min(units, max(1, int(round(fraction * units))))


def prune(model: nn.Module, batches: Sequence[Any], counts: Sequence[int], importance: str) -> None:
    """Remove from the ``k``-th group of units all but its ``counts[k]`` most important ones (kept in their order).
    The same groups are found at every stage (pruning shrinks them, it never removes one)."""
    device = next(model.parameters()).device
    was_training = model.training
    groups = removable_groups(model.eval(), _to(batches[0]["inputs"], device))
    model.train(was_training)
    if len(groups) != len(counts):
        raise RuntimeError(f"{len(groups)} groups of units found, {len(counts)} expected")
    if importance == "taylor":
        scores = taylor_scores(model, groups, batches)
    elif importance == "l1":
        scores = l1_scores(groups)
    else:
        raise ValueError(f"importance must be 'taylor' or 'l1'; got {importance!r}")
    for group, score, count in zip(groups, scores, counts):
        if count < group.units:
            # stable ranking: among equal scores, the earlier unit is kept
            order = sorted(range(group.units), key=lambda u: (-float(score[u]), u))
            group.keep(torch.tensor(sorted(order[:count]), dtype=torch.long))


def stage_fractions(keep: float, stages: int) -> list[float]:
    """Kept share after each stage: the pruned share ``1 - keep`` reached on Zhu & Gupta's cubic schedule."""
    return [1.0 - (1.0 - keep) * (1.0 - (1.0 - k / stages) ** 3) for k in range(1, stages + 1)]


def stage_steps(total: int, stages: int) -> list[int]:
    return [total // stages + (k < total % stages) for k in range(stages)]


# --- Recovery by distillation. -------------------------------------------------------------------------------------


def distill(student: nn.Module, teacher: nn.Module, train_queue: Iterator[Any], steps: int, learning_rate: float,
            temperature: float, distill_weight: float) -> None:
    """``steps`` AdamW updates of the student on the soft-target KL (scaled by ``T^2``) and the labels'
    cross-entropy, cosine learning-rate decay to 0."""
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
        logits = _logits(student, inputs)
        loss = F.cross_entropy(logits, targets) if distill_weight < 1.0 else 0.0
        loss = (1.0 - distill_weight) * loss
        if distill_weight > 0.0:
            with torch.no_grad():
                soft_targets = F.log_softmax(_logits(teacher, inputs) / temperature, -1)
            loss = loss + distill_weight * temperature ** 2 * F.kl_div(
                F.log_softmax(logits / temperature, -1), soft_targets, log_target=True, reduction="batchmean")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    optimizer.zero_grad(set_to_none=True)


def compress(model: nn.Module, workload: Any, calibration_batches: Sequence[Any], train_queue: Iterator[Any],
             hyperparameters: Any, rng: np.ndarray) -> nn.Module:
    del workload
    keep = float(getattr(hyperparameters, "keep", 0.5))
    keep_linear = getattr(hyperparameters, "keep_linear", None)
    keep_linear = keep if keep_linear is None else float(keep_linear)
    keep_heads = float(getattr(hyperparameters, "keep_heads", 0.75))
    keep_ffn = float(getattr(hyperparameters, "keep_ffn", 0.5))
    importance = str(getattr(hyperparameters, "importance", "taylor"))
    stages = max(1, int(getattr(hyperparameters, "stages", 1)))
    recovery_steps = int(getattr(hyperparameters, "recovery_steps", 1000))
    learning_rate = float(getattr(hyperparameters, "learning_rate", 1e-3))
    temperature = float(getattr(hyperparameters, "temperature", 2.0))
    distill_weight = float(getattr(hyperparameters, "distill_weight", 0.5))
    fractions = {"channel": keep, "neuron": keep_linear, "head": keep_heads, "ffn": keep_ffn}
    if not all(0.0 < f <= 1.0 for f in fractions.values()):
        raise ValueError(f"the keep fractions must be in (0, 1]; got {fractions}")
    if not calibration_batches:
        raise ValueError("structured pruning needs calibration batches (to trace the model and score its units)")
    teacher = copy.deepcopy(model).eval().requires_grad_(False)
    model.requires_grad_(True)
    device = next(model.parameters()).device
    groups = removable_groups(model.eval(), _to(calibration_batches[0]["inputs"], device))
    if not groups:
        raise ValueError("nothing to remove: the model has no transformer layer and no chain of conv/linear layers "
                         "in which a layer's output feeds the next one directly")
    schedules = [[kept_count(g.units, f) for f in stage_fractions(fractions[g.kind], stages)] for g in groups]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(np.asarray(rng).ravel()[0]))  # dropout, where the model has any
        for k, steps in enumerate(stage_steps(recovery_steps, stages)):
            prune(model, calibration_batches, [schedule[k] for schedule in schedules], importance)
            distill(model, teacher, train_queue, steps, learning_rate, temperature, distill_weight)
    model.eval()
    with torch.no_grad():  # the pruned model still runs
        _logits(model, _to(_rows(calibration_batches[0]["inputs"], 1), device))
    return model
