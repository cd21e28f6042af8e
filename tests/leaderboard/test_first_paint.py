"""The leaderboard's first paint (``leaderboard/first_paint.py``): the default view's table in the page itself,
the same rows and words as the app's, served only where it is the view the reader asked for."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from pathlib import Path

import pytest
from starlette.requests import Request

from board_bundles import RELEASE
from leaderboard import first_paint
from leaderboard.bundle import open_bundle, read_table
from leaderboard.views import table


def _get(route, query: str = "") -> str:
    scope = {"type": "http", "method": "GET", "path": route.path, "query_string": query.encode(), "headers": [],
             "root_path": ""}
    response = asyncio.run(route.endpoint(Request(scope)))
    assert response.status_code == 200 and response.headers["cache-control"] == "no-cache"
    return response.body.decode()


def _first_paint_rows(page: str) -> list[list[str]]:
    start = page.index(f'<div id="{first_paint.ELEMENT_ID}"')
    body = page[page.index("<tbody>", start):page.index("</tbody>", start)]
    return [re.findall(r"<td>(.*?)</td>", row, re.S) for row in body.split("<tr>")[1:]]


def test_the_first_paint_is_the_default_view_of_the_default_pool(bundle: Path) -> None:
    ref = open_bundle(bundle)
    pool = first_paint.default_pool(ref.manifest())
    assert pool == f"training/external/cpu-2core/{RELEASE}"
    view, _ = table.view_records(table.pool_records(read_table(ref, "scores"), pool), table.TableConfig())
    shown = table.display_table(view)
    page = first_paint.inject(first_paint.streamlit_index(), first_paint.fragment(ref))
    rows = _first_paint_rows(page)
    assert [r[list(shown.columns).index("submission")] for r in rows] == list(shown["submission"]) == [
        "fails_variant", "adamw", "fast", "never"]
    # the same words as the app's table: the variant miss names its variant, the miss is a miss
    cause = list(shown.columns).index("cause")
    assert "w1_variant" in rows[0][cause] and rows[3][cause] == shown["cause"].iloc[3]
    head = page[page.index(f'<div id="{first_paint.ELEMENT_ID}"'):page.index("<table")]
    assert f"release <b>{RELEASE}</b>" in head and "cpu-2core" in head and "Loading the interactive view" in head
    assert str(bundle) not in page and str(bundle.parent) not in page  # no path of the serving machine


def test_streamlit_scripts_wait_for_the_first_paint() -> None:
    """Streamlit's entry module and its preloads leave the head and come back from a script after the first frame;
    nothing else of its page changes."""
    index = first_paint.streamlit_index()
    entry = first_paint.APP_SCRIPT.search(index)
    assert entry is not None, "Streamlit's index.html changed: first_paint.APP_SCRIPT no longer finds its entry"
    page = first_paint.inject(index, '<div id="podium-first-paint"></div>')
    assert first_paint.APP_SCRIPT.search(page) is None and not first_paint.PRELOADS.search(page)
    loader = page[page.rindex("<script>"):]
    assert json.dumps(entry.group(1)) in loader and "modulepreload" in loader and "requestAnimationFrame" in loader
    stripped = first_paint.PRELOADS.sub("", index.replace(entry.group(0), ""))
    assert re.sub(r"<style>.*?</style>|<div id=\"podium-first-paint\"></div>|<script>.*?</script>", "", page,
                  flags=re.S) == re.sub(r"<script>.*?</script>", "", stripped, flags=re.S)
    # another page layout (a future Streamlit): the first paint is still shown, the scripts are left where they are
    assert "<script type=module src=x></script>" in first_paint.inject(
        "<html><head><script type=module src=x></script></head><body></body></html>", "<div></div>")


def test_served_only_where_it_is_the_view_asked_for(bundle: Path, tmp_path: Path) -> None:
    routes = {r.path: r for r in first_paint.routes([bundle])}
    assert set(routes) == {"/", "/home", "/leaderboard"}
    plain = first_paint.streamlit_index()
    for path in routes:
        assert first_paint.ELEMENT_ID in _get(routes[path])
    assert _get(routes["/"], "q=fa") == plain  # a permalink's view: the app alone restores it

    copy = shutil.copytree(bundle, tmp_path / "bundle")
    served = {r.path: r for r in first_paint.routes([copy])}["/"]
    assert "fails_variant" in _get(served)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["pools"] = []  # re-published without a pool: a new manifest hash, a page without the first paint
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert _get(served) == plain
    (copy / "manifest.json").unlink()  # not a bundle any more: Streamlit's page, and the app says what is wrong
    assert _get(served) == plain
    assert _get({r.path: r for r in first_paint.routes([tmp_path / "nothing"])}["/"]) == plain


def test_a_broken_table_serves_the_plain_page(bundle: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    copy = shutil.copytree(bundle, tmp_path / "bundle")
    manifest = json.loads((copy / "manifest.json").read_text())
    (copy / manifest["tables"]["scores"]["file"]).write_bytes(b"not parquet")
    served = {r.path: r for r in first_paint.routes([copy])}["/"]
    assert _get(served) == first_paint.streamlit_index()
    assert "first paint of" in caplog.text


def test_only_the_top_rows_and_it_says_so(bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every element of the first paint is styled again while the app starts (benchmarks/board_browser.py), so it
    holds what a window shows, and says that the rest comes with the app."""
    monkeypatch.setattr(first_paint, "FIRST_ROWS", 2)
    page = first_paint.inject(first_paint.streamlit_index(), first_paint.fragment(open_bundle(bundle)))
    assert [r[1] for r in _first_paint_rows(page)] == ["fails_variant", "adamw"]
    assert "The top 2 of 4; the whole table comes with the interactive view." in page
