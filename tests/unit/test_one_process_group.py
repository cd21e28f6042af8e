"""The trial's one-process ``torch.distributed`` group: when a failure's reason gets the world-size note, and the
group's set-up (run in a child interpreter: a process group and its environment variables are process-wide)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness.runner import distributed


@pytest.mark.parametrize("message", [
    "Invalid number of trainers per group: 8. Must be between [1, 1] or set to -1.",
    "expected world_size 8, got 1",
    "Default process group has not been initialized",
])
def test_a_topology_failure_gets_the_world_size_note(message: str) -> None:
    assert "torch.distributed has world size 1 and rank 0" in distributed.failure_note(ValueError(message))


@pytest.mark.parametrize("message", ["the matrix is rank deficient", "CUDA out of memory", ""])
def test_other_failures_get_no_note(message: str) -> None:
    assert distributed.failure_note(RuntimeError(message)) == ""


SETUP = """
import os, torch.distributed as dist
from harness.runner import distributed
distributed.start("cpu")
print(dist.is_initialized(), dist.get_world_size(), dist.get_rank(), dist.get_backend(),
      os.environ["RANK"], os.environ["WORLD_SIZE"], os.environ["LOCAL_RANK"], os.environ.get("GLOO_SOCKET_IFNAME"),
      "MASTER_PORT" in os.environ)
distributed.stop()
print(dist.is_initialized())
"""


def test_start_gives_a_world_size_one_gloo_group_on_loopback_and_stop_ends_it() -> None:
    out = subprocess.run([sys.executable, "-c", SETUP], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["True", "1", "0", "gloo", "0", "1", "0", "lo", "False", "False"]
