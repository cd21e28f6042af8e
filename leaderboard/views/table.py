"""The leaderboard table: one pool's score records, filtered, sorted, with chosen columns; what is hidden and why.

The rows are the bundle's ``scores`` records exactly as :func:`harness.report.score_records` wrote them (a test
checks this against a re-scoring of the same trials); this module only selects, orders and labels them.

Honest uncertainty: a record carries ``n`` (studies x scoring seeds); below the release's minimum its interval and
rank bound are empty and the cell shows the record's ``interval_note`` instead (``single seed: no interval``).
Every infinite time or ratio has its cause in ``why:<workload>``, shown in the "cause" column.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from harness.scoring.reasons import BEST_RANK, infinity_marker
from leaderboard.views import compression, peft

#: Columns every score record has (the rest are per workload: ``time:<w>``, ``ratio:<w>``...).
RECORD_COLUMNS = ("pool", "track", "ruleset", "hardware_class", "release", "submission", "framework", "run_id", "rank",
                  "rank_bound", "n", "score", "score_lo", "score_hi", "interval_note", "speedup_vs_reference",
                  "speedup_note")
WORKLOAD_PREFIXES = ("time:", "ratio:", "time_lo:", "time_hi:", "algoperf_time:", "n:", "why:", "interval_note:")

#: Optional column groups, in display order, with their labels.
COLUMN_GROUPS = {
    "interval": "score 95% interval (with n)",
    "rank_bound": BEST_RANK,
    "speedup": "speedup vs reference",
    "ratios": "per-workload ratio t / best t",
    "variants": "held-out variant times (s)",
    "times": "per-workload time (s)",
    "time_intervals": "per-workload time 95% interval",
    "algoperf": "AlgoPerf-protocol time (s)",
    "why": "why a time or ratio is ∞",
    "run": "run id",
}
DEFAULT_COLUMNS = ("interval", "rank_bound", "speedup", "ratios", "variants", "why")
FIXED_SORTS = ("rank", "score", "speedup_vs_reference", "rank_bound", "submission")


@dataclass(frozen=True)
class TableConfig:
    """What the reader chose. The defaults are stated on the page.

    Attributes:
        search: keep submissions whose name contains this (case-insensitive); empty keeps all.
        sort: a record column; ``rank`` (score, best first) by default.
        descending: reverse the order.
        columns: optional column groups (keys of :data:`COLUMN_GROUPS`).
        hide_missed: hide submissions that reached no workload target.
        peft_costs: show the PEFT columns (:mod:`leaderboard.views.peft`), where the records have them (a PEFT
            pool); they come before the run id.
        compression_measures: show the compression columns (:mod:`leaderboard.views.compression`), where the
            records have them (a compression pool); they come before the run id.
        framework: keep only submissions written in this framework (``pytorch``, ``jax``); empty keeps all.
    """

    search: str = ""
    sort: str = "rank"
    descending: bool = False
    columns: tuple[str, ...] = DEFAULT_COLUMNS
    hide_missed: bool = False
    peft_costs: bool = True
    compression_measures: bool = True
    framework: str = ""


def frameworks(records: pd.DataFrame) -> list[str]:
    """The frameworks of a pool's submissions (a bundle from before JAX has no column: all PyTorch)."""
    return sorted(set(records["framework"])) if "framework" in records.columns and len(records) else ["pytorch"]


def pool_records(scores: pd.DataFrame, pool: str) -> pd.DataFrame:
    """The score records of one pool in rank order, without the workload columns of other pools."""
    if scores.empty or "pool" not in scores:
        return pd.DataFrame(columns=list(RECORD_COLUMNS))
    rows = scores[scores["pool"] == pool].sort_values(["rank", "submission"], kind="stable")
    empty = [c for c in rows.columns if c.startswith(WORKLOAD_PREFIXES) and rows[c].isna().all()]
    return rows.drop(columns=empty).reset_index(drop=True)


def workloads(records: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Base workloads (they have a ratio) and held-out variants (a time only) of a pool's records.

    >>> workloads(pd.DataFrame(columns=["time:a", "ratio:a", "time:a_v"]))
    (['a'], ['a_v'])
    """
    bases = [c.split(":", 1)[1] for c in records.columns if c.startswith("ratio:")]
    variants = [c.split(":", 1)[1] for c in records.columns if c.startswith("time:") and c[5:] not in bases]
    return bases, variants


def sort_options(records: pd.DataFrame) -> list[str]:
    bases, variants = workloads(records)
    return [*FIXED_SORTS, *(f"ratio:{w}" for w in bases), *(f"time:{w}" for w in bases + variants),
            *peft.leaderboard_columns(records), *compression.leaderboard_columns(records)]


def sort_label(key: str) -> str:
    """What the sort selector shows for a record column.

    >>> sort_label("time:fashion_mnist_cnn_batchnorm"), sort_label("speedup_vs_reference"), sort_label("rank")
    ('time on fashion_mnist_cnn_batchnorm', 'speedup vs reference', 'rank (by score)')
    """
    if ":" in key:
        kind, workload = key.split(":", 1)
        if key.startswith(peft.PREFIXES):
            kind = peft.column_spec(key)[0].split(" · ")[0]
        elif key.startswith(compression.PREFIXES):
            kind = compression.column_spec(key)[0].split(" · ")[0]
        return f"{kind} on {workload}"
    return {"rank": "rank (by score)", "rank_bound": BEST_RANK, "speedup_vs_reference": "speedup vs reference"}.get(
        key, key)


def reached_nothing(records: pd.DataFrame) -> pd.Series:
    """True where every *base* workload time is infinite: a row of misses, whatever its held-out variants did (a
    variant is not scored on its own, so reaching only a variant is reaching nothing).

    >>> reached_nothing(pd.DataFrame({"ratio:a": [1.0, float("inf")], "time:a": [3.0, float("inf")],
    ...                               "time:a_v": [4.0, 2.0]})).tolist()
    [False, True]
    """
    import numpy as np

    bases, _ = workloads(records)
    columns = [f"time:{w}" for w in bases] or [c for c in records.columns if c.startswith("time:")]
    times = records[columns].to_numpy(dtype=float)
    return pd.Series(~np.isfinite(times).any(axis=1), index=records.index)


def filter_records(records: pd.DataFrame, cfg: TableConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(shown, hidden)``: hidden has ``submission``, ``run_id`` and the ``reason`` it is not shown."""
    reasons = pd.Series("", index=records.index, dtype=object)
    invalid = ~records["score"].map(lambda v: isinstance(v, float) and math.isfinite(v))
    reasons[invalid] = "invalid: the score is not a finite number"
    if cfg.search:
        miss = ~records["submission"].str.contains(cfg.search, case=False, regex=False)
        reasons[miss & (reasons == "")] = f"hidden by the search: name does not contain {cfg.search!r}"
    if cfg.framework and "framework" in records.columns:
        other = records["framework"] != cfg.framework
        reasons[other & (reasons == "")] = f"hidden by the framework filter: not written in {cfg.framework}"
    if cfg.hide_missed and len(records):
        reasons[reached_nothing(records) & (reasons == "")] = "hidden: reached no workload target (score 0)"
    hidden = records.loc[reasons != "", ["submission", "run_id"]].assign(reason=reasons[reasons != ""])
    return records[reasons == ""], hidden.reset_index(drop=True)


def sort_records(records: pd.DataFrame, key: str, descending: bool = False) -> pd.DataFrame:
    """Stable sort on ``key`` with ties broken by rank; a missing value goes last either way."""
    if key not in records.columns:
        key = "rank"
    ordered = records.sort_values("rank", kind="stable").sort_values(
        key, ascending=not descending, kind="stable", na_position="last")
    return ordered.reset_index(drop=True)


def chosen_columns(records: pd.DataFrame, groups: tuple[str, ...], peft_costs: bool = False,
                   compression_measures: bool = False) -> list[str]:
    """Record columns of the chosen groups, in display order (rank, submission and score always); with
    ``peft_costs``, the PEFT columns the records have, and with ``compression_measures`` the compression columns
    they have, before the run id."""
    bases, variants = workloads(records)
    by_group = {
        "interval": ["n", "score_lo", "score_hi", "interval_note"], "rank_bound": ["rank_bound", "interval_note"],
        "speedup": ["speedup_vs_reference", "speedup_note"], "ratios": [f"ratio:{w}" for w in bases],
        "variants": [f"time:{v}" for v in variants],
        "times": [c for w in bases + variants for c in (f"time:{w}", f"n:{w}")],
        "time_intervals": [c for w in bases for c in (f"time_lo:{w}", f"time_hi:{w}", f"interval_note:{w}")],
        "algoperf": [f"algoperf_time:{w}" for w in bases], "why": [f"why:{w}" for w in bases + variants],
        "run": ["run_id"],
    }
    columns = ["rank", "submission", "score", *(["framework"] if "framework" in records.columns else [])]
    groups = (*groups, "why")  # the causes always travel with the view: a marker or an export needs them
    for group in COLUMN_GROUPS:
        if group == "run" and peft_costs:
            columns += peft.leaderboard_columns(records)
        if group == "run" and compression_measures:
            columns += compression.leaderboard_columns(records)
        if group in groups:
            columns += [c for c in by_group[group] if c in records.columns]
    return list(dict.fromkeys(columns))


def view_records(records: pd.DataFrame, cfg: TableConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The current view as raw records (filtered, sorted, chosen columns), and the hidden entries."""
    shown, hidden = filter_records(records, cfg)
    shown = sort_records(shown, cfg.sort, cfg.descending)
    return shown[chosen_columns(records, cfg.columns, cfg.peft_costs, cfg.compression_measures)], hidden


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def interval_text(lo, hi, note: str = "", digits: int = 3) -> str:
    """An interval as ``[lo, hi]`` text, or, when it has no ends, the note that says why (``–`` without one).

    >>> interval_text(0.25, float("inf")), interval_text(None, None, "single seed: no interval")
    ('[0.250, ∞]', 'single seed: no interval')
    """
    if _missing(lo) or _missing(hi):
        return note if isinstance(note, str) and note else "–"

    def fmt(v: float) -> str:
        return "∞" if v == math.inf else f"{v:.{digits}f}"
    return f"[{fmt(lo)}, {fmt(hi)}]"


def rank_bound_text(bound, note: str = "") -> str:
    """
    >>> rank_bound_text(2.0), rank_bound_text(float("nan"), "single seed: no interval")
    ('2', 'single seed: no interval')
    """
    return (note if isinstance(note, str) and note else "–") if _missing(bound) else str(int(bound))


def n_text(n) -> str:
    """
    >>> n_text(3.0), n_text(None)
    (' · n = 3', '')
    """
    return "" if _missing(n) else f" · n = {int(n)}"


def why_text(row: pd.Series, columns: list[str]) -> str:
    """The causes of a row's infinite times and ratios, one ``workload: cause`` per workload, ``; ``-separated."""
    parts = [f"{c.split(':', 1)[1]}: {row[c]}" for c in columns if isinstance(row[c], str) and row[c]]
    return "; ".join(parts)


def cell_text(value, why: str = "", digits: int = 2) -> str:
    """A time or ratio as a reader sees it: the number, or the marker of why it is infinite (miss, variant miss
    with the variant's name, > r_max: :func:`harness.scoring.reasons.infinity_marker`).

    >>> cell_text(2.0), cell_text(float("inf"), "held-out variant w_v: target missed on 3 of 3 runs")
    ('2.00', 'variant miss: w_v')
    >>> cell_text(float("inf"), "ratio 5.00 beyond r_max 4", 1), cell_text(None)
    ('> r_max', 'miss')
    """
    if _missing(value) or value == math.inf:
        return infinity_marker(why if isinstance(why, str) else "")
    return f"{float(value):.{digits}f}"


def _note(view: pd.DataFrame, column: str) -> pd.Series:
    return view[column] if column in view else pd.Series("", index=view.index)


def display_table(view: pd.DataFrame, link: Callable[[str], str] | None = None,
                  why_column: bool = True) -> pd.DataFrame:
    """Reader-facing labels: intervals as ``[lo, hi]`` text (or why there is none), the rank bound as text (or
    why there is none), the causes of infinite times in one "cause" column, the submission as a link when ``link``
    is given. ``why_column``: show the causes as their own column (they always set the markers of the cells)."""
    out = pd.DataFrame(index=view.index)
    why = [c for c in view.columns if c.startswith("why:")]
    for col in view.columns:
        if col in ("score_hi", "interval_note", "speedup_note") or col.startswith(
                ("time_hi:", "interval_note:", "why:")):
            continue
        if col.startswith(peft.PREFIXES):
            shown = peft.display_column(view, col)  # the trainable count with its share, as text
            if shown is not None:
                out[shown[0]] = shown[1]
            continue
        if col.startswith(compression.PREFIXES):
            label, values = compression.display_column(view, col)
            out[label] = values
            continue
        if col == "score_lo":
            out["score 95% CI"] = [interval_text(lo, hi, note) for lo, hi, note in
                                   zip(view["score_lo"], view["score_hi"], _note(view, "interval_note"))]
        elif col.startswith("time_lo:"):
            w = col.split(":", 1)[1]
            out[f"CI s · {w}"] = [interval_text(lo, hi, note, 1) for lo, hi, note in
                                  zip(view[col], view[f"time_hi:{w}"], _note(view, f"interval_note:{w}"))]
        elif col == "rank_bound":
            out[LABELS[col]] = [rank_bound_text(b, note) for b, note in zip(view[col], _note(view, "interval_note"))]
        elif col == "submission" and link is not None:
            out[col] = view[col].map(link)
        elif col.startswith(("ratio:", "time:", "algoperf_time:")):
            w = col.split(":", 1)[1]
            causes = view[f"why:{w}"] if f"why:{w}" in view else pd.Series("", index=view.index)
            digits = 2 if col.startswith("ratio:") else 1
            out[col.replace(":", " · ")] = [cell_text(v, c, digits) for v, c in zip(view[col], causes)]
        elif col == "speedup_vs_reference":
            out[LABELS[col]] = [speedup_text(v, note) for v, note in zip(view[col], _note(view, "speedup_note"))]
        else:
            out[LABELS.get(col, col.replace(":", " · "))] = view[col]
    if why and why_column:
        out["cause"] = [why_text(row, why) for _, row in view.iterrows()]
    return out


def speedup_text(value, note: str = "") -> str:
    """
    >>> speedup_text(1.234), speedup_text(None), speedup_text(float("nan"), "no reference in this pool")
    ('1.23×', '–', 'no reference in this pool')
    """
    if value is None or pd.isna(value):
        return note if isinstance(note, str) and note else "–"
    return f"{value:.2f}×"


LABELS = {"rank_bound": "best rank", "speedup_vs_reference": "speedup ×", "run_id": "run"}


def flagged_runs(records: pd.DataFrame, runs: pd.DataFrame, submissions: pd.DataFrame, pool: str) -> pd.DataFrame:
    """Entries of the pool that are not ranked (superseded runs) or ranked with a warning (changed source)."""
    track, ruleset, hardware_class, release = pool.split("/", 3)
    rows = []
    latest = dict(zip(records["submission"], records["run_id"]))
    if not runs.empty:
        mine = runs[(runs["track"] == track) & (runs["ruleset"] == ruleset)
                    & (runs["hardware_class"] == hardware_class) & (runs["release"] == release)]
        for sub, run_id in zip(mine["submission_name"], mine["run_id"]):
            if sub in latest and latest[sub] != run_id:
                rows.append((sub, run_id, f"not ranked: superseded by run {latest[sub]} (only the latest run counts)"))
    if not submissions.empty and "current_hash" in submissions:
        for sub, old, new in zip(submissions["submission"], submissions["submission_hash"],
                                 submissions["current_hash"]):
            if sub in latest and new and new != old:
                rows.append((sub, latest[sub], f"ranked, flagged: the submission's source changed after its run "
                                               f"({old[:8]} -> {new[:8]}); the score is for the old source"))
    return pd.DataFrame(rows, columns=["submission", "run_id", "reason"])


def excluded_entries(hidden: pd.DataFrame, records: pd.DataFrame, runs: pd.DataFrame, submissions: pd.DataFrame,
                     pool: str) -> pd.DataFrame:
    """Everything the table does not simply show: hidden by a filter or invalid, not ranked, or flagged."""
    return pd.concat([hidden, flagged_runs(records, runs, submissions, pool)], ignore_index=True)


def workload_ranking(records: pd.DataFrame, workload: str) -> pd.DataFrame:
    """The pool's submissions ranked on one workload by its time (misses last, by overall rank): the time or its
    marker, n, the 95% interval or why there is none, the ratio to the best (base workloads) and the cause of a miss.

    >>> rec = pd.DataFrame({"submission": ["a", "b", "c"], "rank": [1, 2, 3], "time:w": [9.0, 3.0, float("inf")],
    ...                     "why:w": ["", "", "target missed on 1 of 1 run"], "n:w": [3, 3, 3]})
    >>> workload_ranking(rec, "w")[["#", "submission", "time (s)"]].to_dict("records")
    [{'#': '1', 'submission': 'b', 'time (s)': '3.0'}, {'#': '2', 'submission': 'a', 'time (s)': '9.0'}, {'#': '–', 'submission': 'c', 'time (s)': 'miss'}]
    """
    if f"time:{workload}" not in records:
        return pd.DataFrame(columns=["#", "submission", "time (s)"])
    frame = records.assign(_t=records[f"time:{workload}"].astype(float)).sort_values(["_t", "rank"], kind="stable")
    why = frame.get(f"why:{workload}", pd.Series("", index=frame.index)).fillna("")
    finite = frame["_t"].map(math.isfinite)
    out = pd.DataFrame({
        "#": [str(k) if ok else "–" for k, ok in zip(finite.cumsum(), finite)],
        "submission": frame["submission"],
        "time (s)": [cell_text(t, w, 1) for t, w in zip(frame["_t"], why)],
    })
    if f"n:{workload}" in frame:
        out["n"] = [str(int(v)) if not _missing(v) else "–" for v in frame[f"n:{workload}"]]
    if f"time_lo:{workload}" in frame:
        out["95% interval"] = [interval_text(lo, hi, note, 1) for lo, hi, note in zip(
            frame[f"time_lo:{workload}"], frame[f"time_hi:{workload}"], _note(frame, f"interval_note:{workload}"))]
    if f"ratio:{workload}" in frame:
        out["ratio"] = [cell_text(r, w) for r, w in zip(frame[f"ratio:{workload}"], why)]
    out["overall rank"] = [str(int(r)) for r in frame["rank"]]
    out["cause"] = list(why)
    return out.reset_index(drop=True)


#: Colour stops of the ratio table: 1 (the best) green, 2 yellow, r_max red (on log2 of the ratio).
RATIO_COLOURS = ((0.0, (26, 152, 80)), (0.5, (254, 224, 139)), (1.0, (215, 48, 39)))
NO_RATIO_COLOUR = "#d0d0d0"


def ratio_colour(ratio: float, r_max: float) -> str:
    """Background of a ratio cell: green at 1, yellow half-way (log scale), red at r_max; grey without a ratio.

    >>> ratio_colour(1.0, 4.0), ratio_colour(2.0, 4.0), ratio_colour(4.0, 4.0), ratio_colour(float("inf"), 4.0)
    ('#1a9850', '#fee08b', '#d73027', '#d0d0d0')
    """
    if _missing(ratio) or not math.isfinite(ratio) or ratio > r_max or r_max <= 1:
        return NO_RATIO_COLOUR
    x = min(max(math.log2(max(ratio, 1.0)) / math.log2(r_max), 0.0), 1.0)
    for (x0, c0), (x1, c1) in zip(RATIO_COLOURS, RATIO_COLOURS[1:]):
        if x <= x1:
            f = (x - x0) / (x1 - x0)
            return "#" + "".join(f"{round(a + f * (b - a)):02x}" for a, b in zip(c0, c1))
    return "#" + "".join(f"{v:02x}" for v in RATIO_COLOURS[-1][1])


def ratio_table(view: pd.DataFrame, records: pd.DataFrame, r_max: float, limit: int = 40):
    """The per-workload ratios of the first ``limit`` rows of the view as a coloured table (a pandas Styler that
    ``st.table`` draws as HTML: no chart library to load), each cell its ratio or marker, and on hover its
    explanation: the ratio, the time with its interval and n, and the cause of a miss. None when there is nothing to
    draw (no base workload or no row): the page says why instead of an empty table."""
    bases, _ = workloads(records)
    rows = records.set_index("submission").loc[list(view["submission"][:limit])]
    if not bases or rows.empty:
        return None
    text, tips, colours = {}, {}, {}
    for w in bases:
        why = rows[f"why:{w}"].fillna("") if f"why:{w}" in rows else pd.Series("", index=rows.index)
        ratio, time = rows[f"ratio:{w}"].astype(float), rows[f"time:{w}"].astype(float)
        lo = rows.get(f"time_lo:{w}", pd.Series(math.nan, index=rows.index))
        hi = rows.get(f"time_hi:{w}", pd.Series(math.nan, index=rows.index))
        note = rows.get(f"interval_note:{w}", pd.Series("", index=rows.index))
        n = rows.get(f"n:{w}", pd.Series(math.nan, index=rows.index))
        text[w] = [cell_text(r, c) for r, c in zip(ratio, why)]
        colours[w] = [f"background-color: {ratio_colour(r, r_max)}" for r in ratio]
        tips[w] = [
            f"{sub} on {w}: ratio {cell_text(r, c)}; time {cell_text(t, c, 1)}"
            + (" s" if math.isfinite(t) else "") + f", 95% interval {interval_text(a, b, m, 1)}"
            + (f", n = {int(k)}" if not _missing(k) else "") + (f". {c}" if c else "")
            for sub, r, t, a, b, m, k, c in zip(rows.index, ratio, time, lo, hi, note, n, why)]
    shown = pd.DataFrame(text, index=rows.index)
    shown.index.name = "submission"
    styles = pd.DataFrame(colours, index=rows.index)
    return (shown.style.apply(lambda _: styles, axis=None)
            .set_tooltips(pd.DataFrame(tips, index=rows.index), props="visibility: hidden; position: absolute; "
                          "z-index: 10; background-color: #333; color: #fff; padding: 0.4em; font-size: 0.8em; "
                          "width: 22em; white-space: normal;"))
