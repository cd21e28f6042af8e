"""A PEFT trial's model as a *program*: how the evaluation server evaluates a model whose structure is the
submission's (LoRA's extra matrices, a side network) without running a line of the submission's code.

A training-track model is the workload's own architecture, so the server loads the weights into its own copy. A
PEFT method's model is whatever ``adapt`` built. The worker therefore *exports* it (:func:`export`, untimed, in the
trial's process, where the submission's code may run): ``torch.export`` traces the model's forward pass in eval mode
into a graph of ATen operators plus its tensors, with the batch (and a text model's sequence) dimension left free.
The server rebuilds that graph (:func:`load`) and runs it: only PyTorch's own operators run there.

Rebuilding a graph a submission produced must not be a way to run code either, and ``torch.export.load`` is not
safe for that (it unpickles with ``weights_only=False`` and reads shape expressions with ``sympy.sympify``, an
``eval``). So :func:`load` reads the three parts itself: the tensors with ``torch.load(weights_only=True)``, and the
graph's JSON only after :func:`check_graph` has accepted every operator it calls (:data:`ALLOWED_TARGETS`: ATen
operators and a few symbolic-shape helpers; a custom operator, a Python function or an extension is refused) and
every shape expression in it (:func:`check_expression`: sympy's ``srepr`` of integer symbols and the functions
export writes, nothing else).

A graph is exported once per *signature* of the model (its class and the names, shapes and dtypes of its
``state_dict``) and reused: later evaluations send only the ``state_dict``, loaded ``strict`` into the server's
copy. A method that changes its tensors' shapes (a rank reallocation that resizes) is exported again; one that keeps
what its forward pass computes in a Python attribute, not a registered parameter or buffer, has it fixed at the
export (the contract says so: :mod:`harness.tracks.peft`). What the server evaluates is always a model the
submission built from training data alone; exporting it only decides *how* it runs.

What it costs, untimed, is in ``make bench`` (``benchmarks/trial_start.py --part peft``): the export and the server's
rebuild, then the ``state_dict``'s save and load that later evaluations pay.
"""

from __future__ import annotations

import io
import json
import re
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from workloads.common.peft import Inputs, forward, take

GRAPH, STATE, CONSTANTS = "graph.json", "state.pt", "constants.pt"

#: call targets a graph may name beyond ``torch.ops.aten.*``: symbolic-shape arithmetic that export writes, and the
#: higher-order operators that run one of the graph's own subgraphs (checked like the rest) under a grad or autocast
#: mode (a ``with torch.no_grad():`` in a forward pass, as a side network around a frozen backbone has)
ALLOWED_TARGETS = frozenset({
    "torch.ops.higher_order.wrap_with_set_grad_enabled", "torch.ops.higher_order.wrap_with_autocast",
    *(f"_operator.{name}" for name in ("getitem", "add", "sub", "mul", "floordiv", "truediv", "mod", "pow", "neg",
                                       "eq", "ne", "lt", "le", "gt", "ge", "and_", "or_", "not_")),
    *(f"torch.{name}" for name in ("sym_max", "sym_min", "sym_not", "sym_float", "sym_int", "sym_sqrt", "sym_ite",
                                   "_sym_sqrt")),
    *(f"math.{name}" for name in ("ceil", "floor", "trunc", "sqrt")),
})
ATEN = re.compile(r"torch\.ops\.aten\.([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)")
#: string arguments an ATen operator may take: a mode's name. Any other (``from_file``'s and ``save``'s
#: ``filename``) would let a graph reach the server's files, where the held-out data is.
STRING_ARGUMENTS = frozenset({"approximate", "reduce", "padding", "rounding_mode", "mode", "padding_mode", "side",
                              "indexing", "equation", "reduction", "interpolation", "pad_mode", "norm"})

#: the names a shape expression may use: sympy's constructors as ``srepr`` writes them, torch's sympy functions
#: (``torch.utils._sympy.functions``, as the deserializer offers them) and the keywords of a symbol's assumptions
EXPRESSION_NAMES = frozenset({
    "Symbol", "Integer", "Rational", "Float", "Add", "Mul", "Pow", "Max", "Min", "Abs", "Mod", "floor", "ceiling",
    "Eq", "Ne", "Lt", "Le", "Gt", "Ge", "StrictLessThan", "StrictGreaterThan", "LessThan", "GreaterThan",
    "Equality", "Unequality", "And", "Or", "Not", "true", "false", "True", "False", "oo", "zoo", "nan", "Infinity",
    "NegativeInfinity", "BooleanTrue", "BooleanFalse",
    "FloorDiv", "ModularIndexing", "Where", "PythonMod", "CleanDiv", "CeilToInt", "FloorToInt", "CeilDiv",
    "LShift", "RShift", "IsNonOverlappingAndDenseIndicator", "TruncToFloat", "TruncToInt", "RoundToInt",
    "RoundDecimal", "ToFloat", "FloatPow", "PowByNatural", "IntTrueDiv", "FloatTrueDiv", "Identity", "OpaqueUnaryFn",
    "BitwiseFn",
    "positive", "negative", "integer", "real", "nonnegative", "nonpositive", "finite", "precision",
})
_TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z][A-Za-z0-9]*)|(?P<symbol>'[a-z]\d+')|(?P<number>-?\d+(?:\.\d+)?"
                    r"(?:e[+-]?\d+)?)|(?P<punct>\*\*|==|<=|>=|!=|[()+\-*/,=<>%]))")


class ProgramError(ValueError):
    """The model could not be exported, or a saved program is not one the server will run."""


class Logits(nn.Module):
    """What is exported: the model's logits for one batch of inputs (a tensor, or a dict of tensors)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: Inputs) -> torch.Tensor:
        return forward(self.model, inputs)


def signature(model: nn.Module) -> tuple:
    """What decides whether an exported graph still fits ``model``: its class and its tensors' names and shapes."""
    return (type(model).__qualname__,
            tuple((k, tuple(v.shape), str(v.dtype)) for k, v in model.state_dict().items()))


def example_of(inputs: Inputs, rows: int = 4) -> Inputs:
    """The first ``rows`` rows of ``inputs`` (at least 2: export treats a dimension of 1 as fixed)."""
    n = len(next(iter(inputs.values()))) if isinstance(inputs, Mapping) else len(inputs)
    if n < 2:
        raise ProgramError(f"exporting the model needs an example of at least 2 rows; the workload has {n}")
    return take(inputs, slice(0, min(rows, n)))


def export(model: nn.Module, example: Inputs) -> torch.export.ExportedProgram:
    """``model``'s forward pass in eval mode as an ATen graph, batch (and sequence) dimensions free; its training
    mode is restored. Raises :class:`ProgramError` with export's reason when the forward pass cannot be traced."""
    was_training = model.training
    wrapped = Logits(model).eval()
    free = torch.export.Dim.DYNAMIC
    shapes = ({k: {d: free for d in range(min(v.dim(), 2))} for k, v in example.items()}
              if isinstance(example, Mapping) else {0: free},)
    try:
        return torch.export.export(wrapped, (example,), dynamic_shapes=shapes, strict=False)
    except Exception as exc:  # noqa: BLE001 - whatever export says is the reason the model cannot be evaluated
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ProgramError(f"the adapted model's forward pass could not be exported with torch.export (the "
                           f"evaluation server runs it as a graph of PyTorch operators): {type(exc).__name__}: "
                           f"{first[:400]}") from None
    finally:
        model.train(was_training)


def write(program: torch.export.ExportedProgram, folder: Path) -> Path:
    """Save ``program`` as three files in ``folder`` (created): the graph's JSON, its state and its constants."""
    from torch._export.serde import serialize

    artifact = serialize.serialize(program, serialize_example_inputs=False)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / GRAPH).write_bytes(artifact.exported_program)
    (folder / STATE).write_bytes(artifact.state_dict)
    (folder / CONSTANTS).write_bytes(artifact.constants)
    return folder


def check_expression(text: str) -> None:
    """Refuse a shape expression that is anything but sympy's ``srepr`` of integer arithmetic on symbols.

    >>> check_expression("Mul(Integer(384), Symbol('s28', positive=True, integer=True))")
    >>> try:
    ...     check_expression("__import__('os').system('true')")
    ... except ProgramError as exc:
    ...     print(exc)
    the program's shape expression "__import__('os').system('true')" is not one torch.export writes (at '__import__')
    """
    position, text = 0, text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position or (
                match.group("name") and match.group("name") not in EXPRESSION_NAMES):
            at = re.match(r"\s*([A-Za-z0-9_]+|\S)", text[position:]).group(1)
            raise ProgramError(f"the program's shape expression {text[:200]!r} is not one torch.export writes "
                               f"(at {at!r})")
        position = match.end()


def check_aten(target: str) -> None:
    """Refuse a call target that is not an ATen operator of this PyTorch, or one that takes a string other than a
    mode's name (:data:`STRING_ARGUMENTS`): ``aten.from_file`` and ``aten.save`` read and write files."""
    match = ATEN.fullmatch(target)
    operator = getattr(getattr(torch.ops.aten, match.group(1), None), match.group(2), None) if match else None
    if operator is None:
        raise ProgramError(f"the program calls {target[:200]!r}: the evaluation server runs only PyTorch's ATen "
                           "operators (a custom operator or a Python function is not evaluated outside the trial)")
    for argument in operator._schema.arguments:
        if "str" in str(argument.type).lower() and argument.name not in STRING_ARGUMENTS:
            raise ProgramError(f"the program calls {target}, whose {argument.name!r} argument names a file or "
                               "another string: not evaluated outside the trial")


def check_graph(graph: Any) -> None:
    """Walk the graph's JSON: every call target must be an ATen operator or in :data:`ALLOWED_TARGETS`, every shape
    expression must pass :func:`check_expression`. Raises :class:`ProgramError` naming the first that does not.
    Each node's ``metadata`` (stack traces, the source modules' names: nothing the graph needs to run) is emptied,
    so the deserializer resolves no name from it."""
    stack = [graph]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        for key, value in list(item.items()):
            if key == "target" and isinstance(value, str) and "inputs" in item:
                item["metadata"] = {}
                if value not in ALLOWED_TARGETS:
                    check_aten(value)
            elif key == "expr_str":
                if not isinstance(value, str):
                    raise ProgramError("the program's shape expression is not a string")
                check_expression(value)
            elif key == "range_constraints" and isinstance(value, dict):
                for name in value:
                    check_expression(f"Symbol('{name}')" if re.fullmatch(r"[a-z]\d+", name) else name)
            if isinstance(value, (dict, list)):
                stack.append(value)


def _tensors(path: Path, device: torch.device) -> dict[str, Any]:
    data = path.read_bytes()
    if not data:
        return {}
    try:
        loaded = torch.load(io.BytesIO(data), map_location=device, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - whatever the file is, it is not tensors alone
        raise ProgramError(f"{path.name} could not be read as tensors: {type(exc).__name__}: {exc}") from None
    if not isinstance(loaded, dict) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise ProgramError(f"{path.name} holds something other than named tensors")
    return loaded


class Program(nn.Module):
    """The server's copy of an exported model. Its mode is fixed (eval, as exported): ``train``/``eval`` do nothing.
    A batch of one row is run as two (the row twice) and the first answer kept: export fixes a dimension of 1."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module
        self.training = False

    def train(self, mode: bool = True) -> Program:  # noqa: ARG002 - the graph's mode was fixed at export
        return self

    def forward(self, inputs: Inputs | None = None, **named: torch.Tensor) -> torch.Tensor:
        inputs = named if inputs is None else inputs
        first = next(iter(inputs.values())) if isinstance(inputs, Mapping) else inputs
        if len(first) == 1:
            return self.module(take(inputs, torch.zeros(2, dtype=torch.long, device=first.device)))[:1]
        return self.module(inputs)

    def load_weights(self, state: dict[str, torch.Tensor]) -> None:
        try:
            self.module.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ProgramError(f"the weights do not fit the exported model: {str(exc)[:400]}") from None


def load(folder: Path, device: torch.device) -> Program:
    """Rebuild the program :func:`write` saved in ``folder``, refusing anything but tensors and checked graphs."""
    from torch._export.serde import serialize

    try:
        text = (folder / GRAPH).read_bytes()
        graph = json.loads(text)
    except (OSError, ValueError) as exc:
        raise ProgramError(f"the program's graph could not be read: {exc}") from None
    check_graph(graph)
    text = json.dumps(graph).encode()
    state, constants = _tensors(folder / STATE, device), _tensors(folder / CONSTANTS, device)
    try:
        program = serialize.ExportedProgramDeserializer().deserialize(
            serialize._bytes_to_dataclass(serialize.ExportedProgram, text), state, constants, None)
        return Program(program.module())
    except Exception as exc:  # noqa: BLE001 - a graph that passed the checks but does not rebuild
        raise ProgramError(f"the program could not be rebuilt: {type(exc).__name__}: {str(exc)[:400]}") from None


class Programs:
    """The server's last few rebuilt programs (one per trial being evaluated), by folder and the graph file's
    modification time and size: a retried trial's new program in the same folder is rebuilt, not mistaken for the
    last attempt's."""

    def __init__(self, keep: int = 4) -> None:
        self.keep = keep
        self._programs: OrderedDict[tuple, Program] = OrderedDict()

    def get(self, folder: str, device: torch.device) -> Program:
        try:
            stat = (Path(folder) / GRAPH).stat()
        except OSError as exc:
            raise ProgramError(f"the program's graph could not be read: {exc}") from None
        key = (folder, stat.st_mtime_ns, stat.st_size)
        if key in self._programs:
            self._programs.move_to_end(key)
        else:
            self._programs[key] = load(Path(folder), device)
            while len(self._programs) > self.keep:
                self._programs.popitem(last=False)
        return self._programs[key]
