"""The target-setting procedure's arithmetic on hand-made curves (harness/targets.py)."""

from __future__ import annotations

import json
import math

import pytest

from harness.targets import (
    CurvePoint, TargetSettingError, derive_targets, level_reached_by, set_targets, sustained_level, targets_rows,
)
from workloads import get_spec


def curve(values: list[float], steps_per_eval: int = 100, seconds_per_step: float = 0.01,
          tests: list[float] | None = None) -> list[CurvePoint]:
    tests = tests or [v - 0.01 for v in values]
    return [CurvePoint(step=(i + 1) * steps_per_eval, submission_s=(i + 1) * steps_per_eval * seconds_per_step,
                       validation=v, test=t) for i, (v, t) in enumerate(zip(values, tests))]


def test_a_single_lucky_evaluation_does_not_set_the_level() -> None:
    # windows of 3: (0.90, 0.99, 0.91) -> 0.90; (0.99, 0.91, 0.95) -> 0.91; (0.91, 0.95, 0.96) -> 0.91;
    # (0.95, 0.96, 0.95) -> 0.95. The best held level is 0.95, not the 0.99 spike.
    assert sustained_level([0.90, 0.99, 0.91, 0.95, 0.96, 0.95]) == 0.95


def test_lower_is_better_levels() -> None:
    # windows of 2: (3, 2) -> 3; (2, 2.5) -> 2.5; (2.5, 1) -> 2.5. A loss holds 2.5 at best.
    assert sustained_level([3.0, 2.0, 2.5, 1.0], window=2, higher_is_better=False) == 2.5


def test_short_curves_use_the_whole_curve() -> None:
    assert sustained_level([0.5, 0.7]) == 0.5


def test_level_reached_by_nine_of_ten() -> None:
    levels = [0.91, 0.95, 0.93, 0.90, 0.94, 0.96, 0.92, 0.97, 0.98, 0.99]
    # best first: 0.99 ... 0.91, 0.90: the 9th best (0.91) is reached by 9 of 10 seeds.
    assert level_reached_by(levels) == 0.91
    assert level_reached_by([0.2, 0.1, 0.3], higher_is_better=False) == 0.3  # 90% of 3 -> all 3: the worst


def test_derive_targets_on_hand_made_curves() -> None:
    spec = get_spec("digits_mlp")
    # "good": 10 seeds; seed k plateaus at 0.95 + k/1000 from the 3rd evaluation on (100 updates per evaluation,
    # 0.01 s per update). Sustained levels 0.950 ... 0.959; 90% of seeds reach 0.951 -> target 0.951.
    good = [curve([0.80, 0.90] + [0.95 + k / 1000] * 4) for k in range(10)]
    # "slow": same levels but 0.02 s per update and reaching them only at the 5th evaluation.
    slow = [curve([0.70, 0.80, 0.85, 0.90] + [0.95 + k / 1000] * 4, seconds_per_step=0.02) for k in range(10)]
    slow[0] = curve([0.70] * 8, seconds_per_step=0.02)  # one seed of "slow" never gets there
    derived = derive_targets(spec, {"good": good, "slow": slow}, {"good": 0.01, "slow": 0.02})
    assert derived["best_baseline"] == "good"
    assert derived["validation"] == 0.951
    # good meets 0.951 at its 3rd evaluation (300 updates) on seeds 1..9, never on seed 0 (0.950):
    # median over [inf, 300 x 9] = 300 updates x 0.01 s = 3 s; budget = 3 x 3 s = 9 s.
    assert derived["steps_to_target"]["good"] == [None] + [300] * 9
    assert derived["budget_s"] == 9.0
    assert derived["success_rate"]["good"] == pytest.approx(0.9)
    # slow: seeds 1..9 meet it at 500 updates x 0.02 s = 10 s > 9 s: a miss within the budget.
    assert derived["success_rate"]["slow"] == 0.0
    # test target: the test value (validation - 0.01) at the first hit, reached by 90% of the 9 hits -> 0.941.
    assert derived["test"] == pytest.approx(0.941)


def test_refuses_fewer_than_ten_seeds(capsys) -> None:
    from rich.console import Console

    with pytest.raises(TargetSettingError, match="at least 10 seeds"):
        set_targets(["digits_mlp"], 2, "cpu-2core", write=False, console=Console())


def test_targets_rows_show_success_rates() -> None:
    stored = {"workloads": {"w": {"cpu-2core": {
        "validation": 0.9, "test": 0.8, "budget_s": 12.5,
        "provenance": {"best_baseline": "a", "success_rate": {"a": 1.0, "b": 0.3}, "seeds": 10,
                       "date": "2026-12-01T00:00:00+00:00", "load_average_1min": {"before": 0.1}}}}}}
    (row,) = targets_rows(stored, "cpu-2core")
    assert row["success"] == {"a": 1.0, "b": 0.3} and row["budget_s"] == 12.5 and row["seeds"] == 10
    assert targets_rows(stored, "gpu-h100") == []


def test_stored_targets_meet_the_procedure() -> None:
    """Every stored target records the procedure's figures: >= 10 seeds, the best baseline's success rate >= 90%."""
    from workloads import TARGETS_FILE

    stored = json.loads(TARGETS_FILE.read_text())
    for name, per_hw in stored["workloads"].items():
        for hw, entry in per_hw.items():
            prov = entry["provenance"]
            assert prov["seeds"] >= 10, (name, hw)
            assert prov["success_rate"][prov["best_baseline"]] >= 0.9, (name, hw)
            assert entry["budget_s"] is not None and math.isfinite(entry["budget_s"]), (name, hw)
            assert get_spec(name).budget_for(hw) == entry["budget_s"]


def test_budgets_only_keeps_targets_and_re_derives_budgets(tmp_path, monkeypatch) -> None:
    """A real (short) speed run per baseline; the stored targets and updates-to-target are kept."""
    import harness.targets as targets
    from rich.console import Console

    stored = {"workloads": {"digits_mlp": {"cpu-2core": {
        "validation": 0.5, "test": 0.5, "budget_s": 99.0,
        "provenance": {"best_baseline": "adamw", "seeds": 10,
                       "steps_to_target": {"adamw": [100] * 10, "nadamw": [100] * 9 + [None],
                                           "nesterov": [None] * 10}}}}}}
    path = tmp_path / "targets.json"
    path.write_text(json.dumps(stored))
    monkeypatch.setattr(targets, "TARGETS_FILE", path)
    monkeypatch.setattr(targets, "SPEED_RUNS", 1)
    monkeypatch.setattr(targets, "SPEED_STEPS", 50)
    targets.rebudget(["digits_mlp"], "cpu-2core", write=True, console=Console(quiet=True), force=True)
    entry = json.loads(path.read_text())["workloads"]["digits_mlp"]["cpu-2core"]
    prov = entry["provenance"]
    assert entry["validation"] == 0.5 and entry["budget_s"] != 99.0
    assert set(prov["seconds_per_step"]) == {"adamw", "nadamw", "nesterov"}
    assert prov["success_rate"]["nesterov"] == 0.0 and prov["budget_measured"]["forced"] is True
    assert entry["budget_s"] == targets.round_budget(3 * 100 * prov["seconds_per_step"]["adamw"])


def test_rates_only_keeps_the_target_and_records_another_baselines_success(tmp_path, monkeypatch) -> None:
    """Real (short) curves for nesterov on digits_mlp against a stored target that adamw set: the target and budget
    stay; nesterov's steps to target, time per update and success rate join the provenance."""
    import harness.targets as targets
    from rich.console import Console

    stored = {"workloads": {"digits_mlp": {"cpu-2core": {
        "validation": 0.5, "test": 0.5, "budget_s": 99.0,
        "provenance": {"best_baseline": "adamw", "seeds": 2, "steps_to_target": {"adamw": [100, 100]},
                       "success_rate": {"adamw": 1.0}, "sustained_level_per_seed": {"adamw": [0.0, 0.0]}}}}}}
    path = tmp_path / "targets.json"
    path.write_text(json.dumps(stored))
    monkeypatch.setattr(targets, "TARGETS_FILE", path)
    monkeypatch.setattr(targets, "SPEED_RUNS", 1)
    monkeypatch.setattr(targets, "SPEED_STEPS", 20)
    monkeypatch.setattr(targets, "curves_dir", lambda: tmp_path / "curves")
    console = Console(record=True, width=200)
    targets.measure_rates(["digits_mlp"], 2, "cpu-2core", True, console, ("nesterov",), force=True, workers=2)
    lines = console.export_text()
    entry = json.loads(path.read_text())["workloads"]["digits_mlp"]["cpu-2core"]
    prov = entry["provenance"]
    assert (entry["validation"], entry["budget_s"], prov["best_baseline"]) == (0.5, 99.0, "adamw")
    assert prov["steps_to_target"]["adamw"] == [100, 100] and len(prov["steps_to_target"]["nesterov"]) == 2
    # accuracy 0.5 on ten digits is met within the first updates by any working optimizer
    assert prov["success_rate"]["nesterov"] == 1.0 and prov["seconds_per_step"]["nesterov"] > 0
    assert prov["rates_measured"]["nesterov"]["command"].startswith("podium targets set --rates-only")
    assert "beats adamw's" in lines  # nesterov's sustained levels beat the stand-in 0.0 of the setter
    with pytest.raises(targets.TargetSettingError, match="no such reference baseline"):
        targets.measure_rates(["digits_mlp"], 2, "cpu-2core", False, console, ("sgd_nope",), force=True)


def test_a_named_point_replaces_the_first_and_a_missing_one_is_refused() -> None:
    from harness.demo import baselines
    from harness.runner.run import first_point
    from harness.targets import setting_point, setting_request

    (full,) = baselines("peft", ("full_finetune",))
    assert setting_point(full) == first_point(full)
    second = setting_point(full, 2)
    assert second != first_point(full)
    request = setting_request(get_spec("fashion_cnn_transfer"), full, 0, "cpu-2core", point=2)
    assert request.hyperparameters == second
    with pytest.raises(TargetSettingError, match="lists only 3 fixed points"):
        setting_point(full, 9)
