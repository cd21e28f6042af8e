"""PyTorch glue for PEFT-track workloads: a pretrained model with a fresh task head, adapted to a classification task.

A :class:`PeftWorkload` is a :class:`~workloads.common.pytorch.TorchWorkload` (the same AlgoPerf-style interface, so
the training track's update rules run on it unchanged) whose ``init_model_fn`` returns the *pretrained* model with
a freshly initialised head (drawn from the rng), and whose inputs may be a dict of tensors (``input_ids``,
``attention_mask``: text is tokenized once when the workload is built, never inside the timed loop).

What a PEFT workload adds:

* ``head_modules``: the names of the modules that are new (the task head). They are always trained: a method that
  froze a randomly initialised head could learn nothing. ``peft`` configs get them as ``modules_to_save``.
* ``reference``: a fixed sample of inputs that belongs to no split, for the inference latency and forgetting
  measurements (see :mod:`harness.tracks.peft`).
* ``forgetting(base, adapted)``: how far the adapted model's behaviour has moved from the base model's on the
  reference sample; each workload defines it in its docstring (0 means unchanged).

Evaluation runs on the submitted model itself (:class:`ModelEvaluator`): in the PEFT track the method's structure
*is* the model (LoRA's extra matrices, a side network), so there is no fixed architecture to copy weights into.
The model is put in eval mode under ``torch.no_grad()`` and its training mode restored; evaluation stays untimed
and bounded by the evaluation limit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from workloads.common.pytorch import EvaluationError, SplitMetrics, TorchWorkload
from workloads.spec import WorkloadSpec

Inputs = torch.Tensor | dict[str, torch.Tensor]


def take(inputs: Inputs, index: torch.Tensor | slice) -> Inputs:
    """Rows of a tensor, or of every tensor of a dict of tensors."""
    if isinstance(inputs, Mapping):
        return {k: v[index] for k, v in inputs.items()}
    return inputs[index]


def to_device(inputs: Inputs, device: torch.device) -> Inputs:
    if isinstance(inputs, Mapping):
        return {k: v.to(device) for k, v in inputs.items()}
    return inputs.to(device)


def forward(model: nn.Module, inputs: Inputs, dropout_rate: float | None = None) -> torch.Tensor:
    """Logits ``(B, C)`` of ``model`` on ``inputs``: keyword arguments for a dict, ``.logits`` of an HF output."""
    kwargs = {} if dropout_rate is None else {"dropout_rate": dropout_rate}
    out = model(**inputs, **kwargs) if isinstance(inputs, Mapping) else model(inputs, **kwargs)
    return out if isinstance(out, torch.Tensor) else out.logits


def lengths(inputs: Inputs) -> torch.Tensor | None:
    """Each row's length up to its last real token, on the CPU, ``(N,)`` int64; ``None`` for inputs without an
    ``attention_mask`` (nothing to trim)."""
    if not isinstance(inputs, Mapping) or "attention_mask" not in inputs:
        return None
    mask = inputs["attention_mask"].cpu()  # (N, T)
    positions = torch.arange(1, mask.shape[1] + 1)  # (T,)
    return (mask.ne(0) * positions).amax(dim=1)  # (N,): 1 + index of the last real token, 0 for an empty row


def trim(inputs: Inputs, length: int) -> Inputs:
    """``inputs`` cut to their first ``length`` positions: the padding that every row of a batch shares.

    Tokenized inputs are right-padded to a fixed length when a workload is built; a batch only needs its longest row
    (dynamic padding, as ``transformers.DataCollatorWithPadding`` does). Padding on the right is masked and comes
    after every real token, so for an encoder and for a causal model alike no real token's output changes, only
    the work spent on pads (about half of it for the Rotten Tomatoes snippets: 26 tokens at the median, padded
    to 64). ``length`` comes from :func:`lengths`, computed on the CPU, so trimming a batch on a GPU does not wait
    for the device."""
    if not isinstance(inputs, Mapping):
        return inputs
    return {k: v[:, :length] if v.dim() >= 2 else v for k, v in inputs.items()}


def n_rows(inputs: Inputs) -> int:
    return len(next(iter(inputs.values()))) if isinstance(inputs, Mapping) else len(inputs)


class PeftWorkload(TorchWorkload):
    """A pretrained model and a task, as a submission sees it (training data only)."""

    def __init__(self, spec: WorkloadSpec, hardware_class: str, train_inputs: Inputs, train_y: torch.Tensor,
                 model_factory: Callable[[], nn.Module], device: torch.device, *, head_modules: tuple[str, ...],
                 reference: Inputs, forgetting: Callable[[nn.Module, nn.Module, Inputs], float],
                 held_out_sizes: dict[str, int] | None = None, eval_batch_size: int = 256) -> None:
        # TorchWorkload moves train_x with .to(); a dict goes through to_device instead
        super().__init__(spec, hardware_class, torch.empty(0), train_y, model_factory, device, held_out_sizes,
                         eval_batch_size)
        self._train_x = to_device(train_inputs, device)
        self._train_lengths = lengths(train_inputs)
        self.head_modules = tuple(head_modules)
        self.reference = to_device(reference, device)
        self._forgetting = forgetting

    @property
    def train_mean(self) -> float:
        raise AttributeError(f"{self.name}'s inputs are a pretrained model's; they have no mean to normalise with")

    train_stddev = train_mean

    def is_output_params(self, param_key: str) -> bool:
        return any(param_key == h or param_key.startswith(f"{h}.") for h in self.head_modules)

    @staticmethod
    def _forward(model: nn.Module, inputs: Inputs, dropout_rate: float | None) -> torch.Tensor:
        return forward(model, inputs, dropout_rate)

    def init_model_fn(self, rng: Any, dropout_rate: float | None = None,
                      aux_dropout_rate: float | None = None) -> tuple[nn.Module, None]:
        """The pretrained model with a fresh head, in training mode throughout (``from_pretrained`` returns a model in
        eval mode, and ``model_fn`` only switches modes when the top-level flag differs)."""
        model, state = super().init_model_fn(rng, dropout_rate, aux_dropout_rate)
        return model.train(), state

    def forgetting(self, base: nn.Module, adapted: nn.Module) -> float:
        """The workload's forgetting measure on its reference sample (0: the base model's behaviour is unchanged)."""
        return float(self._forgetting(base, adapted, self.reference))

    def input_queue(self, batch_size: int, seed: int) -> Iterator[dict[str, Any]]:
        """Infinite, shuffled-per-epoch batches (see :func:`shuffled_batches`)."""
        return shuffled_batches(self, self._train_x, self._train_y, self._train_lengths, batch_size, seed)


def shuffled_batches(workload: TorchWorkload, inputs: Inputs, labels: torch.Tensor, row_lengths: torch.Tensor | None,
                     batch_size: int, seed: int) -> Iterator[dict[str, Any]]:
    """Infinite, shuffled-per-epoch batches of ``workload``'s training data (the last partial batch of an epoch is
    dropped); tokenized inputs are trimmed to the batch's longest row (:func:`trim`)."""
    n = len(labels)
    if batch_size < 1 or batch_size > n:
        raise ValueError(f"batch size {batch_size} is outside [1, {n}] for {workload.name}")
    generator = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(n, generator=generator)
        on_device = order.to(workload.device)
        for start in range(0, n - batch_size + 1, batch_size):
            idx = on_device[start:start + batch_size]
            batch = take(inputs, idx)
            if row_lengths is not None:
                batch = trim(batch, max(1, int(row_lengths[order[start:start + batch_size]].max())))
            yield {"inputs": batch, "targets": labels[idx]}


def rows_of(inputs: Inputs) -> int:
    """How many rows ``inputs`` has (a tensor's first dimension, or a dict's tensors')."""
    return len(next(iter(inputs.values()))) if isinstance(inputs, Mapping) else len(inputs)


class ModelEvaluator:
    """Harness-side evaluation of the submitted model itself on held-out splits. Never handed to a submission.

    Two halves, which may run in different processes: :meth:`logits` needs the inputs only (an evaluator made with
    ``None`` for a split's labels holds none), :meth:`score` the logits and the labels; :meth:`evaluate` is both."""

    def __init__(self, device: torch.device, splits: dict[str, tuple[Inputs, torch.Tensor | None]],
                 batch_size: int = 256) -> None:
        self._splits = {k: (to_device(x, device), None if y is None else y.to(device)) for k, (x, y) in splits.items()}
        self._batch_size = batch_size
        # Tokenized splits are evaluated in order of length, each batch trimmed to its longest row (see trim): the
        # sums below do not depend on the order, and a batch of short snippets no longer pays for 64 positions.
        self._batches: dict[str, list[tuple[torch.Tensor | slice, int | None]]] = {}
        for name, (x, _) in splits.items():
            row_lengths, n = lengths(x), rows_of(x)
            if row_lengths is None:
                self._batches[name] = [(slice(s, s + batch_size), None) for s in range(0, n, batch_size)]
                continue
            order = torch.sort(row_lengths, stable=True).indices
            chunks = order.split(batch_size)
            self._batches[name] = [(rows.to(device), max(1, int(row_lengths[rows].max()))) for rows in chunks
                                   if len(rows)]  # an empty split (a container's training-only data) has no batch

    @torch.no_grad()
    def logits(self, params: Any, split: str) -> list[torch.Tensor]:
        """The model's logits on ``split``, one ``(B, n_classes)`` tensor per evaluation batch (in the batches'
        order: :meth:`score` pairs them with the labels)."""
        if not isinstance(params, nn.Module):
            raise EvaluationError(f"the model to evaluate is a {type(params).__name__}, not a torch.nn.Module")
        model, was_training = params, params.training
        model.eval()
        try:
            x, _ = self._splits[split]
            out = []
            for rows, length in self._batches[split]:
                inputs = take(x, rows)
                out.append(forward(model, inputs if length is None else trim(inputs, length)).float())
        finally:
            model.train(was_training)
        return out

    def score(self, logits: list[torch.Tensor], split: str) -> SplitMetrics:
        """Mean loss and accuracy on ``split`` from :meth:`logits`' output, also under ``"<split>/<metric>"``."""
        _, y = self._splits[split]
        if y is None:
            raise EvaluationError(f"this evaluator holds no labels for {split}")
        batches = self._batches[split]
        if len(logits) != len(batches) or any(len(out) != len(y[rows]) for out, (rows, _) in zip(logits, batches)):
            raise EvaluationError(f"the logits do not match the {split} split's {len(batches)} batches")
        total_loss, correct = 0.0, 0
        for out, (rows, _) in zip(logits, batches):
            targets = y[rows]
            total_loss += float(F.cross_entropy(out, targets, reduction="sum"))
            correct += int((out.argmax(dim=-1) == targets).sum())
        return SplitMetrics(split, {"loss": total_loss / len(y), "accuracy": correct / len(y)})

    def evaluate(self, params: Any, model_state: Any, split: str) -> SplitMetrics:
        """Mean loss and accuracy on ``split`` ("validation" or "test"), also under ``"<split>/<metric>"``."""
        return self.score(self.logits(params, split), split)


class StateDictEvaluator(ModelEvaluator):
    """A :class:`ModelEvaluator` for a training-track workload over a pretrained model: the weights handed to it (a
    ``state_dict``, or a module whose ``state_dict`` is taken) are loaded, ``strict``, into the evaluator's *own*
    instance of the workload's model, which it evaluates. So, as :class:`~workloads.common.pytorch.Evaluator` does
    for the other training workloads, no submission code runs during the untimed evaluation and the names and shapes
    must be the workload's (an optimizer changes weights, never the architecture).

    Parameters the workload's model freezes (``requires_grad`` off, e.g. ``minilm_rotten_tomatoes_ft_frozen``'s
    embeddings) must come back as the workload made them: an optimizer that changes one anyway (weight decay applied
    to every parameter, whether or not it has a gradient) fails the evaluation, naming it, rather than being scored on
    a model the variant does not define. Frozen parameters are pretrained (loaded, the same in every instance), so
    the evaluator's own fresh instance holds their values."""

    def __init__(self, device: torch.device, splits: dict[str, tuple[Inputs, torch.Tensor | None]],
                 model_factory: Callable[[], nn.Module], batch_size: int = 256) -> None:
        super().__init__(device, splits, batch_size)
        self._factory, self._model, self._device = model_factory, None, device
        self._frozen: dict[str, torch.Tensor] = {}

    def logits(self, params: Any, split: str) -> list[torch.Tensor]:
        if isinstance(params, nn.Module):
            params = params.state_dict()
        if not isinstance(params, Mapping):
            raise EvaluationError(f"the parameters to evaluate are a {type(params).__name__}, not the workload's "
                                  "torch.nn.Module or its state_dict")
        if self._model is None:
            self._model = self._factory().to(self._device)
            self._frozen = {name: p.detach().clone() for name, p in self._model.named_parameters()
                            if not p.requires_grad}
        changed = [name for name, value in self._frozen.items()
                   if isinstance(params.get(name), torch.Tensor) and params[name].shape == value.shape
                   and not torch.equal(params[name].detach().to(value.device), value)]
        if changed:
            raise EvaluationError(f"the submission changed {len(changed)} parameter(s) the workload freezes "
                                  f"({', '.join(changed[:3])}{', ...' if len(changed) > 3 else ''}): an optimizer "
                                  "must leave a parameter without gradient as it is (no weight decay on it either)")
        try:
            self._model.load_state_dict(params, strict=True)
        except RuntimeError as exc:
            raise EvaluationError(f"the submission's parameters do not fit the workload's model: {exc}") from None
        return super().logits(self._model, split)


def build_peft(spec: WorkloadSpec, hardware_class: str, device: torch.device, *,
               splits: dict[str, tuple[Inputs, torch.Tensor]], model_factory: Callable[[], nn.Module],
               head_modules: tuple[str, ...], reference: Inputs,
               forgetting: Callable[[nn.Module, nn.Module, Inputs], float],
               eval_batch_size: int = 256,
               held_out_sizes: dict[str, int] | None = None,
               state_dict_evaluator: bool = False) -> tuple[PeftWorkload, ModelEvaluator]:
    """A (workload, evaluator) pair from tensors: ``splits`` maps train/validation/test to ``(inputs, labels)``.
    ``held_out_sizes``: the held-out splits' sizes when ``splits`` does not hold their examples (a container trial
    given its training data alone); default: their lengths. ``state_dict_evaluator``: a training-track workload's
    :class:`StateDictEvaluator` (weights copied into its own ``model_factory()`` model) instead of a PEFT one's."""
    sizes = held_out_sizes or {"validation": len(splits["validation"][1]), "test": len(splits["test"][1])}
    workload = PeftWorkload(spec, hardware_class, *splits["train"], model_factory, device, head_modules=head_modules,
                            reference=reference, forgetting=forgetting, held_out_sizes=sizes,
                            eval_batch_size=eval_batch_size)
    # a training-track worker builds its workload after withholding the held-out splits: it evaluates elsewhere
    held_out = {k: splits[k] for k in ("validation", "test") if k in splits}
    evaluator = (StateDictEvaluator(device, held_out, model_factory, eval_batch_size) if state_dict_evaluator
                 else ModelEvaluator(device, held_out, eval_batch_size))
    return workload, evaluator
