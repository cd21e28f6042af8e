"""Registry lookups and stable seeds."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from harness.registry import Registry, UnknownNameError
from harness.tuning.seeds import derive_seed
from workloads import SUITES, WORKLOADS, get_spec, variants_of


def test_duplicate_name_is_an_error() -> None:
    registry = Registry[int]("thing")
    registry.add("a", 1)
    with pytest.raises(ValueError, match="duplicate thing 'a'"):
        registry.add("a", 2)


def test_miss_suggests_close_names() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'digits_mlp'"):
        get_spec("digit_mlp")


def test_lite_suite_and_variants() -> None:
    assert SUITES.get("lite") == ("digits_mlp", "fashion_mnist_mlp", "fashion_mnist_cnn", "tiny_lm",
                                  "minilm_rotten_tomatoes_ft")
    for base in SUITES.get("lite"):
        variants = variants_of(base)
        assert variants, f"{base} has no variant"
        for variant in variants:
            assert variant.builder_kwargs, "a variant must change something"
            assert variant.targets, "a variant has its own targets"


def test_specs_are_readable_without_a_framework() -> None:
    code = ("import sys, workloads; workloads.WORKLOADS.names(); "
            "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)")
    subprocess.run([sys.executable, "-c", code], check=True)


def lite_workloads() -> list[str]:
    """Every workload of every track's lite suite, with its variants: what `podium demo` and the CPU class score."""
    bases = [w for suite in SUITES.names() if suite.split("/")[-1] == "lite" for w in SUITES.get(suite)]
    return sorted({*bases, *(v.name for b in bases for v in variants_of(b))})


def test_every_lite_workload_has_targets_budget_and_provenance() -> None:
    names = lite_workloads()
    assert {"digits_mlp", "fashion_cnn_transfer", "fashion_cnn_transfer_reverse"} <= set(names)
    for name in names:
        spec = get_spec(name)
        targets = spec.targets_for("cpu-2core")
        if spec.metric == "perplexity":  # lower is better: at least 1, below a uniform guess over the vocabulary
            from workloads.tiny_lm.data import VOCAB_SIZE

            assert spec.family == "tiny_lm" and not spec.higher_is_better
            assert 1 <= targets.validation < VOCAB_SIZE and 1 <= targets.test < VOCAB_SIZE
        else:
            assert 0 < targets.test <= 1 and 0 < targets.validation <= 1
        assert spec.budget_for("cpu-2core") > 0 and spec.eval_period_s > 0 and spec.step_hint > 0
        assert targets.provenance.get("command", "").startswith("podium targets set")


def test_seeds_are_stable_across_processes_and_hash_seeds() -> None:
    code = "from harness.tuning.seeds import derive_seed; print(derive_seed('r', 'sub', 'w', 'tuning', 0, 3))"
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": str(h)}).stdout.strip() for h in (0, 1, 12345)}
    assert outputs == {str(derive_seed("r", "sub", "w", "tuning", 0, 3))}


def test_roles_give_different_seeds() -> None:
    tuning = {derive_seed("r", "s", "w", "tuning", 0, i) for i in range(100)}
    scoring = {derive_seed("r", "s", "w", "scoring", 0, i) for i in range(100)}
    assert not tuning & scoring and len(tuning) == 100
