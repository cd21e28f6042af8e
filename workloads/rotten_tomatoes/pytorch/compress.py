"""The MiniLM sentiment compression workloads' builder (trial process) and held-out data (measurement process).

The dense model is the PEFT workload's MiniLM-L6 classifier fully fine-tuned once by Podium
(:mod:`workloads.rotten_tomatoes.pytorch.finetuned`); the data and splits are the PEFT workload's
(:mod:`workloads.rotten_tomatoes.data`), tokenized the same way (64 tokens, batches trimmed to their longest row).

:func:`build` tokenizes the training split alone: the held-out texts are dropped before it returns, and :func:`warm`
(a fork server's preload) keeps the training split's token ids alone, so a trial holds no held-out example.
"""

from __future__ import annotations

import numpy as np
import torch

from workloads.common.compression import CompressionWorkload, HeldOut
from workloads.rotten_tomatoes.data import export_training  # hook: a container trial's data
from workloads.rotten_tomatoes.data import load_splits
from workloads.rotten_tomatoes.pytorch.finetuned import cached_weights, ensure_cached
from workloads.rotten_tomatoes.pytorch.models import encode, load_model
from workloads.spec import WorkloadSpec

#: what :func:`warm` loaded ahead of the trials: the dense weights and the training split's token ids
_preloaded: dict[str, object] = {}


def _training_split() -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, int]]:
    """Token ids and labels of the training split, and the held-out splits' sizes (their texts are not kept)."""
    if "train" in _preloaded:
        return _preloaded["train"]  # type: ignore[return-value]
    text = load_splits()
    return encode(text.train_texts), text.train_y, text.held_out_sizes()


def _dense_factory() -> torch.nn.Module:
    weights = _preloaded.get("weights") or ensure_cached()
    model = load_model()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})  # type: ignore[union-attr]
    return model


def ensure_made() -> None:
    """Make the dense MiniLM in this machine's cache when it lacks it (about 15 minutes on one core; the Docker
    executor calls this on the host before a trial: a container mounts the cache read-only)."""
    ensure_cached()


def warm() -> None:
    """For a fork server: the verified dense weights (when cached) and the training split's token ids, as numpy
    arrays; transformers' BERT code imported. No torch operation runs here."""
    weights = cached_weights()
    if weights is not None:
        _preloaded["weights"] = weights
    _preloaded["train"] = _training_split()
    import transformers.models.bert.modeling_bert  # noqa: F401


def build(spec: WorkloadSpec, hardware_class: str, device: torch.device) -> tuple[CompressionWorkload, None]:
    """The trial process's workload: the dense classifier and the training split; no evaluator."""
    inputs, labels, sizes = _training_split()
    tensors = {k: torch.from_numpy(v) for k, v in inputs.items()}
    return CompressionWorkload(spec, hardware_class, tensors, torch.from_numpy(labels), _dense_factory, device,
                               sizes), None


def dense(spec: WorkloadSpec, device: torch.device) -> torch.nn.Module:
    """The dense classifier alone, in eval mode (a measuring process given the held-out inputs in a file loads no
    data)."""
    return _dense_factory().to(device).eval()


def held_out(spec: WorkloadSpec, device: torch.device) -> HeldOut:
    """The measurement process's data: the dense classifier and the tokenized validation and test splits."""
    text = load_splits()

    def split(texts: list[str], labels: np.ndarray) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        return {k: torch.from_numpy(v).to(device) for k, v in encode(texts).items()}, torch.from_numpy(labels)

    return HeldOut(dense=_dense_factory().to(device).eval(),
                   splits={"validation": split(text.validation_texts, text.validation_y),
                           "test": split(text.test_texts, text.test_y)})
