"""`podium agreement`: Kendall's tau between the lite and full suites' rankings, on hand-made score tables."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.agreement import AgreementError, compare, read_scores
from harness.cli import app


def records(scores: dict[str, float], track: str = "training", ruleset: str = "external") -> list[dict]:
    return [{"pool": f"{track}/{ruleset}", "track": track, "ruleset": ruleset, "hardware_class": "x",
             "release": "r", "submission": s, "score": v} for s, v in scores.items()]


LITE = {"adamw": 0.92, "nadamw": 0.88, "nesterov": 0.61, "sgd": 0.40, "lion": 0.75}


def test_the_same_ranking_is_tau_one_and_one_swap_of_five_is_zero_point_eight() -> None:
    (same,) = compare(records(LITE), records({k: v / 2 for k, v in LITE.items()}))  # scale does not matter
    assert same.tau == pytest.approx(1.0) and same.meets_goal
    swapped = dict(LITE, nadamw=0.70, lion=0.80)  # nadamw and lion trade places: 1 discordant pair of 10
    (one,) = compare(records(LITE), records(swapped))
    assert one.tau == pytest.approx(0.8) and one.meets_goal is False
    assert one.lite_order == ["adamw", "nadamw", "lion", "nesterov", "sgd"]
    assert one.full_order == ["adamw", "lion", "nadamw", "nesterov", "sgd"]


def test_only_common_submissions_count_and_pools_match_by_track_and_ruleset() -> None:
    full = records({"adamw": 0.9, "nadamw": 0.8, "nesterov": 0.5, "shampoo": 0.95})
    full += records({"lora": 0.9, "ia3": 0.5, "bitfit": 0.4}, track="peft")
    rows = {(r.track, r.ruleset): r for r in compare(records(LITE), full)}
    training = rows[("training", "external")]
    assert training.common == ["adamw", "nadamw", "nesterov"] and training.tau == pytest.approx(1.0)
    assert training.only_lite == ["lion", "sgd"] and training.only_full == ["shampoo"]
    peft = rows[("peft", "external")]
    assert peft.tau is None and "0 submission(s) scored in both" in peft.note


def test_too_few_or_tied_scores_give_no_tau_and_say_why() -> None:
    (few,) = compare(records({"a": 0.9, "b": 0.1}), records({"a": 0.1, "b": 0.9}))
    assert few.tau is None and "needs at least 3" in few.note
    (tied,) = compare(records({"a": 0.5, "b": 0.5, "c": 0.5}), records({"a": 0.9, "b": 0.5, "c": 0.1}))
    assert tied.tau is None and "same score" in tied.note
    (missed,) = compare(records({"a": 0.9, "b": float("inf"), "c": 0.2, "d": 0.1}),  # a non-finite score is no score
                        records({"a": 0.9, "b": 0.5, "c": 0.3, "d": 0.2}))
    assert missed.common == ["a", "c", "d"]


def test_the_command_reads_json_and_csv_and_refuses_other_files(tmp_path: Path) -> None:
    lite, full = tmp_path / "lite.json", tmp_path / "scores.csv"
    lite.write_text(json.dumps(records(LITE)))
    with full.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(records(LITE)[0]))
        writer.writeheader()
        writer.writerows(records(dict(LITE, nadamw=0.70, lion=0.80)))
    runner = CliRunner()
    result = runner.invoke(app, ["agreement", str(lite), str(full), "--format", "json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    assert row["tau"] == pytest.approx(0.8) and row["goal_tau"] == 0.9 and row["meets_goal"] is False
    table = runner.invoke(app, ["agreement", str(lite), str(full)])
    assert table.exit_code == 0 and "0.800" in table.output
    (tmp_path / "bad.json").write_text("{not json")
    bad = runner.invoke(app, ["agreement", str(tmp_path / "bad.json"), str(full)])
    assert bad.exit_code == 2 and "is not JSON" in " ".join(bad.output.split())
    (tmp_path / "other.json").write_text(json.dumps([{"a": 1}]))
    with pytest.raises(AgreementError, match="no track, ruleset, submission, score"):
        read_scores(tmp_path / "other.json")
    missing = runner.invoke(app, ["agreement", str(tmp_path / "nope.json"), str(full)])
    assert missing.exit_code == 2 and "cannot read" in " ".join(missing.output.split())
