"""AlgoPerf's ``param_utils`` for PyTorch: parameter shapes, and parameter types guessed from parameter names.

Podium's workloads already hand a submission ``workload.param_shapes`` and ``workload.model_params_types`` (the
latter read from the module that owns each parameter, which is exact). These functions are for submissions that
compute them themselves, and follow AlgoPerf's naming rules so that they give the same answers as AlgoPerf's.
``jax_param_shapes`` and ``jax_param_types`` do the same for a JAX submission's parameter tree (AlgoPerf's rules
for Flax module paths; keys lower-cased, as AlgoPerf's are).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from harness.algoperf.spec import ParameterType, ShapeTuple

__all__ = ["jax_param_shapes", "jax_param_types", "pytorch_param_shapes", "pytorch_param_types"]


def pytorch_param_shapes(model: nn.Module) -> dict[str, ShapeTuple]:
    """Each named parameter's shape."""
    return {name: ShapeTuple(tuple(param.shape)) for name, param in model.named_parameters()}


def _norm(scale: ParameterType, bias: ParameterType, kind: str) -> Callable[[str], ParameterType]:
    def resolve(name: str) -> ParameterType:
        if "weight" in name or "scale" in name:
            return scale
        if "bias" in name:
            return bias
        raise ValueError(f"Unrecognized {kind} parameter: {name}.")
    return resolve


def _attention(name: str) -> ParameterType:
    # Checked in this order: "out_proj.bias" is a bias, "in_proj_weight" the fused query/key/value.
    for parts, kind in ((("bias",), ParameterType.ATTENTION_BIAS), (("in_proj",), ParameterType.ATTENTION_QKV),
                        (("kv_proj",), ParameterType.ATTENTION_KV), (("k_proj", "key"), ParameterType.ATTENTION_K),
                        (("q_proj", "query"), ParameterType.ATTENTION_Q),
                        (("v_proj", "value"), ParameterType.ATTENTION_V)):
        if any(part in name for part in parts):
            return kind
    if "out" in name and "weight" in name:
        return ParameterType.ATTENTION_OUT
    if "scale" in name:
        return ParameterType.WEIGHT
    raise ValueError(f"Unrecognized attention parameter: {name}.")


def _has(*parts: str) -> Callable[[str], bool]:
    return lambda name: any(part in name for part in parts)


#: (applies, rule), the first that applies wins: the order of AlgoPerf's ``pytorch_param_types``.
_RULES: tuple[tuple[Callable[[str], bool], Callable[[str], ParameterType]], ...] = (
    (_has("bn"), _norm(ParameterType.BATCH_NORM_SCALE, ParameterType.BATCH_NORM_BIAS, "batch norm")),
    (_has("norm", "ln"), _norm(ParameterType.LAYER_NORM_SCALE, ParameterType.LAYER_NORM_BIAS, "layer norm")),
    (_has("conv"), lambda name: ParameterType.BIAS if "bias" in name else ParameterType.CONV_WEIGHT),
    (lambda name: "embed" in name and "weight" in name, lambda name: ParameterType.EMBEDDING),
    (_has("attn", "attention"), _attention),
    (_has("bias"), lambda name: ParameterType.BIAS),
)


def pytorch_param_types(param_shapes: dict[str, object]) -> dict[str, ParameterType]:
    """A :class:`ParameterType` for each parameter name, by AlgoPerf's naming rules (anything else is a weight).

    >>> types = pytorch_param_types({"body.0.weight": (), "bn1.bias": (), "embed.weight": ()})
    >>> [t.name for t in types.values()]
    ['WEIGHT', 'BATCH_NORM_BIAS', 'EMBEDDING']
    """
    return {name: next((rule(name) for applies, rule in _RULES if applies(name)), ParameterType.WEIGHT)
            for name in param_shapes}


def jax_param_shapes(params: Any) -> Any:
    """The parameter tree with each leaf replaced by its shape (a :class:`ShapeTuple`)."""
    import jax

    return jax.tree_util.tree_map(lambda leaf: ShapeTuple(tuple(leaf.shape)), params)


def _jax_leaf_type(parent: str, name: str) -> ParameterType:
    """AlgoPerf's rule for one leaf ``name`` under the slash-joined module path ``parent`` (both lower-case)."""
    def norm(scale: ParameterType, bias: ParameterType, kind: str) -> ParameterType:
        if name in ("scale", "bias"):
            return scale if name == "scale" else bias
        raise ValueError(f"Unrecognized {kind} parameter: {parent}/{name}.")

    if "batchnorm" in parent or "bn" in parent:
        return norm(ParameterType.BATCH_NORM_SCALE, ParameterType.BATCH_NORM_BIAS, "batch norm")
    if "layernorm" in parent or "ln" in parent:
        return norm(ParameterType.LAYER_NORM_SCALE, ParameterType.LAYER_NORM_BIAS, "layer norm")
    if "conv" in parent:
        return ParameterType.BIAS if "bias" in name else ParameterType.CONV_WEIGHT
    if "embedding" in name or ("embedding" in parent and name == "kernel"):
        return ParameterType.EMBEDDING
    if "attention" in parent:
        if name == "bias":
            return ParameterType.ATTENTION_BIAS
        if name == "kernel":
            for part, kind in (("key", ParameterType.ATTENTION_K), ("query", ParameterType.ATTENTION_Q),
                               ("value", ParameterType.ATTENTION_V), ("out", ParameterType.ATTENTION_OUT)):
                if part in parent:
                    return kind
        if "scale" in name:
            return ParameterType.WEIGHT
        if "in_proj_weight" in name:
            return ParameterType.ATTENTION_QKV
        raise ValueError(f"Unrecognized attention parameter: {parent}/{name}.")
    return ParameterType.BIAS if "bias" in name else ParameterType.WEIGHT


def jax_param_types(param_shapes: Mapping[str, Any], parent_name: str = "") -> dict[str, Any]:
    """A :class:`ParameterType` for each leaf of a (nested) parameter tree, by AlgoPerf's rules for module paths.

    >>> types = jax_param_types({"Conv_0": {"kernel": 0, "bias": 0}, "BatchNorm_0": {"scale": 0}, "head": {"kernel": 0}})
    >>> {k: {n: t.name for n, t in v.items()} for k, v in types.items()}
    {'conv_0': {'kernel': 'CONV_WEIGHT', 'bias': 'BIAS'}, 'batchnorm_0': {'scale': 'BATCH_NORM_SCALE'}, \
'head': {'kernel': 'WEIGHT'}}
    """
    out: dict[str, Any] = {}
    for key, value in param_shapes.items():
        name = str(key).lower()
        if isinstance(value, Mapping):
            out[name] = jax_param_types(value, f"{parent_name}/{name}")
        else:
            out[name] = _jax_leaf_type(parent_name, name)
    return out
