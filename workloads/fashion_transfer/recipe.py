"""The pretraining recipes of the Fashion-MNIST transfer family and the weights they must reproduce. No framework.

Podium pretrains the CNN itself (:mod:`workloads.fashion_transfer.pytorch.pretrained`) rather than downloading it:
a recipe below fixes everything that decides the weights (source classes, seed, schedule), and
:data:`WEIGHTS_SHA256` records the sha256 of the safetensors file the recipe produced when this release was made.
A cached file with another hash is rejected and rebuilt; a rebuild that does not reproduce the recorded hash bit for
bit is an error, never silently accepted.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Recipe:
    """How one pretrained CNN is made: Adam on the source classes' training images, labels in ``source_classes``
    order, shuffled by a generator seeded with ``seed``, ``epochs`` passes of ``batch_size`` (last partial batch
    dropped), one CPU thread, deterministic algorithms. ``max_steps`` (None: no cap) exists for tests' tiny recipes."""

    source_classes: tuple[int, ...]
    seed: int
    epochs: int = 2
    batch_size: int = 128
    learning_rate: float = 1e-3
    max_steps: int | None = None
    architecture: str = "TransferCNN conv16-conv32-fc128-fc128"

    def as_dict(self) -> dict:
        return {**asdict(self), "source_classes": list(self.source_classes)}

    @property
    def digest(self) -> str:
        """A short hash of the recipe: a changed recipe gets a new cache file instead of fighting over the old one."""
        payload = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.blake2b(payload.encode(), digest_size=6).hexdigest()

    @property
    def name(self) -> str:
        """Cache file stem, e.g. ``fashion_cnn_src01234_<digest>``."""
        return f"fashion_cnn_src{''.join(map(str, self.source_classes))}_{self.digest}"


#: source classes -> recipe. Classes 0-4: T-shirt/top, trouser, pullover, dress, coat; 5-9: sandal, shirt, sneaker,
#: bag, ankle boot.
RECIPES: dict[tuple[int, ...], Recipe] = {
    (0, 1, 2, 3, 4): Recipe(source_classes=(0, 1, 2, 3, 4), seed=20_251_201),
    (5, 6, 7, 8, 9): Recipe(source_classes=(5, 6, 7, 8, 9), seed=20_251_202),
}

#: The compression track's dense Fashion-MNIST CNN (issue 12's ``fashion_cnn_compress``): the same CNN and recipe
#: on all ten classes. Kept out of :data:`RECIPES`, which the transfer workloads' fork-server warm-up pretrains.
DENSE_RECIPES: dict[tuple[int, ...], Recipe] = {
    tuple(range(10)): Recipe(source_classes=tuple(range(10)), seed=20_251_203),
}

#: recipe name -> sha256 of the safetensors file it produced (torch 2.13 CPU, x86-64). See the module docstring.
WEIGHTS_SHA256: dict[str, str] = {
    # source validation accuracy 0.902 (2,539 images), test 0.904; 428 Adam steps, ~26 s on one core
    "fashion_cnn_src01234_c2f70064719d": "895dff8f69316cafd536b94bb26b4c82ce49cf23bbe91261864bbb2fed670673",
    # source validation accuracy 0.951, test 0.947; 430 Adam steps, ~29 s on one core
    "fashion_cnn_src56789_8ba8400c22bc": "8a62dceb6f3d0592f209b30f83db9049e06a355dabe59ebecfb517851678205d",
    # all ten classes (the compression track's dense model): validation accuracy 0.885, test 0.887; 858 Adam steps,
    # ~47 s on one core
    "fashion_cnn_src0123456789_9be46cd0b989": "ed5f9b07c9439bab15a46b41d14a5aea27d02ebdd1799b13387b4477824a7b91",
}


class UnknownRecipeError(KeyError):
    """No pretraining recipe (hence no recorded weights) for these source classes."""


def recipe_for(source_classes: tuple[int, ...]) -> Recipe:
    try:
        return {**RECIPES, **DENSE_RECIPES}[tuple(source_classes)]
    except KeyError:
        raise UnknownRecipeError(
            f"no pretraining recipe for source classes {tuple(source_classes)}; recipes exist for "
            f"{', '.join(map(str, RECIPES))}. Add one to workloads/fashion_transfer/recipe.py with its recorded hash."
        ) from None


#: the hashes the same recipes produce on a second CPU kernel family: an AMD EPYC with AVX-512 (torch 2.13.0+cpu),
#: where each recipe reproduces its own bytes bit for bit run after run but rounds differently from the machine
#: :data:`WEIGHTS_SHA256` was recorded on (`python -m workloads.fashion_transfer.pytorch.pretrained 0,1,2,3,4
#: --dry-run` prints a recipe's hash and accuracies: there, source validation accuracy 0.902 and 0.950, test 0.906 and
#: 0.947, for the two transfer sources)
OTHER_CPU_SHA256: dict[str, tuple[str, ...]] = {
    "fashion_cnn_src01234_c2f70064719d": ("72df9918f33dd97a3cbba080f2634ee6e5f27cb13f63329fcdf4c9bdffae3e80",),
    "fashion_cnn_src56789_8ba8400c22bc": ("aa626f47eb9cd823957a68403e8089b9f6821a9eaf9aef2cfaf4cadf277d100d",),
    "fashion_cnn_src0123456789_9be46cd0b989": ("45721ecc2f606435d0f0c3bd77cf3f65266d6a7566c0ab91925938ffcc8587f8",),
}


def recorded_sha256(recipe: Recipe) -> tuple[str, ...]:
    """The hashes a rebuild of ``recipe`` may have: the release's recorded one first, then those of the other CPU
    kernel families it was made on (:data:`OTHER_CPU_SHA256`)."""
    try:
        return (WEIGHTS_SHA256[recipe.name], *OTHER_CPU_SHA256.get(recipe.name, ()))
    except KeyError:
        raise UnknownRecipeError(f"recipe {recipe.name} has no recorded weights hash in "
                                 "workloads/fashion_transfer/recipe.py:WEIGHTS_SHA256") from None
