"""AlgoPerf's ``pytorch_utils`` for a Podium trial: one process, one device, a one-process ``torch.distributed`` group.

A Podium trial is a single process. Its worker starts a ``torch.distributed`` group of world size 1 (see
:mod:`harness.runner.distributed`) with ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` set as AlgoPerf's ``torchrun``
sets them, so code that needs an initialised group (Distributed Shampoo's ``DDPDistributor``) runs. The model is
never wrapped in ``DistributedDataParallel``, so :func:`pytorch_setup` says DDP is off: the all-reduces AlgoPerf
submissions guard with ``USE_PYTORCH_DDP`` would only average one process with itself.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

__all__ = ["CustomDropout", "CustomDropout2d", "SequentialWithDropout", "pytorch_init", "pytorch_setup",
           "sync_ddp_time", "update_batch_norm_fn"]


def pytorch_setup() -> tuple[bool, int, torch.device, int]:
    """``(use_pytorch_ddp, rank, device, n_gpus)`` as AlgoPerf returns them, for this trial's single process.

    ``use_pytorch_ddp`` is False (see the module docstring); ``rank`` is ``LOCAL_RANK`` (0); ``device`` is the
    trial's: CUDA when the trial's group runs on NCCL, the CPU when it runs on gloo. Outside a trial (no group, e.g.
    while ``podium check`` imports a submission) the device is CUDA when there is one, as in AlgoPerf.
    """
    rank = int(os.environ.get("LOCAL_RANK", "0"))
    if dist.is_available() and dist.is_initialized():
        on_gpu = dist.get_backend() == "nccl"
    else:
        on_gpu = torch.cuda.is_available()
    device = torch.device(f"cuda:{rank}" if on_gpu else "cpu")
    return False, rank, device, torch.cuda.device_count()


def pytorch_init(use_pytorch_ddp: bool, rank: int, profiler: Any = None) -> None:
    """Does nothing: AlgoPerf's runner calls it to set up the process, and Podium's worker has already done so.

    (It would otherwise start the process group a second time, and change JAX and cuDNN settings that belong
    to the harness.)
    """
    del use_pytorch_ddp, rank, profiler


def sync_ddp_time(time: float, device: torch.device) -> float:
    """The largest ``time`` over the group's processes (there is one); ``time`` itself when no group runs."""
    if not (dist.is_available() and dist.is_initialized()):
        return time
    value = torch.tensor(time, dtype=torch.float64, device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return float(value.item())


def update_batch_norm_fn(module: nn.Module, update_batch_norm: bool) -> None:
    """Freeze (``False``) or restore (``True``) the running statistics of one batch-norm module.

    Meant for ``model.apply(functools.partial(update_batch_norm_fn, update_batch_norm=...))``: freezing sets the
    momentum to zero and keeps the original to restore; other modules are left alone.
    """
    if not isinstance(module, nn.modules.batchnorm._BatchNorm):
        return
    if not update_batch_norm:
        if not hasattr(module, "momentum_backup"):
            module.momentum_backup = module.momentum
        backup = module.momentum_backup
        module.momentum = torch.zeros_like(backup) if torch.is_tensor(backup) else 0.0
    elif hasattr(module, "momentum_backup"):
        module.momentum = module.momentum_backup


class CustomDropout(nn.Module):
    """Dropout whose rate is given at each call: ``layer(x, p)``."""

    def __init__(self) -> None:
        super().__init__()
        self._supports_custom_dropout = True

    def forward(self, x: torch.Tensor, p: float) -> torch.Tensor:
        return F.dropout(x, p, training=self.training)


class CustomDropout2d(CustomDropout):
    """Channel dropout whose rate is given at each call: ``layer(x, p)``."""

    def forward(self, x: torch.Tensor, p: float) -> torch.Tensor:
        return F.dropout2d(x, p, training=self.training)


class SequentialWithDropout(nn.Sequential):
    """``nn.Sequential`` that passes the call's dropout rate ``p`` to the layers that take one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._supports_custom_dropout = True

    def forward(self, x: torch.Tensor, p: float) -> torch.Tensor:
        for layer in self:
            x = layer(x, p) if getattr(layer, "_supports_custom_dropout", False) else layer(x)
        return x
