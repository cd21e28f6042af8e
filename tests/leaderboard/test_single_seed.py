"""A bundle of single-seed runs on the board: no interval and no rank bound anywhere, only why; a warning names the
pool; every infinite time says why. And the usual three-seed bundle still shows intervals."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from board_bundles import APP, RELEASE, VARIANTS, _submission_folder, _trial
from harness.publish import publish, verify
from harness.store import ResultsStore

SINGLE = {  # one scoring seed each; no reference baseline in the pool
    "quick": {"w1": [10], "w2": [20], "w1_variant": [5]},
    "slow": {"w1": [50], "w2": [22], "w1_variant": [6]},
    "lost": {"w1": [8], "w2": [math.inf], "w1_variant": [math.inf]},
}


def fill_single(store: ResultsStore, root: Path, name: str, times: dict[str, list[float]]) -> None:
    """One run as a fresh `podium run` makes it: one tuning trial, its point re-run on one scoring seed."""
    folder = _submission_folder(root, name)
    run_id = f"{name}.external.lite.cpu-2core"
    store.add_run(dict(run_id=run_id, track="training", submission_name=name, submission_dir=str(folder),
                       submission_hash="h", ruleset="external", hardware_class="cpu-2core", release=RELEASE,
                       harness_version="0.1.0", git_commit="abc1234", config_json={}))
    for workload, (t,) in times.items():
        _trial(store, run_id, workload, "tuning", 0, 0, t, 1e-3)
        _trial(store, run_id, workload, "scoring", 0, 0, t, 1e-3)


@pytest.fixture(scope="module")
def single_seed_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("single")
    store = ResultsStore(root / "results.db")
    for name, times in SINGLE.items():
        fill_single(store, root, name, times)
    store.close()
    return publish(root / "results.db", root / "bundles", RELEASE, VARIANTS)


@pytest.fixture
def single_app(single_seed_bundle: Path, monkeypatch: pytest.MonkeyPatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("PODIUM_BOARD_BUNDLES", str(single_seed_bundle))
    return AppTest.from_file(str(APP), default_timeout=60)


def test_the_bundle_verifies_without_the_reference(single_seed_bundle: Path) -> None:
    assert verify(single_seed_bundle, VARIANTS) == []


def test_leaderboard_says_single_seed_and_explains_infinities(single_app) -> None:
    single_app.run()
    assert not single_app.exception
    board = single_app.dataframe[0].value
    assert set(board["score 95% CI"]) == {"single seed: no interval"}
    assert set(board["best rank"]) == {"single seed: no interval"}
    assert (board["n"] == 1).all()
    why = dict(zip(board["score"].index, board["cause"]))
    assert any("w1: ratio 5.00 beyond r_max 4" in text for text in why.values())
    assert any("w2: target missed on 1 of 1 run" in text for text in why.values())  # w2: no registered metric
    assert any("w1: held-out variant w1_variant: target missed" in text for text in why.values())
    assert any("3 of 3 submissions have no score interval" in w.value for w in single_app.warning)


def test_compare_and_submission_pages_say_single_seed(single_app) -> None:
    single_app.query_params.update({"a": "quick", "b": "lost", "sub": "quick"})
    single_app.run()
    single_app.switch_page("screens/compare.py").run()
    assert not single_app.exception
    assert any("single seed: no interval" in m.value for m in single_app.markdown)
    times = single_app.dataframe[0].value.set_index("workload")
    assert times.loc["w1", "interval quick"] == "single seed: no interval"
    assert times.loc["w2", "why lost"].startswith("target missed on 1 of 1 run")
    single_app.switch_page("screens/submission.py").run()
    assert not single_app.exception
    assert any("single seed: no interval" in str(m.proto) for m in single_app.get("metric"))


def test_three_seeds_show_intervals(app) -> None:
    app.run()
    board = app.dataframe[0].value
    assert all(text.startswith("[") for text in board["score 95% CI"])
    assert not any("no interval" in text for text in board["best rank"])
    assert not any("no score interval" in w.value for w in app.warning)
