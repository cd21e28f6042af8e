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
