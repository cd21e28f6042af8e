"""The workload registry and suites.

Each family folder (``workloads/<family>/``) has a ``spec.py`` that declares its workloads with
:func:`register` and imports no framework, so listing workloads or reading a target is instant. A family's
``pytorch/`` folder is imported only by the trial worker, through the spec's ``builder`` path.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from pathlib import Path

from harness.registry import Registry
from workloads.spec import DEFAULT_HARDWARE_CLASS, Targets, WorkloadSpec

TARGETS_FILE = Path(__file__).with_name("targets.json")


def _discover() -> None:
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if info.ispkg and (Path(__file__).parent / info.name / "spec.py").exists():
            importlib.import_module(f"workloads.{info.name}.spec")


WORKLOADS: Registry[WorkloadSpec] = Registry("workload", loader=_discover)

#: Suites group workloads, per track: the training track's are registered under their plain name (``lite``), another
#: track's as ``<track>/<suite>`` (``peft/lite``); :func:`suite_key` maps one to the other. ``lite`` is what
#: ``podium demo`` runs: minutes on a 2-core CPU. ``full`` adds what needs a GPU hardware class.
SUITES: Registry[tuple[str, ...]] = Registry("suite")
# tiny_lm's targets (cpu-2core, 2026-12-03): `podium targets set -w tiny_lm -w tiny_lm_deep -w tiny_lm_short_context
# --baseline adamw --seeds 10 --workers 2`, budgets re-measured with --budgets-only on an idle machine (README says
# why adamw alone). minilm_rotten_tomatoes_ft's (2026-12-03): `podium targets set -w minilm_rotten_tomatoes_ft -w
# minilm_rotten_tomatoes_ft_frozen --baseline adamw --point adamw=4 --seeds 10 --workers 2` on an idle machine.
SUITES.add("lite", ("digits_mlp", "fashion_mnist_mlp", "fashion_mnist_cnn", "tiny_lm", "minilm_rotten_tomatoes_ft"))
# The full suite: AlgoPerf-like workloads for GPU hardware classes (gpu-h100: a ResNet-18 on CIFAR-10, a
# GPT-2-small-sized LM on WikiText-103, a ViT-S/16 on Imagenette; data through `datasets` from the hub). Their budgets
# are placeholders and their targets unset until `podium targets set --hardware-class gpu-h100` runs there; `podium
# agreement` compares a submission pool's lite and full rankings.
SUITES.add("full", ("cifar10_resnet18", "wikitext103_gpt2", "imagenette_vit"))
# minilm_rotten_tomatoes and its low-data variant have cpu-2core targets (2026-12-01: `podium targets set --workload
# NAME --baseline full_finetune [--baseline lora] --point full_finetune=2 --seeds 10 --workers 2`). The default
# fashion_cnn_regroup's: `podium targets set --workload fashion_cnn_regroup --workload fashion_cnn_regroup_pairs
# --seeds 10 --workers 2` (2026-12-02, every PEFT baseline). The default `podium demo` runs the two Fashion-MNIST
# workloads of this suite (harness/demo.py says why); `--track peft` runs it all.
SUITES.add("peft/lite", ("fashion_cnn_transfer", "fashion_cnn_regroup", "minilm_rotten_tomatoes"))
SUITES.add("peft/full", ("minilm_rotten_tomatoes", "fashion_cnn_transfer", "fashion_cnn_regroup", "smollm2_sentiment"))
# Each model has two base workloads, one per goal (bytes on disk, batch-1 latency): workloads.fashion_compress.spec
# says why they are not a base and its held-out variant. The MiniLM pair's cpu-2core targets (2026-12-02: `podium
# targets set --workload minilm_sentiment_compress --workload minilm_sentiment_compress_latency --seeds 10 --baseline
# dynamic_int8 --baseline obs_prune --baseline structured_prune --point obs_prune=3 --point structured_prune=2`, about
# two hours on an idle 2-core machine) are set by structured pruning; the default `podium demo` runs the CNN's pair
# only (harness/demo.py says why), `--track compression` runs all four.
SUITES.add("compression/lite", ("fashion_cnn_compress", "fashion_cnn_compress_latency", "minilm_sentiment_compress",
                                "minilm_sentiment_compress_latency"))
SUITES.add("compression/full", ("fashion_cnn_compress", "fashion_cnn_compress_latency", "minilm_sentiment_compress",
                                "minilm_sentiment_compress_latency", "smollm2_compress", "smollm2_compress_latency"))
TRACKS = ("training", "peft", "compression")


def suite_key(suite: str, track: str = "training") -> str:
    """The registry name of a track's suite.

    >>> suite_key("lite"), suite_key("lite", "peft"), suite_key("peft/lite", "peft")
    ('lite', 'peft/lite', 'peft/lite')
    """
    if track == "training" or suite.startswith(f"{track}/"):
        return suite
    return f"{track}/{suite}"


def load_targets(path: Path = TARGETS_FILE) -> dict[str, dict[str, Targets]]:
    """Read ``targets.json``: ``{workload: {hardware_class: Targets}}``."""
    if not path.exists():
        return {}
    raw = json.loads(path.read_text())
    return {
        name: {hw: Targets.model_validate(t) for hw, t in per_hw.items()}
        for name, per_hw in raw.get("workloads", {}).items()
    }


def register(spec: WorkloadSpec) -> WorkloadSpec:
    """Register a workload spec, attaching its stored targets."""
    targets = load_targets().get(spec.name, {})
    budgets = {hw: t.budget_s for hw, t in targets.items() if t.budget_s is not None}
    spec = spec.model_copy(update={"targets": {**spec.targets, **targets}, "budget_s": {**spec.budget_s, **budgets}})
    WORKLOADS.add(spec.name, spec)
    return spec


def get_spec(name: str) -> WorkloadSpec:
    return WORKLOADS.get(name)


def suite_workloads(suite: str, track: str = "training") -> list[WorkloadSpec]:
    """Base workloads of a track's suite, in suite order."""
    return [WORKLOADS.get(name) for name in SUITES.get(suite_key(suite, track))]


def variants_of(base: str) -> list[WorkloadSpec]:
    return [WORKLOADS.get(n) for n in WORKLOADS.names() if WORKLOADS.get(n).base == base]


def variant_bases() -> dict[str, str]:
    """Every variant and the base workload it stands in for when scoring."""
    return {n: WORKLOADS.get(n).base for n in WORKLOADS.names() if WORKLOADS.get(n).base}


def scored_workloads(suite: str, release: str, per_base: int = 1, track: str = "training",
                     secret: str | None = None) -> tuple[str, ...]:
    """A suite's base workloads followed by the held-out variants scored in ``release``.

    The variants are drawn reproducibly per release (``harness.scoring.choose_scoring_variants``); with the
    release's ``secret`` (``harness.release``: committed to before submissions close, revealed in the bundle) nobody
    can compute them in advance. The draw is recorded in every run plan and bundle.
    """
    from harness.scoring import choose_scoring_variants

    bases = SUITES.get(suite_key(suite, track))
    chosen = choose_scoring_variants({b: [v.name for v in variants_of(b)] for b in bases}, release, per_base,
                                     secret)
    return (*bases, *(v for b in bases for v in chosen.get(b, [])))


__all__ = [
    "DEFAULT_HARDWARE_CLASS", "SUITES", "TRACKS", "WORKLOADS", "Targets", "WorkloadSpec",
    "get_spec", "load_targets", "register", "scored_workloads", "suite_key", "suite_workloads", "variant_bases",
    "variants_of",
]
