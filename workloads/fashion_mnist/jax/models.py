"""Fashion-MNIST's models in Flax (linen): the twins of :mod:`workloads.fashion_mnist.pytorch.models`.

Parameter names follow the PyTorch modules' paths (``features_0`` is ``features.0``), so that
:func:`workloads.common.jax.torch_state_dict` maps them one to one. The CNN takes the same NCHW batches as its
PyTorch twin and works in NHWC inside (Flax's layout); it flattens its features in PyTorch's (C, H, W) order, so the
fully connected layer's weights mean the same thing in both. Batch norm: PyTorch's momentum 0.1 is Flax's 0.9,
eps 1e-5 in both; PyTorch's running variance is updated with the unbiased batch variance and Flax's with the biased
one, a factor n/(n-1) with n = 128 x 28 x 28 examples-pixels (1.00001).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from workloads.common.data import splits_from
from workloads.common.jax import JaxWorkload, dropout, torch_linear_init
from workloads.digits.jax.models import MLP
from workloads.fashion_mnist.data import load_splits
from workloads.spec import WorkloadSpec

MLP_SIZES = (784, 256, 128, 10)


class CNN(nn.Module):
    """Two conv blocks (3x3 conv, optional batch norm, ReLU, 2x2 max pool) and a fully connected layer; dropout as
    in the PyTorch twin (``dropout_rate`` before the head, ``aux_dropout_rate`` on the input image)."""

    norm: str | None = None
    dropout_rate: float = 0.0
    aux_dropout_rate: float = 0.0

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False, dropout_rate: float | None = None) -> jax.Array:
        rate = self.dropout_rate if dropout_rate is None else dropout_rate
        h = jnp.transpose(dropout(self, x, self.aux_dropout_rate, train), (0, 2, 3, 1))  # NCHW -> NHWC
        index = 0
        for c_in, c_out in ((1, 8), (8, 16)):
            h = nn.Conv(c_out, (3, 3), padding=1, name=f"features_{index}", **torch_linear_init(c_in * 9))(h)
            index += 1
            if self.norm == "batch":
                h = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                                 name=f"features_{index}")(h)
                index += 1
            h = nn.max_pool(nn.relu(h), (2, 2), strides=(2, 2))
            index += 2  # ReLU and MaxPool2d hold no parameters
        h = jnp.transpose(h, (0, 3, 1, 2)).reshape((h.shape[0], -1))  # PyTorch's flatten order: (C, H, W)
        h = nn.relu(nn.Dense(64, name="body_1", **torch_linear_init(16 * 7 * 7))(h))
        h = dropout(self, h, rate, train)
        return nn.Dense(10, name="head", **torch_linear_init(64))(h)


def xavier_normal() -> dict:
    """What ``workloads.fashion_mnist.pytorch.models.xavier_normal_`` draws: weights normal with variance
    2 / (fan_in + fan_out) (not truncated), biases zero."""
    return {"kernel_init": nn.initializers.variance_scaling(1.0, "fan_avg", "normal"),
            "bias_init": nn.initializers.zeros}


class XavierMLP(MLP):
    """The MLP with :func:`xavier_normal` initialisation."""

    def dense_init(self, fan_in: int) -> dict:
        return xavier_normal()


def build_mlp(spec: WorkloadSpec, hardware_class: str, init: str = "default") -> JaxWorkload:
    model = XavierMLP if init == "xavier_normal" else MLP
    return JaxWorkload(spec, hardware_class, splits_from(load_splits),
                       lambda **rates: model(MLP_SIZES, "relu", **rates), input_shape=(MLP_SIZES[0],))


def build_cnn(spec: WorkloadSpec, hardware_class: str, norm: str | None = None) -> JaxWorkload:
    return JaxWorkload(spec, hardware_class, splits_from(load_splits), lambda **rates: CNN(norm, **rates),
                       input_shape=(1, 28, 28))
