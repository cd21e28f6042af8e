"""The compression pool on the leaderboard: measurements per submission and workload, compression columns (only in
a compression pool), the two Pareto charts with the floor, the ratio target and what dominates each point, the
synthetic compression pool, and the pages that show them."""

from __future__ import annotations

import ast
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
from leaderboard.views import compression, peft, table

INF, NAN = math.inf, math.nan
POOL = "compression/external/cpu-2core/tiny"
SMALL = dict(submissions=4, workloads=6, studies=1, tuning_points=2, scoring_seeds=3, evals_per_trial=4,
             bootstrap=30, release="tiny")
BYTES_W, LATENCY_W = "fashion_cnn_compress", "fashion_cnn_compress_latency"


# ---- the pure views -----------------------------------------------------------------------------------------------
def test_doctests_and_no_streamlit() -> None:
    assert doctest.testmod(compression, optionflags=doctest.ELLIPSIS).failed == 0
    code = "import sys, leaderboard.views.compression; assert 'streamlit' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_measurement_names_follow_the_harness() -> None:
    """The float keys ``harness.tracks.compression.measure`` returns (read from its source: calling it pins this
    process's threads) are the view's."""
    tree = ast.parse((ROOT / "harness" / "tracks" / "compression.py").read_text())
    measure = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "measure")
    returned = next(n.value for n in ast.walk(measure) if isinstance(n, ast.Return))
    assert isinstance(returned, ast.Call) and returned.func.id == "dict"
    assert tuple(k.arg for k in returned.keywords if k.arg != "dtypes") == compression.MEASUREMENTS


@pytest.mark.parametrize("points, minimize, want", [
    # hand-checked: (3, 8) is beaten by (2, 7); (5, 3) by (4, 3) (same y, more x); (7, 2) by (6, 1)
    ([(1, 9), (2, 7), (3, 8), (4, 3), (5, 3), (6, 1), (7, 2)], (True, True), [[], [], [1], [], [3], [], [5]]),
    # a smaller ratio and a higher accuracy: (0.28, .899) is beaten by both others; (0.45, .903) by (0.27, .905)
    ([(0.27, .905), (0.12, .900), (0.28, .899), (0.45, .903)], (True, False), [[], [], [0, 1], [0]]),
    ([(3, 3), (3, 3), (4, 4)], (True, True), [[], [], [0, 1]]),  # ties do not dominate each other
    ([(1, NAN), (2, 2), (3, 3)], (True, True), [[], [], [1]]),  # NaN: beaten by nothing, beats nothing
    ([(1, INF), (1, 3)], (True, True), [[1], []]),  # inf compares as a number
    ([], (True, True), []),
])
def test_dominators_hand_checked(points, minimize, want) -> None:
    assert compression.dominators(points, minimize) == want


def _dominates(q, p, minimize) -> bool:
    """q dominates p: at least as good on both axes and better on one (the definition, spelled out)."""
    better_or_equal = all((b <= a) if m else (b >= a) for a, b, m in zip(p, q, minimize))
    strictly = any((b < a) if m else (b > a) for a, b, m in zip(p, q, minimize))
    return better_or_equal and strictly


@pytest.mark.parametrize("minimize", list(itertools.product([True, False], repeat=2)))
def test_dominators_match_the_definition_and_the_front(minimize) -> None:
    rng = np.random.default_rng(11)
    for _ in range(40):
        points = [tuple(p) for p in rng.integers(0, 6, size=(int(rng.integers(0, 25)), 2)).astype(float)]  # ties
        got = compression.dominators(points, minimize)
        assert got == [[j for j, q in enumerate(points) if _dominates(q, p, minimize)] for p in points]
        assert [not d for d in got] == peft.pareto_front(points, minimize).tolist()  # the front: nobody beats it


def _m(ratio, size, latency, p50, throughput, sparsity, bits=8.0):
    return {"raw_bytes": size * 2, "bytes": size, "dense_bytes": size / ratio, "bytes_ratio": ratio,
            "sparsity": sparsity, "bits_per_weight": bits, "latency_p50_ms": p50, "latency_p90_ms": p50 * 1.2,
            "dense_latency_p50_ms": p50 / latency, "latency_ratio": latency, "throughput": throughput,
            "dense_throughput": 1000.0, "dtypes": {"qint8": 10}}


def _trial(trial_id, run_id, sub, status, t, measurements, role="scoring", accuracy=None, workload="w"):
    return {"trial_id": trial_id, "run_id": run_id, "submission_name": sub, "workload": workload, "role": role,
            "study": 0, "status": status, "time_to_result_s": t if status == "reached" else None,
            "validation_target": 0.88, "hardware_class": "cpu",
            "validation_json": json.dumps({} if accuracy is None else {"accuracy": accuracy, "loss": 1 - accuracy}),
            "measurements_json": None if measurements is None else json.dumps(measurements)}


SPECS = {"w": {"metric": "accuracy", "higher_is_better": True,
               "compression": {"measure": "latency_ratio", "floor_fraction": 0.99},
               "targets": {"cpu": {"validation": 0.85, "test": 0.84, "compression_ratio": 0.95}}}}


def hand_trials() -> tuple[pd.DataFrame, pd.DataFrame]:
    """``a``: two of three scoring trials measured and reached, one failed unmeasured, a tuning trial and a
    superseded run that do not count; ``b``: measured, missed everything."""
    rows = [
        _trial("a0", "a-run", "a", "reached", 10.0, _m(0.2, 200, 0.9, 0.3, 1000, 0.5), accuracy=0.90),
        _trial("a1", "a-run", "a", "reached", 30.0, _m(0.4, 400, 1.1, 0.5, 3000, 0.7), accuracy=0.92),
        _trial("a2", "a-run", "a", "failed", None, None),
        _trial("a3", "a-run", "a", "reached", 1.0, _m(0.01, 1, 0.01, 0.01, 9e9, 0.99), role="tuning", accuracy=1.0),
        _trial("o0", "a-old", "a", "reached", 1.0, _m(0.01, 1, 0.01, 0.01, 9e9, 0.99), accuracy=1.0),
        _trial("b0", "b-run", "b", "missed", None, _m(0.1, 100, 0.7, 0.2, 5000, 0.0, 4.0), accuracy=0.80),
        _trial("b1", "b-run", "b", "missed", None, _m(0.3, 300, 0.9, 0.4, 7000, 0.0, 4.0), accuracy=0.84),
    ]
    records = pd.DataFrame({"submission": ["a", "b"], "run_id": ["a-run", "b-run"], "rank": [1, 2]})
    return pd.DataFrame(rows), records


def test_cost_points_are_medians_over_the_counted_trials() -> None:
    trials, records = hand_trials()
    points = compression.cost_points(trials, records, SPECS, "cpu")
    assert list(points["submission"]) == ["a", "b"] and list(points.columns) == list(compression.POINT_COLUMNS)
    a, b = (points.set_index("submission").loc[s] for s in ("a", "b"))
    assert (a["trials"], a["measured"], a["reached"]) == (3, 2, 2)  # the failed trial counts, unmeasured
    assert a["bytes_ratio"] == pytest.approx(0.3) and a["bytes"] == pytest.approx(300)
    assert a["latency_ratio"] == pytest.approx(1.0) and a["latency_p50_ms"] == pytest.approx(0.4)
    assert a["throughput"] == pytest.approx(2000) and a["sparsity"] == pytest.approx(0.6)
    assert a["bits_per_weight"] == 8 and a["metric"] == "accuracy" and a["higher_is_better"]
    assert a["metric_value"] == pytest.approx(0.91)  # median over the trials evaluated (not the failed one)
    assert a["time_to_target_s"] == 20.0  # median over the trials that reached
    assert (b["reached"], b["time_to_target_s"], b["measured"]) == (0, INF, 2)  # a miss
    assert b["bytes_ratio"] == pytest.approx(0.2) and b["metric_value"] == pytest.approx(0.82)
    # the floor the trials were judged by; the measure and the ratio target of the pool's hardware class
    assert (a["floor"], a["measure"], a["ratio_target"]) == (0.88, "latency_ratio", 0.95)
    # without a validation target on the trials: the manifest's floor; on another class: no targets
    floors = compression.cost_points(trials.drop(columns="validation_target"), records, SPECS, "cpu")["floor"]
    assert floors.tolist() == [0.85, 0.85]
    other = compression.cost_points(trials, records, SPECS, "gpu")
    assert other["ratio_target"].isna().all() and (other["measure"] == "latency_ratio").all()
    # the hardware class read from the trials when the caller does not give it
    assert compression.cost_points(trials, records, SPECS)["ratio_target"].tolist() == [0.95, 0.95]
    # without a spec: accuracy, higher is better, no measure nor ratio target
    plain = compression.cost_points(trials, records)
    assert plain["metric"].tolist() == ["accuracy"] * 2 and plain["measure"].isna().all()


def test_cost_points_of_trials_without_measurements() -> None:
    trials, records = hand_trials()
    unmeasured = compression.cost_points(trials.drop(columns="measurements_json"), records)
    assert unmeasured["bytes_ratio"].isna().all() and (unmeasured["measured"] == 0).all()
    assert compression.cost_points(pd.DataFrame(), records).empty
    assert compression.cost_points(trials, records.iloc[:0]).empty


# ---- the leaderboard's columns ------------------------------------------------------------------------------------
def _records(pool: str) -> pd.DataFrame:
    return pd.DataFrame({"pool": pool, "submission": ["a", "b"], "run_id": ["a-run", "b-run"], "rank": [1, 2],
                         "rank_bound": 1, "score": [0.9, 0.4], "score_lo": NAN, "score_hi": NAN,
                         "speedup_vs_reference": 1.0, "time:w": [10.0, INF], "ratio:w": [1.0, INF]})


def test_compression_columns_only_in_a_compression_pool() -> None:
    trials, _ = hand_trials()
    for pool in ("training/e/cpu/r", "peft/e/cpu/r"):  # a training or PEFT pool: no compression column anywhere
        records = _records(pool)
        if pool.startswith("peft/"):
            records = peft.with_peft_columns(records, peft.cost_points(trials, records))
        view, _ = table.view_records(records, table.TableConfig(columns=("ratios", "run")))
        assert not any(c.startswith("compression_") for c in [*view.columns, *table.sort_options(records)])
        assert not any("bytes ×" in c for c in table.display_table(view).columns)
    records = _records("compression/e/cpu/r")
    assert compression.with_compression_columns(records, compression.cost_points(pd.DataFrame(), records)) is records

    points = compression.cost_points(trials, records, SPECS, "cpu")
    with_measures = compression.with_compression_columns(records, points)
    view, _ = table.view_records(with_measures, table.TableConfig(columns=("ratios", "run")))
    assert list(view.columns) == ["rank", "submission", "score", "ratio:w",
                                  *[f"{p}w" for p in compression.PREFIXES], "run_id"]  # before the run id
    assert "compression_bytes_ratio:w" in table.sort_options(with_measures)
    assert table.sort_label("compression_latency_ratio:w") == "latency × on w"
    shown = table.display_table(view)
    assert [c for c in shown.columns if c.endswith("· w") and "ratio" not in c] == [
        "bytes × · w", "latency × · w", "sparsity · w", "bits/weight · w"]
    assert shown["bytes × · w"].tolist() == pytest.approx([0.3, 0.2])
    assert shown["bits/weight · w"].tolist() == [8.0, 4.0]
    off, _ = table.view_records(with_measures, table.TableConfig(compression_measures=False))
    assert not any(c.startswith("compression_") for c in off.columns)
    ordered, _ = table.view_records(with_measures, table.TableConfig(sort="compression_bytes_ratio:w"))
    assert list(ordered["submission"]) == ["b", "a"]


# ---- the charts ---------------------------------------------------------------------------------------------------
def _points(rows, higher=True, metric="accuracy", measure="bytes_ratio", target=0.30, floor=0.896) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["submission", "bytes_ratio", "latency_ratio", "metric_value"])
    return frame.assign(rank=range(1, len(frame) + 1), workload="w", trials=3, measured=3, reached=[2] * len(frame),
                        bytes=1000 * frame["bytes_ratio"], latency_p50_ms=0.3, throughput=9000.0, sparsity=0.0,
                        bits_per_weight=8.0, time_to_target_s=5.0, metric=metric, higher_is_better=higher,
                        floor=floor, measure=measure, ratio_target=target)[list(compression.POINT_COLUMNS)]


#: submission, bytes ratio, latency ratio, accuracy (rank order)
ROWS = [("int8", 0.27, 0.92, 0.905), ("prune_int8", 0.12, 0.90, 0.900), ("magnitude", 0.28, 1.00, 0.899),
        ("low_rank", 0.45, 0.62, 0.903), ("unmeasured", NAN, NAN, 0.9)]


def _trace(fig, name):
    return next(t for t in fig.data if t.name == name)


def _lines(fig) -> list[tuple[str, float]]:
    """The dotted lines: ("h", y) across, ("v", x) upright."""
    out = []
    for s in fig.layout.shapes:
        assert s.line.dash == "dot"
        out.append(("h", s.y0) if s.y0 == s.y1 and s.xref == "x domain" else ("v", s.x0))
    return out


def test_bytes_chart_front_lines_and_hover() -> None:
    fig = compression.bytes_figure(_points(ROWS), "w")
    assert list(_trace(fig, "Pareto front").text) == ["prune_int8", "int8"]  # in increasing bytes ratio
    line = _trace(fig, "Pareto front (step)")
    assert list(line.x) == [0.12, 0.27] and line.line.shape == "hv"
    rest = _trace(fig, "submissions")
    assert list(rest.x) == [0.28, 0.45] and list(rest.y) == [0.899, 0.903]
    hover = dict(zip(rest.x, rest.text))
    assert hover[0.28].endswith("<br>dominated by: int8, prune_int8")  # by name, in rank order
    assert hover[0.45].endswith("<br>dominated by: int8") and "<b>low_rank</b>" in hover[0.45]
    front = _trace(fig, "Pareto front")
    assert not any("dominated by" in h for h in front.customdata) and "on the Pareto front" in front.hovertemplate
    assert _lines(fig) == [("h", 0.896), ("v", 0.30)]  # the floor and, bytes being the measure, the ratio target
    assert "1 without a value on an axis left out" in fig.layout.title.text  # unmeasured
    assert "accuracy vs bytes ratio" in fig.layout.title.text and "lower is better" in fig.layout.xaxis.title.text
    assert not any(t.name == "missed the target" for t in fig.data)


def test_latency_chart_has_no_bytes_target_and_names_every_dominator() -> None:
    fig = compression.latency_figure(_points(ROWS), "w")
    assert list(_trace(fig, "Pareto front").text) == ["low_rank", "int8"]
    rest = _trace(fig, "submissions")
    hover = dict(zip(rest.x, rest.text))
    assert hover[1.0].endswith("dominated by: int8, prune_int8, low_rank") and hover[0.9].endswith(
        "dominated by: low_rank")
    assert _lines(fig) == [("h", 0.896)]  # the bytes target is not this chart's
    target = compression.latency_figure(_points(ROWS, measure="latency_ratio", target=0.95), "w")
    assert _lines(target) == [("h", 0.896), ("v", 0.95)]
    assert _lines(compression.bytes_figure(_points(ROWS, measure="latency_ratio", target=0.95), "w")) == [
        ("h", 0.896)]


def test_a_lower_is_better_metric_and_the_hover_limit() -> None:
    rows = [("a", 0.2, 1.0, 0.30), ("b", 0.3, 1.0, 0.25), ("c", 0.4, 1.0, 0.35)]
    fig = compression.bytes_figure(_points(rows, higher=False, metric="loss", floor=NAN, target=NAN), "w")
    assert list(_trace(fig, "Pareto front").text) == ["a", "b"] and list(_trace(fig, "submissions").text)[0].endswith(
        "dominated by: a, b")
    assert _trace(fig, "Pareto front (step)").line.shape == "hv" and "lower is better" in fig.layout.yaxis.title.text
    assert _lines(fig) == []  # no floor, no target: no line
    many = [(f"s{i}", 0.1 + i / 100, 1.0, 0.9 - i / 100) for i in range(12)]
    text = list(_trace(compression.bytes_figure(_points(many), "w"), "submissions").text)[-1]
    assert text.endswith("dominated by: s0, s1, s2, s3, s4, s5, s6, s7 and 3 more")


def test_a_chart_of_one_point_or_none() -> None:
    one = compression.bytes_figure(_points(ROWS[:1]), "w")
    assert list(_trace(one, "Pareto front").text) == ["int8"] and len(_trace(one, "submissions").x) == 0
    none = compression.latency_figure(_points([]), "w")
    assert len(_trace(none, "Pareto front").x) == 0


def test_how_to_submit_and_the_workload_card_of_the_track() -> None:
    from leaderboard.views import about

    text = about.how_to_submit_markdown("compression", "r1", "cpu-2core")
    assert "`submission.py` with `compress(model, workload, calibration_batches, train_queue, hyperparameters, rng)`" \
           in text and "`harness/tracks/compression.py`" in text
    manifest = {"workloads": {"w": {**SPECS["w"], "metric": "accuracy"}, "t": {"metric": "accuracy"}}}
    card = about.workload_card(manifest, "w", "cpu").set_index("field")["value"]
    assert card["compression target on cpu"].startswith("latency_ratio at most 0.95 (batch-1 p50 latency")
    assert "99% of the dense model's metric" in card["compression target on cpu"]
    assert "compression target on cpu" not in set(about.workload_card(manifest, "t", "cpu")["field"])


# ---- the synthetic compression pool --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compression_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from leaderboard.synthetic import SyntheticConfig, write_synthetic_bundle

    return write_synthetic_bundle(tmp_path_factory.mktemp("compression"), SyntheticConfig(
        **SMALL, peft_submissions=3, compression_submissions=6))


def test_synthetic_compression_pool(compression_bundle: Path, tmp_path: Path) -> None:
    from harness.publish import verify
    from leaderboard.bundle import open_bundle, read_table
    from leaderboard.synthetic import SyntheticConfig, variants, write_synthetic_bundle

    cfg = SyntheticConfig(**SMALL, peft_submissions=3, compression_submissions=6)
    assert verify(compression_bundle, variants(cfg)) == []
    ref = open_bundle(compression_bundle)
    manifest = ref.manifest()
    assert POOL in manifest["pools"] and manifest["scoring"]["variants"][POOL] == []  # two goals, two bases
    spec = manifest["workloads"][LATENCY_W]
    assert spec["compression"]["measure"] == "latency_ratio" and spec["base"] is None
    assert spec["targets"]["cpu-2core"]["compression_ratio"] == 0.95
    trials = read_table(ref, "trials")
    mine = trials[trials["track"] == "compression"]
    measured = mine["measurements_json"].notna()
    assert (mine.loc[~measured, "status"] == "failed").all() and measured.sum() > 0.9 * len(mine)
    assert all(set(json.loads(m)) == {*compression.MEASUREMENTS, "dtypes"} for m in mine.loc[measured,
                                                                                              "measurements_json"])
    assert set(trials.loc[trials["measurements_json"].notna(), "track"]) == {"peft", "compression"}

    records = table.pool_records(read_table(ref, "scores"), POOL)
    assert set(records["submission"]) == {"dynamic_int8", "magnitude_prune", "prune_int8", "low_rank",
                                          "layer_drop_distill", "compress_method_005"}
    points = compression.cost_points(trials, records, manifest["workloads"], "cpu-2core").set_index(
        ["submission", "workload"])
    assert (points["measure"] == points.index.get_level_values("workload").map(
        {BYTES_W: "bytes_ratio", LATENCY_W: "latency_ratio"})).all()
    assert points.loc[("prune_int8", BYTES_W), "bytes_ratio"] < points.loc[("dynamic_int8", BYTES_W), "bytes_ratio"]
    assert points.loc[("magnitude_prune", BYTES_W), "sparsity"] == 0.8
    assert points.loc[("magnitude_prune", BYTES_W), "bits_per_weight"] == 32
    assert points.loc[("low_rank", LATENCY_W), "latency_ratio"] < 0.95 < points.loc[("low_rank", BYTES_W),
                                                                                      "bytes_ratio"] * 3
    # some reach, some miss on latency: magnitude pruning meets the bytes target, not the latency one
    assert points.loc[("magnitude_prune", BYTES_W), "reached"] > 0 == points.loc[("magnitude_prune", LATENCY_W),
                                                                                  "reached"]
    assert points.loc[("magnitude_prune", LATENCY_W), "time_to_target_s"] == INF
    assert points.loc[("dynamic_int8", BYTES_W), "reached"] == 3
    # the two goals are two bases: missing the latency one leaves the bytes one counted (no held-out variant rule)
    why = records.set_index("submission").loc["magnitude_prune"]
    assert not why[f"why:{BYTES_W}"] and why[f"why:{LATENCY_W}"], why

    # the compression pool draws from its own stream: the other pools are those of the same bundle without it
    plain = write_synthetic_bundle(tmp_path, SyntheticConfig(**SMALL, peft_submissions=3))
    scores, before = read_table(ref, "scores"), read_table(open_bundle(plain), "scores")
    after = scores[scores["track"] != "compression"].dropna(axis=1, how="all").reset_index(drop=True)
    pd.testing.assert_frame_equal(after, before.dropna(axis=1, how="all"), check_like=True, check_dtype=False)
    old = read_table(open_bundle(plain), "trials")
    pd.testing.assert_frame_equal(trials[trials["track"] != "compression"].reset_index(drop=True), old,
                                  check_dtype=False)


# ---- the pages ----------------------------------------------------------------------------------------------------
def _charts(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _measure_columns(at) -> list[str]:
    """The compression columns the leaderboard table shows (a PEFT pool has a "latency ×" of its own)."""
    return [c for c in at.dataframe[0].value.columns if c.startswith(("bytes ×", "sparsity", "bits/"))]


def test_pages_of_a_compression_pool(compression_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("PODIUM_BOARD_BUNDLES", str(compression_bundle))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert at.selectbox(key="w_track").value == "training"
    assert at.selectbox(key="w_track").options == ["compression", "peft", "training"]
    assert not _measure_columns(at) and not any(c.key == "w_compression_cols" for c in at.checkbox)

    at.selectbox(key="w_track").select("peft").run()  # a PEFT pool: its own columns, none of these
    assert not at.exception and not _measure_columns(at)
    assert not any(c.key == "w_compression_cols" for c in at.checkbox)

    at.selectbox(key="w_track").select("compression").run()
    assert not at.exception, [e.value for e in at.exception]
    columns = list(at.dataframe[0].value.columns)
    for label in ("bytes × · fashion_cnn_compress", "latency × · fashion_cnn_compress", "sparsity · "
                  "fashion_cnn_compress", "bits/weight · fashion_cnn_compress_latency"):
        assert label in columns
    assert not any(c.startswith(("trainable", "peak MiB")) for c in columns)
    assert columns.index("bits/weight · fashion_cnn_compress_latency") < columns.index("cause")
    assert at.checkbox(key="w_compression_cols").label.startswith("Compression measurements per workload")
    assert [s.value for s in at.subheader] == ["Ratios", "Compression: Pareto fronts"]
    charts = _charts(at)
    assert [c["layout"]["title"]["text"].split(" · ")[0] for c in charts] == [
        f"{BYTES_W}: accuracy vs bytes ratio", f"{BYTES_W}: accuracy vs latency ratio"]
    assert all("Pareto front" in [t.get("name") for t in c["data"]] for c in charts)
    assert [len(c["layout"]["shapes"]) for c in charts] == [2, 1]  # floor + bytes target; floor
    hover = [h for c in charts for t in c["data"] for h in (t.get("text") or []) if "dominated by:" in str(h)]
    assert hover, "no point's hover names what dominates it"
    assert any("Compression measurements per workload" in c.value for c in at.caption)

    at.selectbox(key="w_wl").select(LATENCY_W).run()
    assert not at.exception and at.query_params["wl"] == LATENCY_W
    assert [len(c["layout"]["shapes"]) for c in _charts(at)] == [1, 2]  # floor; floor + latency target
    at.checkbox(key="w_compression_cols").uncheck().run()
    assert not _measure_columns(at) and at.query_params["compression_cols"] == "0"

    at.switch_page("screens/workload.py").run()
    assert not at.exception and at.selectbox(key="w_wl").value == LATENCY_W
    assert "Compression: Pareto fronts" in [s.value for s in at.subheader]
    assert len(_charts(at)) == 5  # cost, 2 curves, 2 fronts
    card = at.dataframe[0].value.set_index("field")["value"]  # the workload card comes first
    assert card["compression target on cpu-2core"].startswith("latency_ratio at most 0.95")
    for page in ("screens/downloads.py", "screens/methodology.py", "screens/submit.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
    assert any("`compress(model, workload, calibration_batches" in m.value for m in at.markdown)


def test_first_paint_of_a_compression_pool_has_its_columns(compression_bundle: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from leaderboard import first_paint
    from leaderboard.bundle import open_bundle

    ref = open_bundle(compression_bundle)
    monkeypatch.setattr(first_paint, "default_pool", lambda manifest: POOL)
    page = first_paint.fragment(ref)
    assert f"Pool <b>{POOL}</b>" in page and "bytes × · fashion_cnn_compress" in page and "<tbody>" in page
