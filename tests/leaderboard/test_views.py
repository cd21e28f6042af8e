"""The leaderboard's pure functions, on hand-made tables and on the test bundle."""

from __future__ import annotations

import doctest
import importlib
import io
import json
import math
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from board_bundles import ROOT
from leaderboard.bundle import bundle_zip, open_bundle, read_table
from leaderboard.views import compare, curves, export, permalink, profiles, submission, table

INF = math.inf
VIEW_MODULES = ["table", "profiles", "curves", "submission", "compare", "export", "permalink", "pools"]


def records() -> pd.DataFrame:
    """Three score records of one pool (two base workloads, one variant); ``c`` missed everything."""
    rows = []
    for rank, (sub, score, r1, r2) in enumerate([("a", 0.9, 1.0, 1.2), ("b", 0.5, 2.0, 1.0), ("c", 0.0, INF, INF)], 1):
        rows.append({"pool": "t/e/cpu/r", "submission": sub, "run_id": f"{sub}-run", "rank": rank, "rank_bound": 1,
                     "score": score, "score_lo": score - 0.1, "score_hi": score + 0.1,
                     "speedup_vs_reference": {"a": 1.0, "b": 0.8, "c": 0.1}[sub],
                     "time:w1": 10 * r1, "time:w2": 20 * r2, "time:w1_v": INF if sub == "c" else 3.0,
                     "ratio:w1": r1, "ratio:w2": r2, "time_lo:w1": 9 * r1, "time_hi:w1": 11 * r1,
                     "time_lo:w2": 19 * r2, "time_hi:w2": INF, "algoperf_time:w1": 10 * r1,
                     "algoperf_time:w2": 20 * r2})
    return pd.DataFrame(rows)


def test_views_never_import_streamlit() -> None:
    code = ("import sys; import leaderboard.views." + ", leaderboard.views.".join(VIEW_MODULES)
            + "; import leaderboard.bundle, leaderboard.synthetic, leaderboard.serve"
            + "; assert 'streamlit' not in sys.modules, 'streamlit was imported'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    for path in (ROOT / "leaderboard" / "views").glob("*.py"):
        assert "streamlit" not in path.read_text().replace("No Streamlit here", ""), path


@pytest.mark.parametrize("name", [f"leaderboard.views.{m}" for m in VIEW_MODULES]
                         + ["leaderboard.bundle", "leaderboard.serve"])
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_filter_sort_and_columns() -> None:
    cfg = table.TableConfig(search="A", sort="speedup_vs_reference", descending=False, columns=("times", "run"))
    view, hidden = table.view_records(records(), cfg)
    assert list(view["submission"]) == ["a"]
    assert list(view.columns) == ["rank", "submission", "score", "time:w1", "time:w2", "time:w1_v", "run_id"]
    assert set(hidden["submission"]) == {"b", "c"} and hidden["reason"].str.contains("does not contain 'A'").all()
    view, _ = table.view_records(records(), table.TableConfig(sort="speedup_vs_reference"))
    assert list(view["submission"]) == ["c", "b", "a"]
    view, hidden = table.view_records(records(), table.TableConfig(hide_missed=True))
    assert list(view["submission"]) == ["a", "b"] and "reached no workload" in hidden.loc[0, "reason"]


def test_sort_on_an_unknown_column_keeps_rank_order_and_nan_goes_last() -> None:
    rows = records().assign(speedup_vs_reference=[None, 2.0, 1.0])
    assert list(table.sort_records(rows, "nope")["submission"]) == ["a", "b", "c"]
    assert list(table.sort_records(rows, "speedup_vs_reference", True)["submission"]) == ["b", "c", "a"]


def test_display_table_labels_intervals_and_links() -> None:
    view, _ = table.view_records(records(), table.TableConfig(columns=("interval", "time_intervals")))
    shown = table.display_table(view, link=lambda s: f"submission?sub={s}")
    assert list(shown.columns) == ["rank", "submission", "score", "score 95% CI", "CI s · w1", "CI s · w2"]
    assert shown.loc[0, "score 95% CI"] == "[0.800, 1.000]" and shown.loc[0, "CI s · w2"] == "[22.8, ∞]"
    assert shown.loc[2, "submission"] == "submission?sub=c"


def test_workloads_and_pool_records_drop_other_pools_columns() -> None:
    both = pd.concat([records(), records().assign(pool="t/self/cpu/r", **{"time:w9": 1.0})], ignore_index=True)
    mine = table.pool_records(both, "t/e/cpu/r")
    assert "time:w9" not in mine.columns and len(mine) == 3
    assert table.workloads(mine) == (["w1", "w2"], ["w1_v"])


def test_ratio_table_marks_misses_and_explains_each_cell() -> None:
    view, _ = table.view_records(records(), table.TableConfig())
    styler = table.ratio_table(view, records(), r_max=4.0)
    shown = styler.data
    assert list(shown.index) == ["a", "b", "c"] and list(shown.columns) == ["w1", "w2"]
    assert shown.loc["c", "w1"] == "miss" and shown.loc["b", "w1"] == "2.00"
    html = styler.to_html()
    assert table.NO_RATIO_COLOUR in html and table.ratio_colour(2.0, 4.0) in html  # grey miss, yellow 2
    tips = styler.tooltips.tt_data
    assert tips.loc["c", "w1"].startswith("c on w1: ratio miss; time miss")
    with_cause = records().assign(**{"why:w1": ["", "", "target missed on 3 of 3 runs"]})
    assert table.ratio_table(view, with_cause, 4.0).tooltips.tt_data.loc["c", "w1"].endswith(
        ". target missed on 3 of 3 runs")
    assert tips.loc["a", "w1"] == "a on w1: ratio 1.00; time 10.0 s, 95% interval [9.0, 11.0]"


def test_flagged_runs(bundle: Path) -> None:
    ref = open_bundle(bundle)
    scores, runs, subs = (read_table(ref, n) for n in ("scores", "runs", "submissions"))
    pool = scores["pool"].iloc[0]
    rows = table.pool_records(scores, pool)
    flagged = table.flagged_runs(rows, runs, subs, pool)
    assert list(flagged["submission"]) == ["fast"]
    assert "superseded by run fast.external.lite" in flagged.loc[0, "reason"]
    changed = subs.assign(current_hash=["x" * 32] + list(subs["current_hash"][1:]))
    flagged = table.flagged_runs(rows, runs, changed, pool)
    assert any("source changed" in r for r in flagged["reason"])


def test_profile_figure_steps_hover_and_r_max() -> None:
    rows = pd.DataFrame({"pool": "p", "submission": ["a", "a", "a", "b", "b"], "tau": [1.0, 2.0, 4.0, 1.0, 4.0],
                         "rho": [0.5, 1.0, 1.0, 0.0, 0.0],
                         "solved": ['["w1"]', '["w1", "w2"]', '["w1", "w2"]', "[]", "[]"]})
    fig = profiles.profile_figure(rows, ["a", "b"], 2, 4.0, log_x=True, scores={"a": 0.83, "b": 0.0})
    assert [t.name for t in fig.data] == ["a (0.830)", "b (0.000)"]
    assert fig.data[0].line.shape == "hv" and "2 of 2 solved (w1, w2)" in fig.data[0].text[1]
    assert fig.data[1].text[0].endswith("0 of 2 solved (none)")
    assert fig.layout.xaxis.type == "log" and fig.layout.shapes[0].x0 == 4.0


def test_workload_time_and_the_counted_trial() -> None:
    trials = pd.DataFrame({"trial_id": ["t0", "s0", "s1", "s2"], "submission_name": "a",
                           "role": ["tuning", "scoring", "scoring", "scoring"], "study": 0,
                           "status": ["reached", "reached", "missed", "reached"],
                           "time_to_result_s": [1.0, 5.0, None, 7.0]})
    assert curves.workload_time(curves.curve_trials(trials)) == 7.0  # median of 5, 7, inf
    assert curves.the_counted_trial(trials) == "s2"
    assert curves.the_counted_trial(trials.assign(status="missed")) is None


def test_median_band_holds_finished_trials_at_their_last_value() -> None:
    points = pd.DataFrame({"submission": "a", "trial_id": ["x", "x", "y", "y"], "step": [10, 20, 10, 40],
                           "submission_time_s": [1.0, 2.0, 1.0, 4.0], "accuracy": [0.5, 0.9, 0.3, 0.7]})
    band = curves.median_band(points, "accuracy", "time", grid_size=5).set_index("x")
    assert band.loc[4.0, "median"] == pytest.approx(0.8) and band.loc[4.0, "n"] == 2  # x held at 0.9, y at 0.7
    assert band.loc[4.0, "lo"] == pytest.approx(0.7) and band.loc[4.0, "hi"] == pytest.approx(0.9)
    assert 0.0 not in band.index  # no trial had been evaluated yet


def test_workload_curves_from_the_bundle(bundle: Path) -> None:
    ref = open_bundle(bundle)
    scores = read_table(ref, "scores")
    rows = table.pool_records(scores, scores["pool"].iloc[0])
    trials = curves.counted_trials(read_table(ref, "trials"), rows, "w1")
    assert set(trials["run_id"]) == set(rows["run_id"])  # the superseded run of `fast` is not plotted
    points = curves.eval_points(read_table(ref, "evals"), trials)
    assert curves.metric_names(points) == ["accuracy", "loss"]
    fig = curves.curves_figure(points, trials, ["adamw", "fast"], "accuracy", "step", target=0.9)
    names = [t.name for t in fig.data if t.name]
    assert names == ["adamw median", "adamw counted trial", "fast median", "fast counted trial"]
    assert fig.layout.shapes[0].y0 == 0.9


def test_submission_views(bundle: Path) -> None:
    ref = open_bundle(bundle)
    trials = submission.run_trials(read_table(ref, "trials"), "adamw.external.lite.cpu-2core")
    info = submission.submission_info(read_table(ref, "submissions"), "adamw")
    assert "README of adamw" in info["readme"] and '"learning_rate"' in info["search_space"]
    assert info["submission_hash"] == info["current_hash"]
    facts = submission.provenance(read_table(ref, "runs"), trials, "adamw.external.lite.cpu-2core")
    assert facts["git_commit"] == "abc1234" and facts["trial cpu_model"] == "Test CPU"
    assert '"torch": "2.13.0"' in facts["trial packages"] and facts["hardware_class"] == "cpu-2core"
    seeds = submission.seed_table(trials)
    assert set(seeds["role"]) == {"tuning", "scoring"} and len(seeds) == 15


def test_compare_views() -> None:
    sides = compare.time_sides(records(), "a", "b").set_index("workload")
    assert sides.loc["w1", "b / a"] == 2.0 and sides.loc["w2", "hi a"] == INF
    assert list(sides.index) == ["w1", "w2"]
    trials = pd.DataFrame({"workload": "w1", "study": 0, "role": "scoring", "trial_index": 1,
                           "hyperparameters_json": ['{"lr": 0.1, "beta": 0.9}']})
    hp = compare.hyperparameter_sides(trials, trials.assign(hyperparameters_json='{"lr": 0.2}'), "a", "b")
    assert hp.set_index("hyperparameter").loc["lr", ["a", "b"]].tolist() == ["0.1", "0.2"]
    assert hp.set_index("hyperparameter").loc["beta", "b"] == ""
    fig = compare.times_figure(compare.time_sides(records(), "a", "c"), "a", "c")
    assert [t.name for t in fig.data] == ["a", "c", "c: miss"]  # c's miss is drawn, with its marker
    assert set(fig.data[2].text) == {"miss"}


@pytest.mark.parametrize("fmt", list(export.FORMATS))
def test_exports_round_trip(fmt: str) -> None:
    frame = records()
    data = export.table_bytes(frame, fmt)
    back = {"csv": lambda: pd.read_csv(io.BytesIO(data)), "parquet": lambda: pd.read_parquet(io.BytesIO(data)),
            "json": lambda: pd.DataFrame(json.loads(data))}[fmt]()
    miss = None if fmt == "json" else INF  # strict JSON: a miss is null
    assert list(back["submission"]) == ["a", "b", "c"] and back["time_hi:w2"].tolist() == [miss] * 3


def test_bundle_zip_holds_every_file(bundle: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(bundle_zip(bundle))) as archive:
        assert sorted(Path(n).name for n in archive.namelist()) == sorted(p.name for p in bundle.iterdir())


def test_permalink_values_round_trip() -> None:
    for value in ("adamw", True, False, ("ratios", "times"), ()):
        assert permalink.decode(permalink.encode(value), value) == value
