"""Search spaces: every bad file gives a clear one-line message per problem; sampling is deterministic and spread."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from harness.tuning.search_space import (
    ChoiceSpec,
    RangeSpec,
    SearchSpace,
    SearchSpaceError,
    load_search_space,
    search_space_problems,
)

LOG_LR = {"min": 1e-5, "max": 1e-1, "scaling": "log"}


def write(tmp_path: Path, content: object, name: str = "search_space.json") -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def problems_of(tmp_path: Path, content: object) -> list[str]:
    path = write(tmp_path, content)
    with pytest.raises(SearchSpaceError) as caught:
        load_search_space(path)
    assert caught.value.path == str(path)
    return caught.value.problems


# --- Loading and error messages. ---------------------------------------------------------------------------------


def test_min_greater_than_max_names_file_and_parameter(tmp_path: Path) -> None:
    path = write(tmp_path, {"learning_rate": {"min": 0.1, "max": 0.01, "scaling": "linear"}})
    with pytest.raises(SearchSpaceError) as caught:
        load_search_space(path)
    assert str(caught.value) == f"{path}: learning_rate: min (0.1) > max (0.01)"


def test_unknown_scaling(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, {"learning_rate": {"min": 0.01, "max": 0.1, "scaling": "logg"}})
    assert problems == ["learning_rate: unknown scaling 'logg' (expected 'log' or 'linear')"]


def test_missing_scaling(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, {"learning_rate": {"min": 0.01, "max": 0.1}})
    assert problems == ["learning_rate: missing 'scaling' (expected 'log' or 'linear')"]


def test_invalid_json_gives_line_and_column(tmp_path: Path) -> None:
    text = '{\n  "learning_rate": {"min": 0.1,\n    "max" 0.2}\n}'
    problems = problems_of(tmp_path, text)
    assert problems == ["not valid JSON: Expecting ':' delimiter (line 3, column 11)"]


def test_invalid_json_missing_comma(tmp_path: Path) -> None:
    text = '{\n  "a": {"feasible_points": [1]}\n  "b": {"feasible_points": [2]}\n}'
    assert problems_of(tmp_path, text) == ["not valid JSON: Expecting ',' delimiter (line 3, column 3)"]


def test_empty_feasible_points(tmp_path: Path) -> None:
    assert problems_of(tmp_path, {"dropout": {"feasible_points": []}}) == ["dropout: feasible_points is empty"]


@pytest.mark.parametrize("low", [0, -1e-3])
def test_log_scaling_needs_positive_min(tmp_path: Path, low: float) -> None:
    problems = problems_of(tmp_path, {"weight_decay": {"min": low, "max": 0.1, "scaling": "log"}})
    assert problems == [f"weight_decay: log scaling needs min > 0 (min is {low!r})"]


def test_all_problems_are_collected_not_just_the_first(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        {
            "learning_rate": {"min": 0.1, "max": 0.01, "scaling": "logg"},
            "dropout": {"feasible_points": []},
            "warmup": {"mni": 0, "max": 10, "scaling": "linear"},
            "beta1": 0.9,
        },
    )
    assert problems == [
        "learning_rate: unknown scaling 'logg' (expected 'log' or 'linear')",
        "learning_rate: min (0.1) > max (0.01)",
        "dropout: feasible_points is empty",
        "warmup: unknown key 'mni' (did you mean 'min'?)",
        "warmup: missing 'min'",
        "beta1: expected an object with min/max/scaling or feasible_points, got 0.9",
    ]


def test_fixed_points_with_mixed_keys(tmp_path: Path) -> None:
    points = [{"learning_rate": 0.1, "beta1": 0.9}, {"learning_rate": 0.01}, {"learning_rate": 0.1, "beta2": 0.9}]
    assert problems_of(tmp_path, points) == [
        "[1]: keys differ from the first point: missing 'beta1'",
        "[2]: keys differ from the first point: missing 'beta1'; extra 'beta2'",
    ]


def test_fixed_points_must_be_flat_and_non_empty(tmp_path: Path) -> None:
    assert problems_of(tmp_path, []) == ["the list of fixed points is empty"]
    assert problems_of(tmp_path, [{"lr": [0.1]}, 3]) == [
        "[0]: lr: must be a number, string or bool, got [0.1]",
        "[1]: expected an object of name -> value, got 3",
    ]


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"min": "a", "max": 1, "scaling": "linear"}, "x: min must be a number, got 'a'"),
        ({"min": 0, "max": True, "scaling": "linear"}, "x: max must be a number, got true"),
        (
            {"min": 0, "max": 1, "scaling": "linear", "type": "integer"},
            "x: unknown type 'integer' (expected 'int' or 'float')",
        ),
        (
            {"min": 0.5, "max": 3, "scaling": "linear", "type": "int"},
            "x: type 'int' needs whole-number bounds (min 0.5, max 3)",
        ),
        ({"feasible_points": [1], "min": 0}, "x: feasible_points cannot be combined with 'min'"),
        ({"feasible_points": 3}, "x: feasible_points must be a list, got 3"),
        ({"feasible_points": [{"a": 1}]}, 'x: feasible_points[0] must be a number, string or bool, got {"a": 1}'),
    ],
)
def test_other_range_and_choice_problems(spec: dict, problem: str) -> None:
    assert search_space_problems({"x": spec}) == [problem]


def test_names_must_be_readable_as_attributes() -> None:
    assert search_space_problems({"learning-rate": {"feasible_points": [1]}}) == [
        "learning-rate: 'learning-rate' cannot be read as hyperparameters.learning-rate (use a Python identifier)"
    ]


def test_duplicate_keys_are_reported(tmp_path: Path) -> None:
    text = '{"lr": {"feasible_points": [1]}, "lr": {"feasible_points": [2]}}'
    assert problems_of(tmp_path, text) == ["lr: duplicate key (the file defines it twice)"]


def test_top_level_must_be_object_or_list(tmp_path: Path) -> None:
    assert problems_of(tmp_path, 3) == [
        "expected a JSON object (name -> range or feasible_points) or a list of points, got 3"
    ]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SearchSpaceError, match=r"search_space.json: cannot read: No such file"):
        load_search_space(tmp_path / "search_space.json")


def test_good_object_form_loads(tmp_path: Path) -> None:
    steps = {"min": 1, "max": 9, "scaling": "linear", "type": "int"}
    optimizer = {"feasible_points": ["adam", "sgd"]}
    space = load_search_space(write(tmp_path, {"lr": LOG_LR, "optimizer": optimizer, "steps": steps}))
    assert space.names == ("lr", "optimizer", "steps")
    assert space.parameters["lr"] == RangeSpec(min=1e-5, max=1e-1, scaling="log")
    assert space.parameters["optimizer"] == ChoiceSpec(feasible_points=("adam", "sgd"))
    assert not space.is_empty


def test_models_reject_bad_values_and_extra_keys() -> None:
    with pytest.raises(ValueError, match=r"min \(2\) > max \(1\)"):
        RangeSpec(min=2, max=1, scaling="linear")
    with pytest.raises(ValueError, match="unknown key 'step'"):
        RangeSpec.model_validate({"min": 1, "max": 2, "scaling": "linear", "step": 1})
    with pytest.raises(ValueError, match="feasible_points is empty"):
        ChoiceSpec(feasible_points=())
    with pytest.raises(ValueError, match="keys differ"):
        SearchSpace(fixed_points=({"a": 1}, {"b": 2}))


def test_json_round_trip_keeps_the_sample() -> None:
    # The search space travels to trial workers and into the manifest as JSON.
    space = SearchSpace.from_json(SPACE)
    again = SearchSpace.model_validate_json(space.model_dump_json())
    assert again == space
    assert again.sample(4, seed=1) == space.sample(4, seed=1)


def test_empty_search_space() -> None:
    assert SearchSpace.empty().is_empty
    assert SearchSpace.from_json({}).is_empty
    assert SearchSpace.empty().names == ()
    assert SearchSpace.empty().sample(2, seed=0) == [{}, {}]


# --- Sampling. ---------------------------------------------------------------------------------------------------

SPACE = {
    "learning_rate": LOG_LR,
    "beta1": {"min": 0.8, "max": 0.999, "scaling": "linear"},
    "warmup_steps": {"min": 0, "max": 1000, "scaling": "linear", "type": "int"},
    "optimizer": {"feasible_points": ["adam", "sgd", "lion"]},
}


def test_sampling_is_deterministic_for_a_seed() -> None:
    space = SearchSpace.from_json(SPACE)
    assert space.sample(8, seed=3) == space.sample(8, seed=3)
    assert SearchSpace.from_json(SPACE).sample(8, seed=3) == space.sample(8, seed=3)


def test_different_seeds_give_different_points() -> None:
    space = SearchSpace.from_json(SPACE)
    first, second = space.sample(8, seed=0), space.sample(8, seed=1)
    assert all(a["learning_rate"] != b["learning_rate"] for a, b in zip(first, second, strict=True))


def test_sample_prefix_is_stable() -> None:
    # A study that grows from 4 to 8 trials keeps its first 4 points (a Halton sequence is extensible).
    space = SearchSpace.from_json(SPACE)
    assert space.sample(8, seed=5)[:4] == space.sample(4, seed=5)


def test_log_points_lie_in_range_and_spread_in_log_space() -> None:
    space = SearchSpace.from_json({"learning_rate": LOG_LR})
    values = [point["learning_rate"] for point in space.sample(64, seed=11)]
    assert all(1e-5 <= value <= 1e-1 for value in values)
    decades = [math.floor(math.log10(value)) for value in values]
    # 4 decades, 64 quasi-random points: each decade gets about 16; a linear sampler would put ~58 in the last.
    counts = [decades.count(d) for d in (-5, -4, -3, -2)]
    assert all(12 <= count <= 20 for count in counts), counts


def test_values_have_the_declared_types_and_bounds() -> None:
    points = SearchSpace.from_json(SPACE).sample(32, seed=2)
    assert all(type(p["warmup_steps"]) is int and 0 <= p["warmup_steps"] <= 1000 for p in points)
    assert all(type(p["beta1"]) is float and 0.8 <= p["beta1"] <= 0.999 for p in points)
    assert {p["optimizer"] for p in points} == {"adam", "sgd", "lion"}
    assert all(type(p["learning_rate"]) is float for p in points)
    json.dumps(points)  # points go into the manifest as they are


def test_int_range_reaches_both_ends_evenly() -> None:
    space = SearchSpace.from_json({"layers": {"min": 1, "max": 4, "scaling": "linear", "type": "int"}})
    values = [p["layers"] for p in space.sample(40, seed=0)]
    assert sorted(set(values)) == [1, 2, 3, 4]
    assert all(values.count(v) == 10 for v in (1, 2, 3, 4))


def test_key_order_does_not_change_the_sample() -> None:
    reordered = dict(reversed(list(SPACE.items())))
    assert SearchSpace.from_json(reordered).sample(6, seed=4) == SearchSpace.from_json(SPACE).sample(6, seed=4)


def test_fixed_points_are_returned_in_order(tmp_path: Path) -> None:
    points = [{"learning_rate": 0.001, "nesterov": True}, {"learning_rate": 0.003, "nesterov": False}]
    space = load_search_space(write(tmp_path, points))
    assert space.names == ("learning_rate", "nesterov")
    assert space.sample(1, seed=0) == points[:1]
    assert space.sample(2, seed=9) == points
    assert type(space.sample(2, seed=0)[0]["nesterov"]) is bool


def test_asking_for_more_fixed_points_than_listed_is_an_error() -> None:
    space = SearchSpace.from_json([{"learning_rate": 0.1}])
    with pytest.raises(ValueError, match="asked for 2 points but the search space lists only 1 fixed points"):
        space.sample(2, seed=0)


@pytest.mark.parametrize(("n", "seed"), [(-1, 0), (2, -1), (2, None), (2.0, 0)])
def test_bad_n_or_seed(n: object, seed: object) -> None:
    with pytest.raises(ValueError, match="must be a non-negative integer"):
        SearchSpace.from_json(SPACE).sample(n, seed)  # type: ignore[arg-type]
