"""The harness-overhead benchmark runs end to end: both sides start, the harness side through the worker's real loop."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "step_overhead.py"


@pytest.mark.slow
@pytest.mark.parametrize("case", ["mlp", "lora"])
def test_a_tiny_run_goes_through_the_real_worker_loop(case: str) -> None:
    out = subprocess.run([sys.executable, str(SCRIPT), "--case", case, "--pairs", "2", "--round-seconds", "0.05",
                          "--threads", "1"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "ratio harness / bare, wall:" in out.stdout and "ratio harness / bare, CPU :" in out.stdout
