"""The synthetic bundle follows the published layout; ``podium board`` checks its input and stays on loopback."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from harness.cli import app as cli
from harness.publish import TABLES, verify
from leaderboard.serve import BoardConfig, BoardError, check, streamlit_command
from leaderboard.synthetic import SyntheticConfig, workload_names, write_synthetic_bundle

SMALL = SyntheticConfig(submissions=6, workloads=6, studies=1, tuning_points=2, scoring_seeds=3, evals_per_trial=4,
                        bootstrap=50, release="tiny")


def test_synthetic_bundle_has_the_published_layout_and_verifies(tmp_path: Path, bundle: Path) -> None:
    out = write_synthetic_bundle(tmp_path, SMALL)
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["tables"]) == set(TABLES) and manifest["release"] == "tiny"
    assert manifest["tables"]["trials"]["rows"] == (6 + 1) * 6 * 5 + 2 * 6 * 5  # + a superseded run, 2 self runs
    for name in TABLES:  # the columns of a bundle that harness.publish wrote from a real database
        real = {c for c in pd.read_parquet(bundle / f"{name}.parquet").columns if ":" not in c}  # not per workload
        synthetic = {c for c in pd.read_parquet(out / f"{name}.parquet").columns if ":" not in c}
        assert synthetic == real, name
    assert verify(out, workload_names(SMALL)[1]) == []


def test_streamlit_command_serves_loopback_only() -> None:
    command = streamlit_command(BoardConfig((Path("/b/one"), Path("/b/two")), port=8765, headless=True))
    options = dict(zip(command[5::2], command[6::2]))
    assert options["--server.address"] == "127.0.0.1" and options["--server.port"] == "8765"
    assert options["--server.headless"] == "true" and options["--browser.gatherUsageStats"] == "false"
    assert command[command.index("--"):] == ["--", "--bundle", "/b/one", "--bundle", "/b/two", "--url",
                                              "http://127.0.0.1:8765"]


def test_check_lists_every_problem(tmp_path: Path, bundle: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with pytest.raises(BoardError) as caught:
            check(BoardConfig((bundle, tmp_path / "missing"), port=port))
    assert "missing: not a release bundle" in str(caught.value) and f"port {port}" in str(caught.value)


def test_cli_board_refuses_a_folder_that_is_not_a_bundle(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["board", "--bundle", str(tmp_path), "--headless", "--port", "1"])
    assert result.exit_code == 2
    assert "not a" in result.output and "release bundle" in result.output
