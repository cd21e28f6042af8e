"""The digits MLP in Flax (linen): the twin of :mod:`workloads.digits.pytorch.models`.

Same architecture (64-128-128-10, the variant's activation), same initialisation distributions (PyTorch's
``nn.Linear`` default: weights and biases uniform in +-1/sqrt(fan_in)), same dropout sites (``aux_dropout_rate`` on
the input, ``dropout_rate`` after every hidden activation). Parameter names follow the PyTorch model's module paths
(``body_0`` is ``body.0``), so that :func:`workloads.common.jax.torch_state_dict` maps a Flax parameter tree onto
the PyTorch twin's ``state_dict`` one to one (``tests/unit/test_jax_parity.py``).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from workloads.common.data import splits_from
from workloads.common.jax import JaxWorkload, dropout, torch_linear_init
from workloads.digits.data import load_splits
from workloads.spec import WorkloadSpec

ACTIVATIONS = {"relu": nn.relu, "tanh": jnp.tanh, "gelu": lambda x: nn.gelu(x, approximate=False)}
SIZES = (64, 128, 128, 10)


class MLP(nn.Module):
    """Fully connected layers of ``sizes``; ``dropout_rate`` and ``aux_dropout_rate`` as in the PyTorch twin."""

    sizes: tuple[int, ...] = SIZES
    activation: str = "relu"
    dropout_rate: float = 0.0
    aux_dropout_rate: float = 0.0

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False, dropout_rate: float | None = None) -> jax.Array:
        rate = self.dropout_rate if dropout_rate is None else dropout_rate
        h = dropout(self, x.reshape((x.shape[0], -1)), self.aux_dropout_rate, train)
        for i, (fan_in, fan_out) in enumerate(zip(self.sizes[:-2], self.sizes[1:-1])):
            h = nn.Dense(fan_out, name=f"body_{2 * i}", **self.dense_init(fan_in))(h)
            h = dropout(self, ACTIVATIONS[self.activation](h), rate, train)
        return nn.Dense(self.sizes[-1], name="head", **self.dense_init(self.sizes[-2]))(h)

    def dense_init(self, fan_in: int) -> dict:
        """A dense layer's initialisers (PyTorch's default)."""
        return torch_linear_init(fan_in)


def build(spec: WorkloadSpec, hardware_class: str, activation: str = "relu") -> JaxWorkload:
    return JaxWorkload(spec, hardware_class, splits_from(load_splits),
                       lambda **rates: MLP(SIZES, activation, **rates), input_shape=(SIZES[0],))

