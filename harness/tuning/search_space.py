"""Search spaces: the hyperparameters a submission lets the tuner choose, in AlgoPerf's ``search_space.json`` format.

Two JSON forms are accepted, as in AlgoPerf:

* an **object** mapping each hyperparameter name to a range or a list of feasible points::

      {"learning_rate": {"min": 1e-4, "max": 1e-2, "scaling": "log"},
       "warmup_steps": {"min": 0, "max": 500, "scaling": "linear", "type": "int"},
       "optimizer": {"feasible_points": ["adam", "sgd"]}}

  Each study draws its own quasi-random sample from it (scrambled Halton, see :meth:`SearchSpace.sample`);

* a **list** of fixed points, tried in order::

      [{"learning_rate": 0.001, "warmup_steps": 100}, {"learning_rate": 0.003, "warmup_steps": 100}]

:func:`load_search_space` reports every problem in a file at once, one line each, naming the file and the
hyperparameter, so that an author fixes a search space in one round rather than one error per run.
"""

from __future__ import annotations

import difflib
import json
import keyword
import math
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator

#: A value a hyperparameter can take. pydantic's smart union keeps each value's own type (``true`` stays a bool).
Scalar = bool | int | float | str

_SCALINGS = ("log", "linear")
_TYPES = ("float", "int")
_RANGE_KEYS = ("min", "max", "scaling", "type")


class SearchSpaceError(ValueError):
    """A search space that cannot be used; ``problems`` lists every problem found, not only the first.

    Example:
        >>> print(SearchSpaceError("search_space.json", ["lr: missing 'max'", "wd: feasible_points is empty"]))
        search_space.json: lr: missing 'max'
        search_space.json: wd: feasible_points is empty
    """

    def __init__(self, path: str | Path, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = list(problems)
        super().__init__(self.path, self.problems)

    def __str__(self) -> str:
        return "\n".join(f"{self.path}: {problem}" for problem in self.problems)


# --- Problem finders. Pure functions over raw JSON values; the models below reuse them so they cannot drift. --------


def _show(value: Any) -> str:
    """A short rendering of a JSON value for an error message."""
    text = repr(value) if isinstance(value, str) else json.dumps(value, default=repr)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)  # JSON true is not a number


def _is_scalar(value: Any) -> bool:
    return isinstance(value, bool | int | str) or (isinstance(value, float) and math.isfinite(value))


def _name_problems(name: str) -> list[str]:
    # The harness hands hyperparameters to a submission as attributes (``hyperparameters.learning_rate``).
    if name.isidentifier() and not keyword.iskeyword(name):
        return []
    return [f"{name!r} cannot be read as hyperparameters.{name} (use a Python identifier)"]


def _bound_problems(spec: dict[str, Any]) -> list[str]:
    """Problems with ``min`` and ``max`` on their own (present, numbers, finite)."""
    problems = []
    for key in ("min", "max"):
        if key not in spec:
            problems.append(f"missing {key!r}")
        elif not _is_number(spec[key]):
            problems.append(f"{key} must be a number, got {_show(spec[key])}")
        elif not math.isfinite(spec[key]):
            problems.append(f"{key} must be finite, got {spec[key]}")
    return problems


def _range_problems(spec: dict[str, Any]) -> list[str]:
    """Problems with a ``{"min", "max", "scaling"[, "type"]}`` range."""
    problems = []
    for key in spec:
        if key not in _RANGE_KEYS:
            close = difflib.get_close_matches(key, _RANGE_KEYS, n=1)
            hint = f"did you mean {close[0]!r}?" if close else "expected min, max, scaling, type"
            problems.append(f"unknown key {key!r} ({hint})")
    bound_problems = _bound_problems(spec)
    problems += bound_problems
    scaling, kind = spec.get("scaling"), spec.get("type", "float")
    if "scaling" not in spec:
        problems.append("missing 'scaling' (expected 'log' or 'linear')")
    elif scaling not in _SCALINGS:
        problems.append(f"unknown scaling {_show(scaling)} (expected 'log' or 'linear')")
    if kind not in _TYPES:
        problems.append(f"unknown type {_show(kind)} (expected 'int' or 'float')")
    if bound_problems:
        return problems  # the checks below compare the bounds, which needs both of them
    low, high = spec["min"], spec["max"]
    if low > high:
        problems.append(f"min ({low!r}) > max ({high!r})")
    if scaling == "log" and low <= 0:
        problems.append(f"log scaling needs min > 0 (min is {low!r})")
    if kind == "int" and not (float(low).is_integer() and float(high).is_integer()):
        problems.append(f"type 'int' needs whole-number bounds (min {low!r}, max {high!r})")
    return problems


def _choice_problems(spec: dict[str, Any]) -> list[str]:
    """Problems with a ``{"feasible_points": [...]}`` entry."""
    problems = []
    extra = [key for key in spec if key != "feasible_points"]
    if extra:
        problems.append(f"feasible_points cannot be combined with {', '.join(map(repr, extra))}")
    points = spec["feasible_points"]
    if not isinstance(points, list):
        return problems + [f"feasible_points must be a list, got {_show(points)}"]
    if not points:
        problems.append("feasible_points is empty")
    for index, point in enumerate(points):
        if not _is_scalar(point):
            problems.append(f"feasible_points[{index}] must be a number, string or bool, got {_show(point)}")
    return problems


def _parameter_problems(name: str, spec: Any) -> list[str]:
    """Problems with one entry of the object form, each prefixed with the parameter's name."""
    problems = _name_problems(name)
    if not isinstance(spec, dict):
        problems.append(f"expected an object with min/max/scaling or feasible_points, got {_show(spec)}")
    elif "feasible_points" in spec:
        problems += _choice_problems(spec)
    else:
        problems += _range_problems(spec)
    return [f"{name}: {problem}" for problem in problems]


def _fixed_points_problems(points: list[Any]) -> list[str]:
    """Problems with the list form: a non-empty list of flat objects that all have the same keys."""
    if not points:
        return ["the list of fixed points is empty"]
    problems: list[str] = []
    expected: set[str] | None = None
    for index, point in enumerate(points):
        if not isinstance(point, dict):
            problems.append(f"[{index}]: expected an object of name -> value, got {_show(point)}")
            continue
        if expected is None:
            expected = set(point)
            problems += [f"[{index}]: {p}" for name in sorted(point) for p in _name_problems(name)]
        elif set(point) != expected:
            missing, extra = sorted(expected - set(point)), sorted(set(point) - expected)
            parts = [f"missing {', '.join(map(repr, missing))}"] if missing else []
            parts += [f"extra {', '.join(map(repr, extra))}"] if extra else []
            problems.append(f"[{index}]: keys differ from the first point: {'; '.join(parts)}")
        for name, value in point.items():
            if not _is_scalar(value):
                problems.append(f"[{index}]: {name}: must be a number, string or bool, got {_show(value)}")
    return problems


def search_space_problems(value: Any) -> list[str]:
    """Every problem with a decoded ``search_space.json`` value; an empty list means it is usable.

    Example:
        >>> search_space_problems({"lr": {"min": 0.1, "max": 0.01, "scaling": "logg"}})
        ["lr: unknown scaling 'logg' (expected 'log' or 'linear')", 'lr: min (0.1) > max (0.01)']
        >>> search_space_problems([{"lr": 0.1}, {"wd": 0.0}])
        ["[1]: keys differ from the first point: missing 'lr'; extra 'wd'"]
    """
    if isinstance(value, dict):
        return [problem for name, spec in value.items() for problem in _parameter_problems(name, spec)]
    if isinstance(value, list):
        return _fixed_points_problems(value)
    return [f"expected a JSON object (name -> range or feasible_points) or a list of points, got {_show(value)}"]


def _raise_problems(problems: list[str]) -> None:
    if problems:
        raise ValueError("; ".join(problems))


# --- Models. ------------------------------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RangeSpec(_Model):
    """A numeric range: ``{"min": a, "max": b, "scaling": "log"|"linear"}``, optionally ``"type": "int"``."""

    min: float
    max: float
    scaling: Literal["log", "linear"]
    type: Literal["float", "int"] = "float"

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        if isinstance(data, dict):
            _raise_problems(_range_problems(data))
        return data

    def value_at(self, u: float) -> float | int:
        """The value at quantile ``u`` in [0, 1) of this range (log ranges are uniform in log space).

        Example:
            >>> round(RangeSpec(min=1e-4, max=1e-2, scaling="log").value_at(0.5), 12)
            0.001
            >>> RangeSpec(min=0, max=3, scaling="linear", type="int").value_at(0.99)
            3
        """
        if self.type == "int" and self.scaling == "linear":
            # Uniform over the integers; rounding a uniform float would give each end point half the weight.
            return int(min(self.min + math.floor(u * (self.max - self.min + 1)), self.max))
        if self.scaling == "log":
            low, high = math.log(self.min), math.log(self.max)
            value = math.exp(low + u * (high - low))
        else:
            value = self.min + u * (self.max - self.min)
        value = min(max(value, self.min), self.max)  # exp(log(x)) can land one ulp outside the bounds
        return int(round(value)) if self.type == "int" else value


class ChoiceSpec(_Model):
    """A list of feasible values: ``{"feasible_points": [...]}`` (numbers, strings or bools; not empty)."""

    feasible_points: tuple[Scalar, ...] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        if isinstance(data, dict) and "feasible_points" in data:
            points = data["feasible_points"]
            # A tuple is fine in Python (it is what this model stores); the JSON finder only knows lists.
            points = list(points) if isinstance(points, tuple) else points
            _raise_problems(_choice_problems({**data, "feasible_points": points}))
        return data

    def value_at(self, u: float) -> Scalar:
        """The feasible point at quantile ``u`` in [0, 1): index ``floor(u * len)``.

        Example:
            >>> ChoiceSpec(feasible_points=["adam", "sgd"]).value_at(0.7)
            'sgd'
        """
        points = self.feasible_points
        return points[min(math.floor(u * len(points)), len(points) - 1)]


def _parameter_kind(value: Any) -> str:
    has_points = "feasible_points" in value if isinstance(value, dict) else hasattr(value, "feasible_points")
    return "choice" if has_points else "range"


# Tagged, so that a bad range reports the range's problems and not also why it is not a choice.
ParameterSpec = Annotated[
    Annotated[RangeSpec, Tag("range")] | Annotated[ChoiceSpec, Tag("choice")], Discriminator(_parameter_kind)
]


class SearchSpace(_Model):
    """A submission's search space: named ranges and choices, *or* a list of fixed points.

    Build one from a file with :func:`load_search_space` or from a decoded JSON value with :meth:`from_json`.

    Example:
        >>> space = SearchSpace.from_json({"lr": {"min": 1e-4, "max": 1e-1, "scaling": "log"},
        ...                                "nesterov": {"feasible_points": [True, False]}})
        >>> space.names
        ('lr', 'nesterov')
        >>> points = space.sample(3, seed=0)
        >>> len(points), sorted(points[0])
        (3, ['lr', 'nesterov'])
        >>> SearchSpace.from_json([{"lr": 0.1}, {"lr": 0.01}]).sample(2, seed=0)
        [{'lr': 0.1}, {'lr': 0.01}]
    """

    parameters: dict[str, ParameterSpec] = Field(default_factory=dict)
    fixed_points: tuple[dict[str, Scalar], ...] | None = None

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("fixed_points") is not None:
            if data.get("parameters"):
                raise ValueError("give either parameters or fixed_points, not both")
            _raise_problems(_fixed_points_problems(list(data["fixed_points"])))
        if isinstance(data, dict) and isinstance(data.get("parameters"), dict):
            _raise_problems([p for name in data["parameters"] for p in _name_problems(name)])
        return data

    @classmethod
    def from_json(cls, value: Any, source: str | Path = "search space") -> SearchSpace:
        """Build a search space from a decoded ``search_space.json`` value (an object or a list).

        Raises:
            SearchSpaceError: listing every problem, each line prefixed with ``source``.
        """
        problems = search_space_problems(value)
        if problems:
            raise SearchSpaceError(source, problems)
        try:
            return cls(fixed_points=value) if isinstance(value, list) else cls(parameters=value)
        except ValidationError as error:  # only if the problem finders above missed a case
            raise SearchSpaceError(source, [e["msg"] for e in error.errors()]) from error

    @classmethod
    def empty(cls) -> SearchSpace:
        """The search space of a submission without hyperparameters (no ``search_space.json``, ``self`` ruleset)."""
        return cls()

    @property
    def names(self) -> tuple[str, ...]:
        """Hyperparameter names, sorted (the order of dimensions in :meth:`sample`)."""
        if self.fixed_points is not None:
            return tuple(sorted(self.fixed_points[0]))
        return tuple(sorted(self.parameters))

    @property
    def is_empty(self) -> bool:
        """True when there are no hyperparameters to tune."""
        return not self.names

    def sample(self, n: int, seed: int) -> list[dict[str, Any]]:
        """``n`` hyperparameter points, deterministic for a given ``seed``.

        For ranges and choices: the first ``n`` points of a scrambled Halton sequence (quasi-random, so a few trials
        already cover the space evenly), one dimension per name in sorted order, so the result does not depend on
        the key order of the JSON file. For fixed points: the first ``n`` points, in the order of the file.

        Args:
            n: number of points (trials in a study).
            seed: a non-negative integer; different seeds give different points (each study draws its own).

        Raises:
            ValueError: ``n`` or ``seed`` out of range, or more points asked than the fixed list holds.
        """
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if self.fixed_points is not None:
            if n > len(self.fixed_points):
                raise ValueError(
                    f"asked for {n} points but the search space lists only {len(self.fixed_points)} fixed points"
                )
            return [dict(point) for point in self.fixed_points[:n]]
        if self.is_empty or n == 0:
            return [{} for _ in range(n)]
        return [dict(zip(self.names, row, strict=True)) for row in self._halton_rows(n, int(seed))]

    def _halton_rows(self, n: int, seed: int) -> list[list[Any]]:
        # Imported here: scipy.stats takes a noticeable time to import and `podium check` never samples.
        from scipy.stats import qmc

        # A Generator, not the int: scipy gives `seed=int` and `rng=int` different streams (SPEC 7 transition),
        # while a Generator yields the same points under both spellings, so recorded samples stay reproducible.
        engine = qmc.Halton(len(self.names), scramble=True, rng=np.random.default_rng(seed))
        specs = [self.parameters[name] for name in self.names]
        return [[spec.value_at(float(u)) for spec, u in zip(specs, row, strict=True)] for row in engine.random(n)]


def _decode(text: str) -> tuple[Any, list[str]]:
    """Decode JSON text, also reporting duplicate keys (``json`` would silently keep the last one)."""
    duplicates: list[str] = []

    def pairs_to_dict(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen:
                duplicates.append(f"{key}: duplicate key (the file defines it twice)")
            seen[key] = value
        return seen

    return json.loads(text, object_pairs_hook=pairs_to_dict), duplicates


def load_search_space(path: str | Path) -> SearchSpace:
    """Read and validate a ``search_space.json`` file.

    Args:
        path: the file; error messages name it as given.

    Raises:
        SearchSpaceError: every problem in the file, one line each, e.g.
            ``search_space.json: learning_rate: min (0.1) > max (0.01)``.
    """
    try:
        value, problems = _decode(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise SearchSpaceError(path, [f"cannot read: {error.strerror or error}"]) from error
    except UnicodeDecodeError as error:
        raise SearchSpaceError(path, [f"not UTF-8 text ({error.reason} at byte {error.start})"]) from error
    except json.JSONDecodeError as error:
        raise SearchSpaceError(
            path, [f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"]
        ) from error
    try:
        space = SearchSpace.from_json(value, source=path)
    except SearchSpaceError as error:
        raise SearchSpaceError(path, problems + error.problems) from None
    if problems:
        raise SearchSpaceError(path, problems)
    return space
