"""`podium workloads` fits 80 and 120 columns without cutting a workload name (the user types them)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from harness.cli import app
from workloads import WORKLOADS


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("args", [[], ["--track", "peft"], ["--suite", "lite"], ["--wide"]])
def test_every_name_is_whole_on_one_line_and_nothing_is_wider_than_the_terminal(columns: int, args: list) -> None:
    result = CliRunner().invoke(app, ["workloads", *args], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(len(line) <= columns for line in lines), max(lines, key=len)
    assert "…" not in result.output
    shown = {w for line in lines for w in line.replace("↳", " ").split() if w in WORKLOADS.names()}
    expected = {n for n in WORKLOADS.names() if "--track" not in args or WORKLOADS.get(n).track == "peft"}
    if "--suite" in args:
        expected = {"digits_mlp", "fashion_mnist_mlp", "fashion_mnist_cnn"}
    assert expected <= shown


@pytest.mark.parametrize("columns", [80, 120])
def test_targets_show_is_a_table_that_fits(columns: int) -> None:
    """`podium targets show`: every workload with stored targets and every baseline name whole, one per track."""
    import json

    from workloads import TARGETS_FILE

    result = CliRunner().invoke(app, ["targets", "show"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(len(line) <= columns for line in lines), max(lines, key=len)
    assert "…" not in result.output
    stored = json.loads(TARGETS_FILE.read_text())["workloads"]
    names = {n for n, per in stored.items() if "cpu-2core" in per}
    words = {w for line in lines for w in line.replace("↳", " ").split()}
    assert names <= words
    baselines = {b for per in stored.values() for b in per["cpu-2core"]["provenance"].get("success_rate", {})}
    assert baselines <= words, baselines - words


def test_targets_show_of_an_unknown_class_is_an_error() -> None:
    result = CliRunner().invoke(app, ["targets", "show", "--hardware-class", "tpu-v9"])
    assert result.exit_code == 2 and "no stored targets" in result.output
