"""A workload's made models are made before its trials, once, and the wait is said (harness.runner.made).

The builders here are modules written to a temporary folder: their ``ensure_made`` records its calls and, for the
slow one, waits until the wait has been said, so that no test depends on how fast this machine is.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.executors import ExecutorError
from harness.runner import made
from workloads import get_spec
from workloads.spec import WorkloadSpec

#: a workload made by a test's builder module, and that module's name
Builder = tuple[WorkloadSpec, str]

BUILDERS = {
    "slow": """
        import threading
        calls = []
        said = threading.Event()
        def ensure_made():
            calls.append(1)
            assert said.wait(30), "the wait was never said"
    """,
    "quick": """
        calls = []
        def ensure_made():
            calls.append(1)
    """,
    "broken": """
        from workloads.common.made import MadeMismatchError
        def ensure_made():
            raise MadeMismatchError("making the dense thing left no verified weights")
    """,
    "none": """
        def build():
            pass
    """,
}


@pytest.fixture
def builder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[Builder]:
    """A builder module of the kind ``request.param`` names, under a name no other test uses, and a spec built by it."""
    name = f"podium_test_builder_{request.param}_{tmp_path.name}".replace("-", "_")
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(BUILDERS[request.param]))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(made, "SAY_AFTER_S", 0.01)
    spec = get_spec("fashion_cnn_compress").model_copy(update={"builder": f"{name}:build"})
    yield spec, name
    sys.modules.pop(name, None)


@pytest.mark.parametrize("builder", ["slow"], indirect=True)
def test_a_slow_making_is_said_and_done_once(builder: Builder) -> None:
    spec, name = builder
    said: list[str] = []

    def say(text: str) -> None:
        said.append(text)
        sys.modules[name].said.set()

    made.ensure_made(spec, say=say)
    made.ensure_made(spec, say=say)  # made: the builder is not asked again
    assert sys.modules[name].calls == [1]
    assert len(said) == 2
    assert said[0].startswith("fashion_cnn_compress: making the models it needs in ")
    assert "its trials start after" in said[0]
    assert said[1].startswith("fashion_cnn_compress: models made in ")


@pytest.mark.parametrize("builder", ["quick"], indirect=True)
def test_a_model_already_made_is_not_said(builder: Builder, monkeypatch: pytest.MonkeyPatch) -> None:
    spec, name = builder
    monkeypatch.setattr(made, "SAY_AFTER_S", 30.0)
    said: list[str] = []
    made.ensure_made(spec, say=said.append)
    assert sys.modules[name].calls == [1] and said == []


@pytest.mark.parametrize("builder", ["broken"], indirect=True)
def test_a_model_that_cannot_be_made_is_one_clear_error(builder: Builder) -> None:
    spec, _ = builder
    with pytest.raises(ExecutorError, match="^workload fashion_cnn_compress: making the dense thing left no"):
        made.ensure_made(spec)


@pytest.mark.parametrize("builder", ["none"], indirect=True)
def test_a_builder_with_nothing_to_make_is_left_alone(builder: Builder) -> None:
    spec, _ = builder
    said: list[str] = []
    made.ensure_made(spec, say=said.append)
    assert said == []

