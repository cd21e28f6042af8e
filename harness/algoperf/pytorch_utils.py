"""AlgoPerf's ``pytorch_utils.pytorch_setup``: Podium trials are single-process, so DDP is always off."""

from __future__ import annotations


def pytorch_setup() -> tuple[bool, int, "object", int]:
    """Return ``(use_pytorch_ddp, rank, device, n_gpus)`` as AlgoPerf does, for one process on one device."""
    import torch

    device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    return False, 0, device, torch.cuda.device_count()
