"""The PEFT pool on the leaderboard: costs per submission and workload, PEFT columns (only in a PEFT pool), Pareto
fronts, the synthetic PEFT pool, and the pages that show them."""

from __future__ import annotations

import doctest
import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from board_bundles import APP, ROOT
from leaderboard.views import peft, table

INF, NAN = math.inf, math.nan
MIB = 2 ** 20
PEFT_SMALL = dict(submissions=4, workloads=6, studies=1, tuning_points=2, scoring_seeds=3, evals_per_trial=4,
                  bootstrap=30, release="tiny")


# ---- the pure views -----------------------------------------------------------------------------------------------
def test_doctests_and_no_streamlit() -> None:
    assert doctest.testmod(peft, optionflags=doctest.ELLIPSIS).failed == 0
    code = "import sys, leaderboard.views.peft; assert 'streamlit' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_measurement_names_follow_the_harness() -> None:
    from harness.tracks.peft import MEASUREMENTS

    assert peft.MEASUREMENTS == MEASUREMENTS


@pytest.mark.parametrize("points, minimize, front", [
    # hand-checked: (3, 8) is beaten by (2, 7); (5, 3) by (4, 3) (same y, more x); (7, 2) by (6, 1)
    ([(1, 9), (2, 7), (3, 8), (4, 3), (5, 3), (6, 1), (7, 2)], (True, True), [1, 1, 0, 1, 0, 1, 0]),
    # fewer parameters, higher accuracy: (25, .9) is beaten by (20, .9); the rest trade one for the other
    ([(10, .80), (20, .90), (15, .85), (25, .90), (5, .70)], (True, False), [1, 1, 1, 0, 1]),
    # higher is better on both: the two equal best points stay, neither beats the other
    ([(1, 1), (2, 2), (2, 2)], (False, False), [0, 1, 1]),
    ([(3, 3), (3, 3), (3, 3)], (True, True), [1, 1, 1]),  # all tied
    ([(4, 2)], (True, False), [1]),  # a single point
    ([(1, 5), (2, 5), (3, 5)], (True, True), [1, 0, 0]),  # same y: the lowest x only
    ([(1, INF), (1, 3), (NAN, 0), (2, 2)], (True, True), [0, 1, 0, 1]),  # inf compares; NaN is never on it
])
def test_pareto_front_hand_checked(points, minimize, front) -> None:
    assert peft.pareto_front(points, minimize).tolist() == [bool(f) for f in front]


def _dominated(p, q, minimize) -> bool:
    """q dominates p: at least as good on both axes and better on one (the definition, spelled out)."""
    better_or_equal = all((b <= a) if m else (b >= a) for a, b, m in zip(p, q, minimize))
    strictly = any((b < a) if m else (b > a) for a, b, m in zip(p, q, minimize))
    return better_or_equal and strictly


@pytest.mark.parametrize("minimize", list(itertools.product([True, False], repeat=2)))
def test_pareto_front_matches_the_definition(minimize) -> None:
    rng = np.random.default_rng(7)
    for _ in range(40):
        points = [tuple(p) for p in rng.integers(0, 6, size=(int(rng.integers(0, 25)), 2)).astype(float)]  # ties
        want = [not any(_dominated(p, q, minimize) for q in points) for p in points]
        assert peft.pareto_front(points, minimize).tolist() == want
        order = rng.permutation(len(points))  # the order of the points does not matter
        assert peft.pareto_front([points[i] for i in order], minimize).tolist() == [want[i] for i in order]


def _trial(trial_id, run_id, sub, status, t, measurements, role="scoring", validation=None, workload="w"):
    return {"trial_id": trial_id, "run_id": run_id, "submission_name": sub, "workload": workload, "role": role,
            "study": 0, "status": status, "time_to_result_s": t if status == "reached" else None,
            "validation_target": 0.5, "validation_json": json.dumps(validation or {}),
            "measurements_json": None if measurements is None else json.dumps(measurements)}


def _m(trainable, total, memory_mib, adapter_mib=1.0, ratio=1.0, forgetting=0.1):
    return {"trainable_params": trainable, "total_params": total, "peak_memory_bytes": memory_mib * MIB,
            "adapter_bytes": adapter_mib * MIB, "latency_ms": 2 * ratio, "base_latency_ms": 2.0,
            "latency_ratio": ratio, "merged": 1, "forgetting": forgetting}


def hand_trials() -> tuple[pd.DataFrame, pd.DataFrame]:
    """``a``: two of three scoring trials measured and reached, one failed unmeasured, a tuning trial that does not
    count; ``b``: missed everything; ``a``'s superseded run does not count either."""
    rows = [
        _trial("a0", "a-run", "a", "reached", 10.0, _m(100, 10_000, 100, ratio=1.0, forgetting=0.1),
               validation={"loss": 0.30}),
        _trial("a1", "a-run", "a", "reached", 30.0, _m(300, 10_000, 300, ratio=1.2, forgetting=0.3),
               validation={"loss": 0.20}),
        _trial("a2", "a-run", "a", "failed", None, None, validation={}),
        _trial("a3", "a-run", "a", "reached", 1.0, _m(9e9, 1e10, 9e9), role="tuning", validation={"loss": 0.0}),
        _trial("o0", "a-old", "a", "reached", 1.0, _m(9e9, 1e10, 9e9), validation={"loss": 0.0}),
        _trial("b0", "b-run", "b", "missed", None, _m(50, 10_000, 80), validation={"loss": 0.9}),
        _trial("b1", "b-run", "b", "missed", None, _m(50, 10_000, 90), validation={"loss": 0.7}),
    ]
    records = pd.DataFrame({"submission": ["a", "b"], "run_id": ["a-run", "b-run"], "rank": [1, 2]})
    return pd.DataFrame(rows), records


def test_cost_points_are_medians_over_measured_scoring_trials() -> None:
    trials, records = hand_trials()
    points = peft.cost_points(trials, records, {"w": {"metric": "loss", "higher_is_better": False}})
    a, b = (points.set_index("submission").loc[s] for s in ("a", "b"))
    assert list(points["submission"]) == ["a", "b"] and list(points.columns) == list(peft.POINT_COLUMNS)
    assert (a["trials"], a["measured"], a["reached"]) == (3, 2, 2)  # the failed trial counts, unmeasured
    assert a["trainable_params"] == 200 and a["trainable_pct"] == pytest.approx(2.0)
    assert a["peak_memory_mib"] == pytest.approx(200) and a["adapter_mib"] == pytest.approx(1.0)
    assert a["latency_ratio"] == pytest.approx(1.1) and a["forgetting"] == pytest.approx(0.2)
    assert a["time_to_target_s"] == 20.0  # median over the trials that reached
    assert a["metric"] == "loss" and not a["higher_is_better"] and a["metric_value"] == pytest.approx(0.25)
    assert b["time_to_target_s"] == INF and b["reached"] == 0 and b["peak_memory_mib"] == pytest.approx(85)
    # without a spec: the first metric that is not a loss, else the first one; higher is better
    points = peft.cost_points(trials, records)
    assert points["metric"].tolist() == ["loss", "loss"] and points["higher_is_better"].all()


def test_cost_points_of_trials_without_measurements() -> None:
    trials, records = hand_trials()
    assert peft.cost_points(trials.drop(columns="measurements_json"), records)["trainable_params"].isna().all()
    assert peft.cost_points(pd.DataFrame(), records).empty and peft.cost_points(trials, records.iloc[:0]).empty


def training_records() -> pd.DataFrame:
    return pd.DataFrame({"pool": "training/e/cpu/r", "submission": ["a", "b"], "run_id": ["a-run", "b-run"],
                         "rank": [1, 2], "rank_bound": 1, "score": [0.9, 0.4], "score_lo": NAN, "score_hi": NAN,
                         "speedup_vs_reference": 1.0, "time:w": [10.0, INF], "ratio:w": [1.0, INF]})


def test_peft_columns_only_in_a_peft_pool() -> None:
    trials, _ = hand_trials()
    records = training_records()
    plain, _ = table.view_records(records, table.TableConfig())
    assert not any(c.startswith("peft_") for c in plain.columns)
    assert not any(c.startswith("peft_") for c in table.sort_options(records))
    assert peft.with_peft_columns(records, peft.cost_points(pd.DataFrame(), records)) is records

    with_costs = peft.with_peft_columns(records.assign(pool="peft/e/cpu/r"), peft.cost_points(trials, records))
    view, _ = table.view_records(with_costs, table.TableConfig(columns=("ratios", "run")))
    assert list(view.columns) == ["rank", "submission", "score", "ratio:w", *[f"{p}w" for p in peft.PREFIXES],
                                  "run_id"]  # the PEFT columns come before the run id
    assert "peft_memory_mib:w" in table.sort_options(with_costs)
    shown = table.display_table(view)
    assert [c for c in shown.columns if c.endswith("· w") and "ratio" not in c] == [
        "trainable · w", "peak MiB · w", "adapter MiB · w", "latency × · w", "forgetting · w"]
    assert shown["trainable · w"].tolist() == ["200 (2 %)", "50 (0.5 %)"]
    assert shown["peak MiB · w"].tolist() == pytest.approx([200, 85])
    hidden, _ = table.view_records(with_costs, table.TableConfig(peft_costs=False))
    assert not any(c.startswith("peft_") for c in hidden.columns)


def _points(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["submission", "time_to_target_s", "peak_memory_mib", "trainable_params",
                                        "metric_value"])
    return frame.assign(rank=range(1, len(frame) + 1), workload="w", trials=3, measured=3, reached=3,
                        total_params=1e6, trainable_pct=frame["trainable_params"] / 1e4, adapter_mib=1.0,
                        latency_ms=1.0, latency_ratio=1.0, merged=1.0, forgetting=0.0, metric="accuracy",
                        higher_is_better=True, target=0.8)


def _trace(fig, name):
    return next(t for t in fig.data if t.name == name)


def test_memory_time_chart_front_and_misses() -> None:
    points = _points([("fast_big", 10, 900, 1e6, 0.9), ("slow_small", 40, 300, 1e3, 0.85),
                      ("mid", 20, 500, 1e4, 0.88), ("beaten", 30, 600, 1e5, 0.8), ("miss", INF, 100, 10, 0.7),
                      ("unmeasured", 25, NAN, NAN, 0.8)])
    fig = peft.memory_time_figure(points, "w")
    front, line, missed = (_trace(fig, n) for n in ("Pareto front", "Pareto front (step)", "missed the target"))
    assert list(front.text) == ["fast_big", "mid", "slow_small"]  # in increasing time, joined by a step line
    assert list(line.x) == [10, 20, 40] and list(line.y) == [900, 500, 300] and line.line.shape == "hv"
    assert list(_trace(fig, "submissions").x) == [30]  # beaten by mid
    assert list(missed.y) == [100] and missed.x[0] > 40  # the miss at the right edge, not on the front
    assert fig.layout.xaxis.range[1] > missed.x[0]
    assert "1 missed (right edge)" in fig.layout.title.text and "1 without a value" in fig.layout.title.text


def test_params_metric_chart_respects_the_metric_direction() -> None:
    points = _points([("big", 10, 1, 1e6, 0.90), ("small", 10, 1, 1e3, 0.85), ("worse", 10, 1, 1e5, 0.84)])
    fig = peft.params_metric_figure(points, "w")
    assert list(_trace(fig, "Pareto front").text) == ["small", "big"]  # in increasing accuracy
    assert _trace(fig, "Pareto front (step)").line.shape == "vh" and fig.layout.yaxis.type == "log"
    assert fig.layout.shapes[0].x0 == 0.8  # the target
    lower = peft.params_metric_figure(points.assign(higher_is_better=False, metric="loss"), "w")
    assert list(_trace(lower, "Pareto front").text) == ["worse", "small"]  # lower loss is better: big is beaten
    assert "lower is better" in lower.layout.xaxis.title.text


def test_a_chart_of_one_point_or_none() -> None:
    one = peft.memory_time_figure(_points([("only", 5, 10, 10, 0.9)]), "w")
    assert list(_trace(one, "Pareto front").text) == ["only"]
    none = peft.memory_time_figure(_points([]), "w")
    assert len(_trace(none, "Pareto front").x) == 0


# ---- the synthetic PEFT pool ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def peft_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from leaderboard.synthetic import SyntheticConfig, write_synthetic_bundle

    return write_synthetic_bundle(tmp_path_factory.mktemp("peft"), SyntheticConfig(**PEFT_SMALL, peft_submissions=9))


def test_synthetic_peft_pool(peft_bundle: Path, tmp_path: Path) -> None:
    from harness.publish import verify
    from leaderboard.bundle import open_bundle, read_table
    from leaderboard.synthetic import SyntheticConfig, workload_names, write_synthetic_bundle

    cfg = SyntheticConfig(**PEFT_SMALL, peft_submissions=9)
    assert verify(peft_bundle, workload_names(cfg)[1]) == []
    ref = open_bundle(peft_bundle)
    pool = "peft/external/cpu-2core/tiny"
    assert pool in ref.manifest()["pools"]
    trials = read_table(ref, "trials")
    measured = trials["measurements_json"].notna()
    assert set(trials.loc[measured, "track"]) == {"peft"}
    assert (trials.loc[~measured & (trials["track"] == "peft"), "status"] == "failed").all()  # failed: no measures
    assert all(set(json.loads(m)) == set(peft.MEASUREMENTS) for m in trials.loc[measured, "measurements_json"])

    records = table.pool_records(read_table(ref, "scores"), pool)
    assert len(records) == 9 and "peft_method_008" in set(records["submission"])
    points = peft.cost_points(trials, records, ref.manifest()["workloads"]).set_index(["submission", "workload"])
    assert (points["trainable_params"] <= points["total_params"]).all()
    assert points.loc[("full_finetune", "p00"), "trainable_pct"] == 100
    head_only = points.loc[("head_only", "p00")]
    assert head_only["forgetting"] == 0 and head_only["trainable_params"] == 770  # the head alone
    assert points.loc[("prefix_tuning", "p00"), "latency_ratio"] > 1.1 > points.loc[("lora_r8", "p00"), "latency_ratio"]
    assert points.loc[("full_finetune", "p00"), "peak_memory_mib"] > points.loc[("lora_r8", "p00"), "peak_memory_mib"]
    assert (points.loc[points["reached"] > 0, "metric_value"] > points.loc[points["reached"] > 0, "target"]).all()

    # the PEFT pool draws from its own stream: the training pools are those of the same bundle without it
    plain = write_synthetic_bundle(tmp_path, SyntheticConfig(**PEFT_SMALL))
    scores, before = read_table(ref, "scores"), read_table(open_bundle(plain), "scores")
    after = scores[scores["track"] == "training"].dropna(axis=1, how="all").reset_index(drop=True)
    pd.testing.assert_frame_equal(after, before.dropna(axis=1, how="all"), check_like=True, check_dtype=False)


# ---- the pages ----------------------------------------------------------------------------------------------------
def _charts(at) -> list[list[str]]:
    """Trace names of each plotly chart on the page."""
    return [[t.get("name") for t in json.loads(c.proto.spec)["data"]] for c in at.get("plotly_chart")]


def test_pages_of_a_peft_pool(peft_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("PODIUM_BOARD_BUNDLES", str(peft_bundle))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert at.selectbox(key="w_track").value == "training" and at.selectbox(key="w_track").options == ["peft",
                                                                                                          "training"]
    assert not any(c.startswith(("trainable", "peak MiB")) for c in at.dataframe[0].value.columns)
    assert not _charts(at) and [s.value for s in at.subheader] == ["Ratios"]  # no chart library on the first page

    at.selectbox(key="w_track").select("peft").run()
    assert not at.exception, [e.value for e in at.exception]
    columns = list(at.dataframe[0].value.columns)
    for label in ("trainable · p00", "peak MiB · p00", "adapter MiB · p00", "latency × · p00", "forgetting · p01"):
        assert label in columns
    assert columns.index("forgetting · p01") < columns.index("cause")
    assert [s.value for s in at.subheader] == ["Ratios", "Costs: Pareto fronts"]
    charts = _charts(at)
    assert len(charts) == 2 and all("Pareto front" in names for names in charts)
    assert any("PEFT costs per workload" in c.value for c in at.caption)

    at.selectbox(key="w_wl").select("p01").run()
    assert not at.exception and at.query_params["wl"] == "p01"
    at.checkbox(key="w_peft_cols").uncheck().run()
    assert not any(c.startswith("trainable") for c in at.dataframe[0].value.columns)
    assert at.query_params["peft_cols"] == "0"

    at.switch_page("screens/workload.py").run()
    assert not at.exception and at.selectbox(key="w_wl").value == "p01"
    assert "Costs: Pareto fronts" in [s.value for s in at.subheader] and len(_charts(at)) == 5  # cost, 2 curves, 2 fronts
    at.switch_page("screens/downloads.py").run()
    assert not at.exception


def test_first_paint_of_a_peft_pool_has_its_cost_columns(peft_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from leaderboard import first_paint
    from leaderboard.bundle import open_bundle

    ref = open_bundle(peft_bundle)
    pool = next(p for p in ref.manifest()["pools"] if p.startswith("peft/"))
    monkeypatch.setattr(first_paint, "default_pool", lambda manifest: pool)
    page = first_paint.fragment(ref)
    assert f"Pool <b>{pool}</b>" in page and "trainable" in page and "<tbody>" in page
