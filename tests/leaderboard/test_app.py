"""Every page of the board under Streamlit's AppTest: renders, filters change rows, permalinks round-trip."""

from __future__ import annotations

import json
import os
import re

import pytest

PAGES = ["screens/leaderboard.py", "screens/profiles.py", "screens/workload.py", "screens/submission.py",
         "screens/compare.py", "screens/downloads.py", "screens/methodology.py", "screens/submit.py"]


def names(at) -> list[str]:
    """Submissions in the leaderboard table, in displayed order (the cells are links to their pages)."""
    return [re.search(r"[?&]sub=([^&]+)", url).group(1) for url in at.dataframe[0].value["submission"]]


def hidden_reasons(at) -> dict[str, str]:
    frame = at.dataframe[1].value if len(at.dataframe) > 1 else None
    return dict(zip(frame["submission"], frame["reason"])) if frame is not None else {}


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders(app, page: str) -> None:
    app.run()
    app.switch_page(page).run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.title, f"{page} has no title"


def test_leaderboard_default_view(app) -> None:
    app.run()
    assert app.title[0].value == "Leaderboard"
    assert names(app) == ["fails_variant", "adamw", "fast", "never"]
    reasons = hidden_reasons(app)  # nothing filtered; the superseded run is listed as not ranked
    assert "superseded" in reasons["fast"]
    assert any("Defaults:" in c.value for c in app.caption)
    assert any("Held-out variants: AlgoPerf v0.5's rule" in c.value for c in app.caption)  # which rule it shows


def test_search_filters_rows_and_lists_the_hidden(app) -> None:
    app.run()
    app.text_input(key="w_q").input("a").run()
    assert names(app) == ["fails_variant", "adamw", "fast"]
    assert "does not contain 'a'" in hidden_reasons(app)["never"]
    assert app.query_params["q"] == "a"


def test_hide_missed_and_sorting(app) -> None:
    app.run()
    app.checkbox(key="w_hide_missed").check().run()
    assert "never" not in names(app)
    assert "reached no workload" in hidden_reasons(app)["never"]
    app.selectbox(key="w_sort").select("submission").run()
    assert names(app) == ["adamw", "fails_variant", "fast"]
    app.checkbox(key="w_desc").check().run()
    assert names(app) == ["fast", "fails_variant", "adamw"]


def test_column_choice(app) -> None:
    app.run()
    assert "ratio · w1" in app.dataframe[0].value.columns
    app.multiselect(key="w_cols").set_value(["times", "run"]).run()
    columns = list(app.dataframe[0].value.columns)
    assert columns[:3] == ["rank", "submission", "score"]
    assert "time · w1_variant" in columns and "run" in columns and "ratio · w1" not in columns


def test_permalink_round_trip(app) -> None:
    """A link's query parameters set every widget; the URL then carries the same values back."""
    given = {"q": "a", "sort": "speedup_vs_reference", "desc": "1", "cols": "times,run", "hide_missed": "1"}
    app.query_params.update(given)
    app.run()
    assert app.text_input(key="w_q").value == "a"
    assert app.selectbox(key="w_sort").value == "speedup_vs_reference"
    assert app.checkbox(key="w_desc").value is True
    assert app.multiselect(key="w_cols").value == ["times", "run"]
    assert app.selectbox(key="w_ruleset").value == "external"
    assert {k: app.query_params[k] for k in given} == given
    assert len(names(app)) == 3
    link = next(m.value for m in app.sidebar.markdown if "Link to this view" in m.value)
    assert "sort=speedup_vs_reference" in link and "q=a" in link and "cols=times%2Crun" in link


def test_selections_survive_moving_between_pages(app) -> None:
    app.query_params.update({"sub": "fast"})
    app.run()
    app.text_input(key="w_q").input("ada").run()
    app.switch_page("screens/submission.py").run()
    assert app.selectbox(key="w_sub").value == "fast"
    assert app.query_params["q"] == "ada"  # the leaderboard's search is still in the URL
    app.switch_page("screens/leaderboard.py").run()
    assert app.text_input(key="w_q").value == "ada"
    assert names(app) == ["adamw"]


def test_submission_page(app) -> None:
    app.query_params["sub"] = "fails_variant"
    app.run()
    app.switch_page("screens/submission.py").run()
    assert not app.exception
    assert any("README of fails_variant" in m.value for m in app.markdown)
    frames = {tuple(d.value.columns)[:3]: d.value for d in app.dataframe}
    trials = next(d.value for d in app.dataframe if "trial_id" in d.value and "status" in d.value)
    assert len(trials) == 15 and set(trials["status"]) == {"reached", "missed", "failed"}
    failed = trials[trials["status"] == "failed"]
    assert (failed["reason"] == "non-finite loss at step 3").all()
    hparams = next(v for k, v in frames.items() if k == ("workload", "study", "point"))
    assert set(hparams["workload"]) == {"w1", "w2", "w1_variant"} and (hparams["learning_rate"] == 1e-3).all()
    assert any("learning_rate" in c.value for c in app.code)  # the search space


def test_workload_page_curves_and_evaluations(app) -> None:
    app.query_params.update({"wl": "w2", "wsubs": "adamw,fast"})
    app.run()
    app.switch_page("screens/workload.py").run()
    assert not app.exception
    assert app.selectbox(key="w_wl").value == "w2"
    card, ranking, evals = (frame.value for frame in app.dataframe)
    assert set(evals["submission"]) == {"adamw", "fast"} and set(evals["role"]) == {"tuning", "scoring"}
    assert len(evals) == 2 * 5 * 4  # two submissions x (two tuning + three scoring trials) x four evaluations
    assert app.selectbox(key="w_metric").value == "accuracy"
    # the workload card and the ranking on w2: fails_variant 10 s, adamw 21 s, fast 40 s, never a miss
    assert card.set_index("field")["value"]["workload"].startswith("w2")  # the test workloads have no spec
    assert list(ranking["submission"]) == ["fails_variant", "adamw", "fast", "never"]
    assert list(ranking["#"]) == ["1", "2", "3", "–"] and list(ranking["time (s)"])[-1] == "miss"
    names = [t.get("name") for t in json.loads(app.get("plotly_chart")[0].proto.spec)["data"]]
    assert "Pareto front" in names  # time vs steps, the front marked
    app.radio(key="w_wcost").set_value("peak_mib").run()
    assert not app.exception and app.query_params["wcost"] == "peak_mib"


def test_compare_page_with_two_chosen_submissions(app) -> None:
    app.query_params.update({"a": "adamw", "b": "fast"})
    app.run()
    app.switch_page("screens/compare.py").run()
    assert not app.exception
    assert (app.selectbox(key="w_a").value, app.selectbox(key="w_b").value) == ("adamw", "fast")
    times = app.dataframe[0].value.set_index("workload")
    assert times.loc["w1", "time adamw"] == "11.0" and times.loc["w1", "time fast"] == "5.0"
    assert times.loc["w2", "fast / adamw"] == f"{40 / 21:.2f}"
    hp = app.dataframe[1].value  # wide: one row per hyperparameter, both sides on every workload of both runs
    assert hp.columns[0] == "hyperparameter" and set(hp.columns[1:]) == {
        f"{w} · {s}" for w in ("w1", "w2", "w1_variant") for s in ("adamw", "fast")}
    assert hp["w1 · adamw"].tolist() == ["0.001"]
    app.selectbox(key="w_b").select("never").run()
    times = app.dataframe[0].value.set_index("workload")
    assert times.loc["w1", "time never"] == "miss" and times.loc["w1", "never / adamw"] == "never missed"
    assert not app.exception
    app.selectbox(key="w_a").select("fails_variant").run()  # its w1 time is a variant miss, named
    assert app.dataframe[0].value.set_index("workload").loc["w1", "time fails_variant"] == "variant miss: w1_variant"


def test_profiles_page_log_scale(app) -> None:
    app.run()
    app.switch_page("screens/profiles.py").run()
    assert app.multiselect(key="w_psubs").value == ["fails_variant", "adamw", "fast", "never"]
    app.checkbox(key="w_log").check().run()
    assert not app.exception and app.query_params["log"] == "1"


def test_downloads_page(app) -> None:
    app.query_params["q"] = "fa"
    app.run()
    app.switch_page("screens/downloads.py").run()
    assert not app.exception
    assert any("2 rows" in c.value and "search 'fa'" in c.value for c in app.caption)


def test_pool_selectors_follow_the_bundle(app) -> None:
    app.run()
    assert app.selectbox(key="w_release").options == ["r1"]
    assert app.selectbox(key="w_hw").value == "cpu-2core"


def test_a_bundle_without_curves(monkeypatch, tmp_path) -> None:
    """A bundle whose trials have no evaluation rows (an empty ``evals`` table) still renders every page."""
    from streamlit.testing.v1 import AppTest

    from board_bundles import APP, RELEASE, VARIANTS, build_db
    from harness.publish import publish

    bare = publish(build_db(tmp_path, evals=False), tmp_path / "bundles", RELEASE, VARIANTS)
    monkeypatch.setenv("PODIUM_BOARD_BUNDLES", str(bare))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
    at.switch_page("screens/workload.py").run()
    assert any("No evaluation rows" in i.value for i in at.info)


def test_several_bundles_one_release_each(monkeypatch, tmp_path, bundle) -> None:
    from streamlit.testing.v1 import AppTest

    from board_bundles import APP
    from leaderboard.synthetic import SyntheticConfig, write_synthetic_bundle

    tiny = write_synthetic_bundle(tmp_path, SyntheticConfig(submissions=5, workloads=6, studies=1, bootstrap=20,
                                                            evals_per_trial=3, release="tiny"))
    monkeypatch.setenv("PODIUM_BOARD_BUNDLES", f"{bundle}{os.pathsep}{tiny}")
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert at.selectbox(key="w_release").options == ["r1", "tiny"] and names(at)[0] == "fails_variant"
    at.selectbox(key="w_release").select("tiny").run()
    assert len(names(at)) == 5 and at.selectbox(key="w_ruleset").options == ["external", "self"]
    at.selectbox(key="w_ruleset").select("self").run()
    assert len(names(at)) == 2 and at.query_params["ruleset"] == "self"


def test_no_pages_folder_next_to_the_app() -> None:
    """With a pages/ folder, Streamlit serves a page's script on its own (no sidebar, no context) when a
    fresh server's first request is a page URL."""
    from board_bundles import APP

    assert not (APP.parent / "pages").exists()


def test_a_missing_bundle_is_reported(monkeypatch, tmp_path) -> None:
    from streamlit.testing.v1 import AppTest

    from board_bundles import APP

    monkeypatch.setenv("PODIUM_BOARD_BUNDLES", str(tmp_path / "nothing"))
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    assert not at.exception
    assert any("not a release bundle" in e.value for e in at.error)


def _markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_has_the_header(app, bundle, page: str) -> None:
    """Release, last update, hardware class and CPU, harness commit and protocol above every page; no local path."""
    import json

    manifest = json.loads((bundle / "manifest.json").read_text())
    app.run()
    app.switch_page(page).run()
    text = _markdown(app)
    assert f"release **{manifest['release']}**" in text
    assert f"last updated {manifest['created_at'][:10]}" in text
    assert "hardware **" in text and "cores" in text  # the class and what its trials ran on
    assert f"harness `{manifest['harness_commit'][:12]}" in text
    assert re.search(r"protocol \d+(-\d+)? stud", text)
    assert str(bundle) not in text and str(bundle.parent) not in text


def test_methodology_page_uses_the_pools_numbers(app, bundle) -> None:
    import json

    manifest = json.loads((bundle / "manifest.json").read_text())
    app.run()
    app.switch_page("screens/methodology.py").run()
    assert not app.exception, [e.value for e in app.exception]
    text = _markdown(app)
    for needle in ("Targets.", "The clock.", "The protocol.", "Ratios.", "Variants.", "The profile and the score.",
                   "Intervals and n.", f"r_max = {manifest['scoring']['r_max']:g}",
                   f"{manifest['scoring']['bootstrap_samples']} bootstrap resamples", "w1_variant"):
        assert needle in text, needle
    targets = app.dataframe[0].value
    assert "w1" in list(targets["workload"]) and "validation target" in targets.columns
    assert "@misc{podium_" in app.code[0].value and manifest["release"] in app.code[0].value


def test_how_to_submit_page(app) -> None:
    app.run()
    app.switch_page("screens/submit.py").run()
    text = "\n".join([_markdown(app)] + [c.value for c in app.code])
    assert "podium check" in text and "--executor docker" in text and "pull request" in text


def test_score_vs_cost_chart(app) -> None:
    """The profiles page draws the score against a cost of the whole run, the front marked; each cost axis works."""
    app.run()
    app.switch_page("screens/profiles.py").run()
    for axis in ("submission_s", "steps"):
        app.radio(key="w_cost").set_value(axis).run()
        assert not app.exception
        charts = {json.loads(c.proto.spec)["layout"].get("title", {}).get("text", ""): json.loads(c.proto.spec)
                  for c in app.get("plotly_chart")}
        chart = next(v for k, v in charts.items() if k.startswith("score vs"))
        front = next(t for t in chart["data"] if t.get("name") == "Pareto front")
        assert front["text"]  # named submissions on the front
        assert app.query_params["cost"] == axis
    app.radio(key="w_cost").set_value("peak_mib").run()  # the test trials recorded no memory: said, not drawn
    assert any("recorded peak memory (MiB): nothing to draw" in i.value for i in app.info)


def test_invalid_url_parameters_are_reported(app) -> None:
    """A value that is not a choice falls back to the default, and the page says so; so does an unknown name."""
    app.query_params.update({"sort": "no_such_column", "sortt": "rank"})
    app.run()
    warnings = [w.value for w in app.warning]
    assert any("`sort=no_such_column` is not a valid leaderboard sort" in w for w in warnings), warnings
    assert any("Unknown URL parameter `sortt=rank`" in w for w in warnings), warnings
    assert app.selectbox(key="w_sort").value == "rank"
    assert "sortt" not in app.query_params


def test_the_selected_tab_is_in_the_url(app) -> None:
    app.query_params.update({"sub": "adamw", "tab": "Trials"})
    app.run()
    app.switch_page("screens/submission.py").run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.session_state["w_tab"] == "Trials" and app.query_params["tab"] == "Trials"


def test_a_tab_that_does_not_exist_is_reported(app) -> None:
    app.query_params.update({"sub": "adamw", "tab": "Nope"})
    app.run()
    app.switch_page("screens/submission.py").run()
    assert app.query_params["tab"] == "README"
    assert any("`tab=Nope` is not a valid submission: the selected tab" in w.value for w in app.warning)
