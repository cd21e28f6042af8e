"""A ViT-S/16-sized vision transformer trained from scratch on Imagenette (:mod:`workloads.imagenette.data`).

**Model** (:class:`ViT`): Hugging Face ``transformers``' ``ViTForImageClassification`` built from a ``ViTConfig``,
randomly initialised (nothing is downloaded): 128 x 128 images cut into 16 x 16 patches (64, and a class token),
12 pre-norm blocks of width 384 with 6 heads and a 1,536-unit GELU MLP (ViT-S), learned positions, and a linear head
on the class token's final state. 21.6 M parameters; 1.44 G multiply-adds a forward pass of an image (counted).
The ``transformers`` initialisation: N(0, 0.02) weights, the class token and positions included, biases 0, so the
logits start near zero and the loss near log(10).

Dropout sites (off unless ``init_model_fn`` sets a rate): ``dropout_rate`` on each residual branch's output and on
the attention probabilities, ``aux_dropout_rate`` on the embedded patches (with positions), as in the language
models.

``patch``: 16 for the base workload; the variant cuts 32 x 32 patches, 16 an image and a quarter of the tokens
(22.5 M parameters, the patch embedding being 4 times larger; 0.38 G multiply-adds an image).

**Data**: uint8 images normalised a batch at a time; training batches are augmented with a random shift of up to
:data:`AUGMENT_PAD` pixels and a left-right flip (:mod:`workloads.common.images`): on 8,469 training images a ViT
trained from scratch overfits quickly without some augmentation.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import ViTConfig, ViTForImageClassification

from harness.tracks.training import ParameterType
from workloads.common.data import preload, splits_from
from workloads.common.images import ImageEvaluator, ImageWorkload, build_images
from workloads.common.pytorch import DropoutModel
from workloads.imagenette.data import CLASSES, IMAGE_SIZE, MEAN, STD, load_splits
from workloads.spec import WorkloadSpec

#: pixels of zero padding around a training image before its random crop: 1/8 of the side, as CIFAR-10's 4 of 32
AUGMENT_PAD = 16
#: the float attributes ``transformers``' ViT attention reads its dropout rate from (5.x; 4.x), besides its modules
_ATTENTION_RATES = ("attention_dropout", "dropout_prob")
#: parameter name endings and their AlgoPerf types (``transformers`` 5.x names; 4.x names)
_TYPES = (
    (("embeddings.cls_token", "embeddings.position_embeddings"), ParameterType.EMBEDDING),
    (("attention.q_proj.weight", "attention.query.weight"), ParameterType.ATTENTION_Q),
    (("attention.k_proj.weight", "attention.key.weight"), ParameterType.ATTENTION_K),
    (("attention.v_proj.weight", "attention.value.weight"), ParameterType.ATTENTION_V),
    (("attention.o_proj.weight", "attention.output.dense.weight"), ParameterType.ATTENTION_OUT),
    (("q_proj.bias", "k_proj.bias", "v_proj.bias", "attention.query.bias", "attention.key.bias",
      "attention.value.bias"), ParameterType.ATTENTION_BIAS),
)


class ViT(DropoutModel):
    """``ViTForImageClassification`` (as ``net``) from a config: ``(B, 3, S, S)`` normalised images to ``(B, 10)``."""

    def __init__(self, image_size: int = IMAGE_SIZE, patch: int = 16, width: int = 384, depth: int = 12,
                 heads: int = 6, n_classes: int = len(CLASSES)) -> None:
        super().__init__()
        config = ViTConfig(image_size=image_size, patch_size=patch, num_channels=3, hidden_size=width,
                           num_hidden_layers=depth, num_attention_heads=heads, intermediate_size=4 * width,
                           hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, num_labels=n_classes)
        self.net = ViTForImageClassification(config)
        # the dropout sites (plain lists: not registered again as submodules)
        embedding = self.net.vit.embeddings.dropout
        self._dropouts = {"embedding": [embedding], "residual": [m for m in self.net.modules()
                                                                 if isinstance(m, nn.Dropout) and m is not embedding]}
        self._attention = [(m, a) for m in self.net.modules() for a in _ATTENTION_RATES
                           if isinstance(getattr(m, a, None), float)]
        self._rates = (0.0, 0.0)

    def _set_rates(self, rate: float, aux_rate: float) -> None:
        if (rate, aux_rate) != self._rates:
            for module in self._dropouts["residual"]:
                module.p = rate
            for module in self._dropouts["embedding"]:
                module.p = aux_rate
            for module, attribute in self._attention:
                setattr(module, attribute, rate)
            self._rates = (rate, aux_rate)

    def forward(self, x: torch.Tensor, dropout_rate: float | None = None) -> torch.Tensor:  # (B,3,S,S) -> (B,10)
        self._set_rates(self.rate(dropout_rate), self.aux_dropout_rate)
        return self.net(pixel_values=x).logits


class ViTWorkload(ImageWorkload):
    """:class:`ImageWorkload` with the vision transformer's output layer and parameter types."""

    def is_output_params(self, param_key: str) -> bool:
        return param_key.startswith("net.classifier.")

    def describe_parameters(self, model: nn.Module) -> None:
        """AlgoPerf's types, with the transformer's own: embeddings (class token, positions), Q, K, V, output."""
        super().describe_parameters(model)
        for name in self._param_types:
            for endings, kind in _TYPES:
                if name.endswith(endings):
                    self._param_types[name] = kind
                    break


def build(spec: WorkloadSpec, hardware_class: str, device: torch.device, patch: int = 16, width: int = 384,
          depth: int = 12, heads: int = 6) -> tuple[ViTWorkload, ImageEvaluator]:
    return build_images(spec, hardware_class, splits_from(load_splits),
                        lambda: ViT(IMAGE_SIZE, patch, width, depth, heads), device, MEAN, STD, pad=AUGMENT_PAD,
                        workload_class=ViTWorkload)


def warm() -> None:
    """Decode and resize Imagenette once in a fork server; the trials it forks reuse the arrays."""
    preload(load_splits)
