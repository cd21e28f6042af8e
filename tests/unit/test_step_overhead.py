"""The harness-overhead benchmark's interval arithmetic (a tiny real run: tests/integration/test_bench_run.py)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "step_overhead.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("step_overhead", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_paired_ratio_is_the_geometric_mean_with_a_t_interval() -> None:
    # Log-ratios ln 1.1 and 2 ln 1.1: mean 1.5 ln 1.1, standard error ln(1.1) / 2, t(0.975, 1 df) = 12.7062.
    ratio, low, high, half = load_script().paired_ratio([1.1, 1.21], [1.0, 1.0])
    spread = 12.7062 * math.log(1.1) / 2
    assert ratio == pytest.approx(1.1**1.5)
    assert (low, high) == (pytest.approx(1.1**1.5 * math.exp(-spread), rel=1e-4),
                           pytest.approx(1.1**1.5 * math.exp(spread), rel=1e-4))
    assert half == pytest.approx(math.expm1(spread), rel=1e-4)


def test_paired_ratio_does_not_depend_on_the_common_speed_of_a_pair() -> None:
    """A pair slowed down as a whole (a co-tenant) moves both sides: the ratio does not see it."""
    ratio, low, high, half = load_script().paired_ratio([1.05, 10.5, 2.1], [1.0, 10.0, 2.0])
    assert ratio == pytest.approx(1.05) and low == pytest.approx(1.05) and high == pytest.approx(1.05)
    assert half == pytest.approx(0.0, abs=1e-12)
