"""PyTorch glue for compression-track workloads: a trained dense model and its training data, and, apart from them,
the held-out data the compressed model is measured on.

A compression workload's family module (the spec's ``builder`` path) defines two functions:

* ``build(spec, hardware_class, device, **builder_kwargs) -> (CompressionWorkload, None)``: what the trial process
  holds while ``compress`` runs: the dense model (a private copy per ``init_model_fn`` call) and the *training* split
  only. There is no evaluator: no validation or test example is ever loaded into that process, so no submission code
  can find one there (in memory; issue 14 takes the dataset files out of its reach as well).
* ``dense(spec, device, **builder_kwargs) -> nn.Module`` (a classifier's family): the dense model alone, for a
  measuring process that gets the held-out inputs from a file the harness wrote (a sealed container: no dataset
  folder is mounted there; :func:`harness.tracks.compression.export_inputs`).
* ``held_out(spec, device, **builder_kwargs) -> HeldOut``: the dense model and the validation and test splits, for
  the measurement process (:mod:`harness.tracks.compression`), a fresh process that loads the saved compressed model
  and never runs ``compress``. The splits are evaluated by the ``HeldOut``'s evaluator: a classifier's loss and
  accuracy unless the workload names another (a language model's perplexity: :mod:`workloads.common.causal_lm`).

The dense model is made once by Podium (deterministic, cached, hash-verified, like the PEFT track's pretrained
models), or is a pretrained model used as it is, loaded from its hash-verified file (SmolLM2), and is the same for
every trial: ``init_model_fn`` ignores its ``rng``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

import numpy as np
import torch
from torch import nn

from workloads.common.peft import (Inputs, ModelEvaluator, forward, lengths, rows_of, shuffled_batches, take,
                                   to_device)
from workloads.common.pytorch import TorchWorkload
from workloads.spec import WorkloadSpec

#: what ``compress`` receives as ``calibration_batches``: this many training batches of this size, drawn with the
#: trial's seed (the same for every submission on the same seed), enough for activation statistics (GPTQ and
#: SparseGPT use 128 sequences; a CNN's 256 images are a few thousand per-pixel samples per channel).
CALIBRATION_BATCHES = 8
CALIBRATION_BATCH_SIZE = 32
#: the batch size of ``train_queue`` unless the submission's ``batch_size`` hyperparameter says otherwise
DEFAULT_BATCH_SIZE = 32


class CompressionWorkload(TorchWorkload):
    """The dense model and the training split, as a compressor sees them (AlgoPerf-style attributes, ``model_fn``
    and ``loss_fn`` included, for recovery fine-tuning and distillation)."""

    def __init__(self, spec: WorkloadSpec, hardware_class: str, train_inputs: Inputs, train_y: torch.Tensor,
                 dense_factory: Callable[[], nn.Module], device: torch.device,
                 held_out_sizes: dict[str, int]) -> None:
        super().__init__(spec, hardware_class, torch.empty(0), train_y, dense_factory, device, held_out_sizes)
        self._train_x = to_device(train_inputs, device)
        self._train_lengths = lengths(train_inputs)

    @staticmethod
    def _forward(model: nn.Module, inputs: Inputs, dropout_rate: float | None) -> torch.Tensor:
        return forward(model, inputs, dropout_rate)

    def init_model_fn(self, rng: np.ndarray, dropout_rate: float | None = None,
                      aux_dropout_rate: float | None = None) -> tuple[nn.Module, None]:
        """A private copy of the trained dense model, in training mode (the same weights whatever ``rng``)."""
        model, state = super().init_model_fn(rng, dropout_rate, aux_dropout_rate)
        return model.train(), state

    def input_queue(self, batch_size: int, seed: int) -> Iterator[dict[str, Any]]:
        """Infinite, shuffled-per-epoch training batches (the ``train_queue`` a compressor reads)."""
        return shuffled_batches(self, self._train_x, self._train_y, self._train_lengths, batch_size, seed)

    def calibration_batches(self, seed: int) -> list[dict[str, Any]]:
        """:data:`CALIBRATION_BATCHES` training batches of :data:`CALIBRATION_BATCH_SIZE`, drawn with ``seed`` from
        a shuffle of their own (not the first batches ``train_queue`` will yield)."""
        queue = shuffled_batches(self, self._train_x, self._train_y, self._train_lengths, CALIBRATION_BATCH_SIZE,
                                 seed ^ 0x5EED_CA1B)
        return list(islice(queue, CALIBRATION_BATCHES))


@dataclass
class HeldOut:
    """What the measurement process needs: the dense reference, the held-out splits (``(inputs, labels)``) and how a
    model is evaluated on them."""

    dense: nn.Module
    #: ``(inputs, labels)`` per split; the measuring process drops a classifier's labels (``None``) before it loads
    #: the compressed model (:func:`harness.tracks.compression.main`)
    splits: dict[str, tuple[Inputs, torch.Tensor | None]]
    #: ``make(device, splits)``: the evaluator whose ``evaluate(model, None, split)`` gives the split's metrics (the
    #: workload's ``metric`` among them); by default a classifier's loss and accuracy
    evaluator_factory: Callable[[torch.device, dict[str, tuple[Inputs, torch.Tensor]]], Any] = ModelEvaluator

    def evaluator(self, device: torch.device) -> Any:
        """The evaluator of models on :attr:`splits` (``evaluate(model, None, split) -> SplitMetrics``)."""
        return self.evaluator_factory(device, self.splits)

    def latency_inputs(self, batch_size: int) -> tuple[Callable[[int], Inputs], Callable[[int], Inputs]]:
        """``single(i)`` (one row) and ``batch(i)`` (``batch_size`` rows) of validation inputs, different for each
        ``i`` (cycling through the split), as :func:`harness.tracks.compression.compare_latency` wants them.
        Tokenized rows are trimmed to the batch's longest row, as evaluation does."""
        x, _ = self.splits["validation"]
        row_lengths = lengths(x)
        n = rows_of(x)

        def rows(start: int, count: int) -> Inputs:
            index = torch.arange(start, start + count) % n
            inputs = take(x, index)
            if row_lengths is None:
                return inputs
            return {k: v[:, :max(1, int(row_lengths[index].max()))] if v.dim() >= 2 else v
                    for k, v in inputs.items()}

        return (lambda i: rows(i, 1)), (lambda i: rows(batch_size * i, batch_size))
