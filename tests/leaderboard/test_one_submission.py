"""A bundle with one submission on every page of the board: no "None" or "nan" anywhere, no chart without data (a
message says why a chart is not drawn), and pages that need two submissions say so."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from board_bundles import APP, RELEASE, TIMES, VARIANTS, _submission_folder, fill
from harness.publish import publish
from harness.store import ResultsStore

PAGES = ["screens/leaderboard.py", "screens/profiles.py", "screens/workload.py", "screens/submission.py",
         "screens/compare.py", "screens/downloads.py", "screens/methodology.py", "screens/submit.py"]
BAD = re.compile(r"\b(None|nan|NaN|Infinity)\b")


@pytest.fixture(scope="module")
def one_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("one")
    store = ResultsStore(root / "results.db")
    fill(store, "adamw", _submission_folder(root, "adamw"), TIMES["adamw"])
    store.close()
    return publish(root / "results.db", root / "bundles", RELEASE, VARIANTS)


def _texts(at) -> list[str]:
    """Every piece of text the page shows: markdown, captions, alerts, metrics and the string cells of tables."""
    out = [e.value for kind in ("markdown", "caption", "info", "warning", "error", "title", "subheader")
           for e in at.get(kind)]
    out += [str(m.proto) for m in at.get("metric")]
    for frame in at.dataframe:
        value = frame.value
        value = value.data if hasattr(value, "data") else value  # a Styler
        out += [str(c) for c in value.columns]
        out += [v for col in value.columns for v in value[col] if isinstance(v, str)]
        # a missing value is drawn as the table's placeholder, or as "None" when it has none
        assert frame.proto.placeholder or not value.isna().to_numpy().any(), list(value.columns)
    return out


@pytest.mark.parametrize("page", PAGES)
def test_one_submission_bundle(one_bundle: Path, monkeypatch: pytest.MonkeyPatch, page: str) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("PODIUM_BOARD_BUNDLES", str(one_bundle))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    bad = [t[:300] for t in _texts(at) if BAD.search(t)]
    assert not bad, bad
    for chart in at.get("plotly_chart"):
        figure = json.loads(chart.proto.spec)
        points = [v for trace in figure.get("data", []) for key in ("x", "y", "z") for v in (trace.get(key) or [])]
        assert points, f"{page}: a chart with no data: {figure.get('layout', {}).get('title')}"
    if page == "screens/compare.py":
        assert any("needs two submissions" in i.value for i in at.info)
