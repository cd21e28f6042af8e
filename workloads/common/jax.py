"""JAX glue for classification workloads: the object a JAX submission receives (AlgoPerf's JAX workload interface),
and the bridge that lets the harness evaluate a Flax model with its PyTorch twin.

:class:`JaxWorkload` mirrors :class:`workloads.common.pytorch.TorchWorkload` with AlgoPerf's JAX names and shapes:
parameters and model state are pytrees, ``init_model_fn(rng)`` takes a JAX key and returns ``(params,
model_state)``, ``model_fn(params, batch, model_state, mode, rng, update_batch_norm)`` is pure, ``param_shapes`` and
``model_params_types`` are pytrees of the parameters' structure. It holds the training data only.

**One evaluator for both frameworks.** The harness does not evaluate a Flax model with Flax: a workload's Flax model
names its parameters after its PyTorch twin's module paths (``body_0`` is ``body.0``), so :func:`torch_state_dict`
turns a parameter tree (and batch-norm statistics) into the twin's ``state_dict``, and the same
:class:`workloads.common.pytorch.Evaluator`, on the same held-out data, in the same evaluation server, scores both
frameworks. A metric then cannot differ between frameworks by how it is computed; only by what was trained.
``tests/unit/test_jax_parity.py`` checks that the twin computes the same logits from the same weights.

**Initialisation.** PyTorch's layers draw weights and biases uniform in +-1/sqrt(fan_in)
(:func:`torch_linear_init`); the Flax twins draw from the same distributions (not the same numbers: the generators
differ), so initial losses agree within sampling noise (measured per workload in the parity test).

**Data order.** :meth:`JaxWorkload.input_queue` draws each epoch's permutation with the same generator as the
PyTorch twin's (``torch.randperm`` from ``seed``), so the two frameworks see the same batches in the same order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from harness.algoperf.spec import ShapeTuple
from harness.tracks.training import ForwardPassMode, LossType, ParameterType
from workloads.common.data import Splits
from workloads.common.interface import SpecAttributes
from workloads.common.pytorch import MetricsLogger
from workloads.spec import WorkloadSpec


def torch_linear_init(fan_in: int) -> dict[str, Callable[..., Any]]:
    """``kernel_init`` and ``bias_init`` for ``flax.linen.Dense``/``Conv`` drawing what PyTorch's ``nn.Linear`` and
    ``nn.Conv2d`` draw by default: uniform in +-1/sqrt(fan_in) for weights (``kaiming_uniform_(a=sqrt(5))``) and
    biases."""
    import jax

    bound = 1.0 / math.sqrt(fan_in)

    def uniform(key: Any, shape: tuple[int, ...], dtype: Any = None) -> Any:
        return jax.random.uniform(key, shape, dtype or jax.numpy.float32, -bound, bound)

    return {"kernel_init": uniform, "bias_init": uniform}


def dropout(module: Any, x: Any, rate: Any, train: bool) -> Any:
    """Inverted dropout at ``rate`` in a Flax module's ``__call__`` (its ``dropout`` RNG stream). A rate of 0 given
    as a number does nothing at all (no random numbers drawn, as in the PyTorch twins); a rate that is a traced value
    (AlgoPerf's JAX baselines pass ``dropout_rate`` into their jitted step) is applied as an array, which
    ``flax.linen.Dropout`` cannot do."""
    import jax
    import jax.numpy as jnp

    if not train or (isinstance(rate, (int, float)) and rate == 0):
        return x
    keep = 1.0 - jnp.asarray(rate, x.dtype)
    mask = jax.random.bernoulli(module.make_rng("dropout"), keep, x.shape)
    return jnp.where(mask, x / keep, jnp.zeros_like(x))


def flat_paths(tree: Any) -> dict[str, Any]:
    """``{"body_0/kernel": leaf, ...}``: a nested dict's leaves by slash-joined path."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) or hasattr(value, "items"):
            out.update({f"{key}/{k}": v for k, v in flat_paths(value).items()})
        else:
            out[str(key)] = value
    return out


#: Flax leaf name -> PyTorch parameter or buffer name
_LEAVES = {"kernel": "weight", "bias": "bias", "scale": "weight", "embedding": "weight", "mean": "running_mean",
           "var": "running_var"}


def torch_name(path: str) -> str:
    """The PyTorch twin's ``state_dict`` key of a Flax leaf: ``body_0/kernel`` -> ``body.0.weight``.

    >>> torch_name("body_0/kernel"), torch_name("head/bias"), torch_name("features_1/var")
    ('body.0.weight', 'head.bias', 'features.1.running_var')
    """
    *modules, leaf = path.split("/")
    parts = []
    for module in modules:
        head, _, index = module.rpartition("_")
        parts += [head, index] if head and index.isdigit() else [module]
    return ".".join([*parts, _LEAVES.get(leaf, leaf)])


def torch_state_dict(params: Any, model_state: Any = None) -> dict[str, Any]:
    """A Flax parameter tree (and ``batch_stats`` in ``model_state``) as the PyTorch twin's ``state_dict``: dense
    kernels ``(in, out)`` become weights ``(out, in)``, convolution kernels ``HWIO`` become ``OIHW``."""
    import torch

    out = {}
    trees = [params] + ([model_state["batch_stats"]] if model_state and "batch_stats" in model_state else [])
    for tree in trees:
        for path, leaf in flat_paths(tree).items():
            array = np.asarray(leaf, dtype=np.float32)
            if path.endswith("kernel"):
                array = array.T if array.ndim == 2 else array.transpose(3, 2, 0, 1)
            out[torch_name(path)] = torch.from_numpy(np.array(array, order="C"))  # a writable copy
            if path.endswith("/mean"):  # PyTorch's batch norm counts its batches (unused with a set momentum)
                out[torch_name(path).removesuffix("running_mean") + "num_batches_tracked"] = torch.tensor(0)
    return out


class JaxWorkload(SpecAttributes):
    """The workload as a JAX submission sees it (AlgoPerf's JAX interface). Only training data is reachable here.

    ``model_factory(dropout_rate=..., aux_dropout_rate=...)`` returns the workload's ``flax.linen`` module, whose
    ``__call__(x, train, dropout_rate=None)`` gives logits.
    """

    loss_type = LossType.SOFTMAX_CROSS_ENTROPY
    framework = "jax"

    def __init__(self, spec: WorkloadSpec, hardware_class: str, splits: Splits,
                 model_factory: Callable[..., Any], input_shape: tuple[int, ...]) -> None:
        self.spec, self.hardware_class = spec, hardware_class
        self._train_y = np.asarray(splits.train_y, dtype=np.int32)
        self._train_x = np.asarray(splits.train_x, dtype=np.float32).reshape(len(self._train_y), *input_shape)
        self._held_out_sizes = {k: v for k, v in splits.sizes().items() if k != "train"}
        self._model_factory, self.input_shape = model_factory, input_shape
        self._model: Any = None
        self._param_shapes: Any = None
        self._param_types: Any = None
        self.metrics_logger = MetricsLogger()

    # ---- AlgoPerf attributes (the rest: SpecAttributes) -------------------------------------------------------
    def is_output_params(self, param_key: str) -> bool:
        return param_key.startswith("head")

    # ---- model, loss --------------------------------------------------------------------------------------------
    def init_model_fn(self, rng: Any, dropout_rate: float | None = None,
                      aux_dropout_rate: float | None = None) -> tuple[Any, Any]:
        """``(params, model_state)`` drawn from the JAX key ``rng``; the model state holds batch-norm statistics
        (``{}`` for a model without)."""
        import jax
        import jax.numpy as jnp

        self._model = self._model_factory(dropout_rate=float(dropout_rate or 0.0),
                                          aux_dropout_rate=float(aux_dropout_rate or 0.0))
        variables = self._model.init({"params": rng}, jnp.zeros((1, *self.input_shape), jnp.float32), train=False)
        variables = dict(variables)
        params = variables.pop("params")
        self._param_shapes = jax.tree_util.tree_map(lambda a: ShapeTuple(tuple(a.shape)), params)
        self._param_types = parameter_types(params, variables.get("batch_stats", {}))
        return params, variables

    def model_fn(self, params: Any, augmented_and_preprocessed_input_batch: dict[str, Any], model_state: Any,
                 mode: ForwardPassMode, rng: Any, update_batch_norm: bool,
                 dropout_rate: float | None = None) -> tuple[Any, Any]:
        """Forward pass: ``(logits, new_model_state)``. Pure: traceable under ``jax.jit``. Batch-norm statistics
        are updated only in train mode with ``update_batch_norm``."""
        if self._model is None:
            raise RuntimeError("model_fn needs the model: call init_model_fn first")
        train = mode == ForwardPassMode.TRAIN
        variables = {"params": params, **(model_state or {})}
        mutable = ["batch_stats"] if train and update_batch_norm and "batch_stats" in variables else False
        rngs = {"dropout": rng} if train else {}
        out = self._model.apply(variables, augmented_and_preprocessed_input_batch["inputs"], train=train,
                                dropout_rate=dropout_rate, rngs=rngs, mutable=mutable)
        if mutable:
            logits, updates = out
            return logits, {**model_state, **updates}
        return out, model_state

    def loss_fn(self, label_batch: Any, logits_batch: Any, mask_batch: Any = None,
                label_smoothing: float = 0.0) -> dict[str, Any]:
        """Softmax cross-entropy with integer labels: ``summed``, ``n_valid_examples``, ``per_example``
        (AlgoPerf's)."""
        import jax
        import jax.numpy as jnp

        classes = logits_batch.shape[-1]
        one_hot = jax.nn.one_hot(label_batch, classes)
        smoothed = one_hot * (1.0 - label_smoothing) + label_smoothing / classes
        per_example = -jnp.sum(smoothed * jax.nn.log_softmax(logits_batch), axis=-1)
        if mask_batch is not None:
            per_example = per_example * mask_batch
            n_valid = mask_batch.sum()
        else:
            n_valid = jnp.asarray(per_example.shape[0], per_example.dtype)
        summed = per_example.sum()
        return {"summed": summed, "n_valid_examples": n_valid, "per_example": per_example}

    # ---- data ---------------------------------------------------------------------------------------------------
    def input_queue(self, batch_size: int, seed: int) -> Iterator[dict[str, Any]]:
        """Infinite, shuffled-per-epoch batches as JAX arrays, in the PyTorch twin's order (the last partial batch
        of an epoch is dropped)."""
        import jax.numpy as jnp
        import torch

        if batch_size < 1 or batch_size > self.num_train_examples:
            raise ValueError(f"batch size {batch_size} is outside [1, {self.num_train_examples}] for {self.name}")
        generator = torch.Generator().manual_seed(seed)
        n = self.num_train_examples
        while True:
            order = torch.randperm(n, generator=generator).numpy()
            for start in range(0, n - batch_size + 1, batch_size):
                idx = order[start:start + batch_size]
                yield {"inputs": jnp.asarray(self._train_x[idx]), "targets": jnp.asarray(self._train_y[idx])}


def parameter_types(params: Any, batch_stats: Any = None) -> Any:
    """AlgoPerf's :class:`ParameterType` for each leaf of a Flax parameter tree, from its leaf name and whether its
    module keeps batch statistics (a batch norm; other modules with a ``scale`` are layer norms).

    >>> parameter_types({"features_1": {"scale": 0, "bias": 0}, "head": {"kernel": 0}}, {"features_1": {"mean": 0}})
    {'features_1': {'scale': <ParameterType.BATCH_NORM_SCALE: 3>, 'bias': <ParameterType.BATCH_NORM_BIAS: 4>}, \
'head': {'kernel': <ParameterType.WEIGHT: 0>}}
    """
    norms = {path.rsplit("/", 1)[0] for path in flat_paths(batch_stats or {})}

    def kind(path: str, leaf: Any) -> ParameterType:
        module, _, name = path.rpartition("/")
        if module in norms:
            return ParameterType.BATCH_NORM_SCALE if name == "scale" else ParameterType.BATCH_NORM_BIAS
        if name == "scale":
            return ParameterType.LAYER_NORM_SCALE
        if name == "bias" and f"{module}/scale" in flat:
            return ParameterType.LAYER_NORM_BIAS
        if name == "bias":
            return ParameterType.BIAS
        if name == "embedding":
            return ParameterType.EMBEDDING
        return ParameterType.CONV_WEIGHT if getattr(leaf, "ndim", 2) == 4 else ParameterType.WEIGHT

    flat = flat_paths(params)

    def walk(tree: Any, prefix: str) -> Any:
        return {k: walk(v, f"{prefix}{k}/") if hasattr(v, "items") else kind(f"{prefix}{k}", v)
                for k, v in tree.items()}

    return walk(params, "")
