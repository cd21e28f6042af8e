"""Declarative workload specifications: readable without importing any ML framework.

A :class:`WorkloadSpec` fixes everything about a workload that affects a score: the data and its revision, the
model (by builder path), the metric and targets, the runtime budget per hardware class, the evaluation period and
the step hint. Targets are not typed in by hand: they live in ``workloads/targets.json`` with their provenance and
are written by ``podium targets set`` (see :mod:`harness.targets`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

HardwareClass = Literal["cpu-2core", "gpu-h100"]
DEFAULT_HARDWARE_CLASS: HardwareClass = "cpu-2core"


class CompressionGoal(BaseModel):
    """What a compression workload asks of a compressed model besides its quality floor.

    ``measure`` names the ratio to the dense model that must be at most the target (``Targets.compression_ratio``,
    set by ``podium targets set``): ``bytes_ratio`` (deflated bytes on disk) or ``latency_ratio`` (batch-1 p50
    latency on pinned threads). ``floor_fraction`` is the quality floor as a fraction of the dense model's
    validation (and test) metric, MLPerf-style: 0.99 keeps 99% of the dense model's accuracy. ``latency_runs`` is the
    fixed number of timed batch-1 passes of each model in a latency measurement (after warm-up): enough passes that the
    interleaved ratio's own noise stays under 2% (``python benchmarks/latency_noise.py --runs N``): a MiniLM pass
    takes ~26 ms and 50 do; a CNN pass takes ~0.5 ms, and 50 of them (25 ms) leave the ratio at a 3.5-4.7% coefficient
    of variation on this VM where 500 leave 0.6%.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    measure: Literal["bytes_ratio", "latency_ratio"]
    floor_fraction: float = Field(0.99, gt=0.0, le=1.0)
    latency_runs: int = Field(50, ge=10)


class Targets(BaseModel):
    """Validation and test targets for one workload on one hardware class, with how they were made."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    validation: float
    test: float
    #: the runtime budget the procedure measured (``BUDGET_FACTOR`` x the reference's time to the target); when
    #: present it replaces the workload's declared budget for this hardware class.
    budget_s: float | None = None
    #: compression workloads: the largest ratio to the dense model (of the workload's ``compression.measure``) that
    #: meets the target; ``validation`` and ``test`` are then the quality floors.
    compression_ratio: float | None = None
    provenance: dict[str, Any] = Field(default_factory=dict)


class WorkloadSpec(BaseModel):
    """Everything that defines a workload. Crosses process boundaries (trial requests), hence pydantic.

    Attributes:
        name: registry key, e.g. ``fashion_mnist_mlp``.
        family: the folder under ``workloads/`` that implements it.
        track: the track whose submissions run on it (``training``, ``peft``, ``compression``); pools and scores are
            per track.
        base: for a variant, the name of the base workload it stands in for when scoring; None for a base workload.
        builder: ``module:function`` returning ``(TorchWorkload, Evaluator)``; imported only inside a trial worker.
        builder_kwargs: arguments for the builder (what makes a variant different: activation, init, norm...).
        jax_builder: ``module:function`` returning the workload's JAX twin (:class:`workloads.common.jax.JaxWorkload`)
            from the same arguments, for a workload offered in JAX too (:attr:`frameworks`). The twin computes what
            the PyTorch model computes (``tests/unit/test_jax_parity.py``), and both are evaluated by the PyTorch
            builder's evaluator, so it is a second implementation of the same definition: it is not part of the
            spec's hash, and the results of both frameworks share a pool (each trial records its framework).
        data_revision: content hash of the dataset files (checksum-verified at load time).
        metric: name of the validation/test metric; ``higher_is_better`` says which way is good.
        budget_s: runtime budget (submission seconds) per hardware class.
        eval_period_s: submission seconds between evaluations.
        step_hint: the number of steps a reasonable schedule should plan for (AlgoPerf's ``step_hint``).
        targets: per hardware class; filled from ``targets.json``.
        compression: for a compression workload, the ratio its target bounds and its quality floor's fraction.
        target_fraction: the validation target as a fraction of the level the best baseline sustains on 90% of its
            seeds (:mod:`harness.targets`). 1 (the default, as AlgoPerf): that level itself. Below 1 for a workload
            whose question is "how fast does a method get *near* the best quality", as a compression floor is
            (``fashion_cnn_regroup``: 0.99).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    family: str
    description: str
    track: str = "training"
    base: str | None = None
    builder: str
    builder_kwargs: dict[str, Any] = Field(default_factory=dict)
    jax_builder: str | None = None
    dataset: str
    data_revision: str
    model: str
    metric: str = "accuracy"
    higher_is_better: bool = True
    budget_s: dict[str, float]
    eval_period_s: float
    step_hint: int
    targets: dict[str, Targets] = Field(default_factory=dict)
    compression: CompressionGoal | None = None
    target_fraction: float = Field(1.0, gt=0.0, le=1.0)

    @property
    def is_variant(self) -> bool:
        return self.base is not None

    @property
    def frameworks(self) -> tuple[str, ...]:
        """The frameworks a submission may be written in for this workload."""
        return ("pytorch", "jax") if self.jax_builder else ("pytorch",)

    def budget_for(self, hardware_class: str) -> float:
        try:
            return self.budget_s[hardware_class]
        except KeyError:
            raise KeyError(
                f"workload {self.name!r} has no budget for hardware class {hardware_class!r}; "
                f"it has budgets for: {', '.join(sorted(self.budget_s))}"
            ) from None

    def targets_for(self, hardware_class: str) -> Targets:
        try:
            return self.targets[hardware_class]
        except KeyError:
            raise KeyError(
                f"workload {self.name!r} has no targets for hardware class {hardware_class!r}; "
                f"run `podium targets set --workload {self.name} --hardware-class {hardware_class}`"
            ) from None

    def meets(self, value: float, target: float) -> bool:
        """Whether a metric value meets a target, respecting the metric's direction.

        >>> spec = WorkloadSpec.model_construct(higher_is_better=True)
        >>> spec.meets(0.91, 0.9), spec.meets(0.89, 0.9)
        (True, False)
        """
        return value >= target if self.higher_is_better else value <= target

    def hash_payload(self) -> dict[str, Any]:
        """The spec as JSON for hashing. Fields added after the first release are left out while at their default,
        so a workload that does not use them keeps the hash (and the stored results and kept curves) it had before
        them."""
        return without_later_defaults(self.model_dump(mode="json"))

    def spec_hash(self) -> str:
        """Stable hash of everything that defines the workload (results are keyed by it, so stale ones show)."""
        payload = json.dumps(self.hash_payload(), sort_keys=True, separators=(",", ":"))
        return hashlib.blake2b(payload.encode(), digest_size=12).hexdigest()


def without_later_defaults(spec: dict[str, Any]) -> dict[str, Any]:
    """A workload spec's JSON (or part of it) without the fields added after the first release where a workload
    leaves them at their default (the compression fields, ``target_fraction`` at 1): the hashes and bundles of the
    workloads that do not use them stay what they were."""
    if spec.get("compression", 0) is None:
        del spec["compression"]
    if spec.get("target_fraction", 0) == 1.0:
        del spec["target_fraction"]
    spec.pop("jax_builder", None)  # a second implementation of the same definition (see WorkloadSpec)
    for targets in spec.get("targets", {}).values():
        if targets.get("compression_ratio", 0) is None:
            del targets["compression_ratio"]
    return spec
