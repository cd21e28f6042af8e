"""The leaderboard shows exactly the score records ``harness.report`` computes for the same trials."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

from harness.report import build_pools, score_pool, score_records
from harness.scoring.reasons import infinity_marker
from harness.store import ResultsStore
from leaderboard.bundle import open_bundle, read_table
from leaderboard.views import table

from board_bundles import VARIANTS


def _same(a, b) -> bool:
    if a is None or b is None:
        return (a is None or (isinstance(a, float) and math.isnan(a))) and \
               (b is None or (isinstance(b, float) and math.isnan(b)))
    if isinstance(a, float) or isinstance(b, float):
        return a == b or abs(float(a) - float(b)) <= 1e-12 * max(1.0, abs(float(a)))
    return a == b


def expected_records(db: Path) -> dict[str, list[dict]]:
    pools = build_pools(ResultsStore(db).trials(), VARIANTS)
    return {pool.key: score_records(pool, score_pool(pool)) for pool in pools}


def test_pool_records_equal_harness_score_records(bundle_db: Path, bundle: Path) -> None:
    scores = read_table(open_bundle(bundle), "scores")
    expected = expected_records(bundle_db)
    assert expected, "the test database scores no pool"
    for pool, records in expected.items():
        shown = table.pool_records(scores, pool).to_dict("records")
        assert [r["submission"] for r in shown] == [r["submission"] for r in records]
        for got, want in zip(shown, records):
            assert set(got) == set(want)
            for key, value in want.items():
                assert _same(got[key], value), (got["submission"], key, got[key], value)


def test_rendered_table_equals_score_records(bundle_db: Path, app) -> None:
    """The table the page draws (default view) has the records' rows, order and numbers."""
    app.run()
    assert not app.exception
    shown = app.dataframe[0].value  # the leaderboard table comes first
    want = pd.DataFrame(next(iter(expected_records(bundle_db).values())))
    names = [re.search(r"[?&]sub=([^&]+)", url).group(1) for url in shown["submission"]]
    assert names == list(want["submission"])
    pairs = {"rank": "rank", "score": "score", "best rank": "rank_bound"}
    for column, key in pairs.items():
        assert all(_same(float(a), float(b)) for a, b in zip(shown[column], want[key])), column
    assert list(shown["speedup ×"]) == [f"{v:.2f}×" for v in want["speedup_vs_reference"]]
    for w in ("w1", "w2"):  # a ratio to 2 decimals, or the marker of why it is infinite, from the record's cause
        for cell, ratio, why in zip(shown[f"ratio · {w}"], want[f"ratio:{w}"], want[f"why:{w}"]):
            if math.isfinite(ratio):
                assert cell == f"{ratio:.2f}"
            else:
                assert cell == infinity_marker(why) and cell in ("miss", "> r_max") or cell.startswith("variant miss: ")
    assert list(shown["time · w1_variant"])  # the held-out variant's column is shown by default
    lo_hi = [f"[{lo:.3f}, {hi:.3f}]" for lo, hi in zip(want["score_lo"], want["score_hi"])]
    assert list(shown["score 95% CI"]) == lo_hi
