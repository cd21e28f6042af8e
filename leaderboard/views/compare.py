"""Two submissions side by side: hyperparameters, per-workload times with their 95% intervals (or why there is
none), their n and why a time is infinite."""

from __future__ import annotations

import math

import pandas as pd

from leaderboard.views.submission import chosen_hyperparameters
from leaderboard.views.table import cell_text, interval_text, rank_bound_text, workloads


def side_summary(records: pd.DataFrame, sub: str) -> str:
    """One line: rank, best rank, score with its interval and n (or why there is no interval)."""
    r = records.set_index("submission").loc[sub]
    note = r.get("interval_note", "")
    n = f" · n = {int(r['n'])}" if "n" in r and not pd.isna(r["n"]) else ""
    return (f"**{sub}** · rank {r['rank']} (best rank {rank_bound_text(r['rank_bound'], note)}) · score "
            f"{r['score']:.3f} {interval_text(r['score_lo'], r['score_hi'], note)}{n}")


def hyperparameter_sides(trials_a: pd.DataFrame, trials_b: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """One row per (workload, study, hyperparameter) with each side's chosen value ("" where it has none)."""
    sides = {}
    for name, trials in ((a, trials_a), (b, trials_b)):
        chosen = chosen_hyperparameters(trials)
        if not chosen.empty:
            long = chosen.drop(columns=["point"]).melt(["workload", "study"], var_name="hyperparameter")
            sides[name] = long.dropna(subset=["value"]).set_index(["workload", "study", "hyperparameter"])["value"]
    if not sides:
        return pd.DataFrame(columns=["workload", "study", "hyperparameter", a, b])
    joined = pd.DataFrame(sides).reset_index()
    for name in (a, b):
        joined[name] = joined[name].map(_fmt) if name in joined else ""
    return joined[["workload", "study", "hyperparameter", a, b]]


def hyperparameters_wide(long: pd.DataFrame, a: str, b: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The chosen hyperparameters with one row per hyperparameter and, per workload (and study, when there are
    several), a column for each side next to each other; and a same-shaped mask, True on both cells of a pair that
    differ (one side without the hyperparameter counts as different).

    >>> long = pd.DataFrame({"workload": ["w", "w"], "study": [0, 0], "hyperparameter": ["lr", "beta"],
    ...                      "a": ["0.1", "0.9"], "b": ["0.2", "0.9"]})
    >>> wide, differs = hyperparameters_wide(long, "a", "b")
    >>> wide.to_dict("records"), differs["w · a"].tolist()
    ([{'hyperparameter': 'beta', 'w · a': '0.9', 'w · b': '0.9'}, {'hyperparameter': 'lr', 'w · a': '0.1', 'w · b': '0.2'}], [False, True])
    """
    if long.empty:
        return pd.DataFrame(columns=["hyperparameter"]), pd.DataFrame(columns=["hyperparameter"])
    several = long["study"].nunique() > 1
    label = (lambda w, st: f"{w} s{st}") if several else (lambda w, st: str(w))
    keys = list(dict.fromkeys((w, st) for w, st in zip(long["workload"], long["study"])))
    names = sorted(set(long["hyperparameter"]))
    wide = pd.DataFrame({"hyperparameter": names})
    differs = pd.DataFrame({"hyperparameter": [False] * len(names)})
    for w, st in keys:
        part = long[(long["workload"] == w) & (long["study"] == st)].set_index("hyperparameter")
        values = {side: [part.at[n, side] if n in part.index else "" for n in names] for side in (a, b)}
        different = [x != y for x, y in zip(values[a], values[b])]
        for side in (a, b):
            wide[f"{label(w, st)} · {side}"] = values[side]
            differs[f"{label(w, st)} · {side}"] = different
    return wide, differs


def times_table(sides: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """What the page shows of :func:`time_sides`: each time as text, a miss as its marker (miss, variant miss: V,
    > r_max) with the cause beside it, and the ratio, or which side missed."""
    out = pd.DataFrame({"workload": sides["workload"]})
    for side in (a, b):
        out[f"time {side}"] = [cell_text(t, why, 1) for t, why in zip(sides[f"time {side}"], sides[f"why {side}"])]
        out[f"n {side}"] = sides[f"n {side}"]
        out[f"interval {side}"] = sides[f"interval {side}"]
    ratio = []
    for r, ta, tb in zip(sides[f"{b} / {a}"], sides[f"time {a}"], sides[f"time {b}"]):
        missed = [side for side, t in ((a, ta), (b, tb)) if not math.isfinite(t)]
        ratio.append(f"{r:.2f}" if not missed else "both missed" if len(missed) == 2 else f"{missed[0]} missed")
    out[f"{b} / {a}"] = ratio
    for side in (a, b):
        out[f"why {side}"] = sides[f"why {side}"]
    return out


def _fmt(value) -> str:
    """
    >>> _fmt(0.000123456), _fmt(float("nan")), _fmt("relu")
    ('0.000123456', '', 'relu')
    """
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def _cell(rows: pd.DataFrame, side: str, column: str, default):
    value = rows.at[side, column] if side in rows.index and column in rows.columns else default
    return default if value is None or (isinstance(value, float) and math.isnan(value)) else value


def time_sides(records: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """Per base workload: each side's time, n and 95% interval (``inf`` = miss; NaN where there is no interval),
    the interval as text or why there is none, why the time is infinite, and the ratio ``time b / time a``."""
    bases, _ = workloads(records)
    rows = records.set_index("submission")
    out = []
    for w in bases:
        row = {"workload": w}
        for side in (a, b):
            for col, key in (("time", "time"), ("lo", "time_lo"), ("hi", "time_hi")):
                row[f"{col} {side}"] = float(_cell(rows, side, f"{key}:{w}", math.nan))
            row[f"n {side}"] = _cell(rows, side, f"n:{w}", "")
            row[f"interval {side}"] = interval_text(row[f"lo {side}"], row[f"hi {side}"],
                                                    _cell(rows, side, f"interval_note:{w}", ""), 1)
            row[f"why {side}"] = _cell(rows, side, f"why:{w}", "")
        ta, tb = row[f"time {a}"], row[f"time {b}"]
        row[f"{b} / {a}"] = tb / ta if math.isfinite(ta) and math.isfinite(tb) and ta > 0 else math.nan
        out.append(row)
    return pd.DataFrame(out)


def times_figure(sides: pd.DataFrame, a: str, b: str):
    """Each side's workload time with its interval as an error bar (log scale); a miss is a cross above every time,
    labelled with its marker, its cause on hover."""
    import plotly.graph_objects as go

    fig = go.Figure()
    finite_all = [v for c in (f"hi {a}", f"hi {b}", f"time {a}", f"time {b}") for v in sides[c].astype(float)
                  if math.isfinite(v)]
    ceiling = max(finite_all) * 2 if finite_all else 1.0  # where a miss is drawn: above every time
    for i, (side, color) in enumerate(((a, "#1f77b4"), (b, "#ff7f0e"))):
        t, lo, hi = (sides[f"{c} {side}"].astype(float) for c in ("time", "lo", "hi"))
        finite = t.map(math.isfinite)
        fig.add_trace(go.Scatter(
            x=sides["workload"][finite], y=t[finite], mode="markers", name=side,
            marker=dict(color=color, size=10, symbol="circle" if i == 0 else "diamond"),
            error_y=dict(type="data", symmetric=False, array=(hi - t)[finite].where(hi[finite].map(math.isfinite), 0),
                         arrayminus=(t - lo)[finite].fillna(0)),
            customdata=list(sides[f"interval {side}"][finite]), offsetgroup=str(i),
            hovertemplate=f"{side}<br>%{{x}}: %{{y:.1f}} s<br>95% interval: %{{customdata}}<extra></extra>"))
        if (~finite).any():
            causes = sides[f"why {side}"][~finite]
            fig.add_trace(go.Scatter(
                x=sides["workload"][~finite], y=[ceiling] * int((~finite).sum()), mode="markers+text",
                name=f"{side}: miss", text=[cell_text(math.inf, c) for c in causes], textposition="bottom center",
                marker=dict(color=color, size=12, symbol="x"), customdata=list(causes), offsetgroup=str(i),
                hovertemplate=f"{side}<br>%{{x}}: %{{text}}<br>%{{customdata}}<extra></extra>"))
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=30, b=10), scattermode="group", xaxis_title="workload",
                      yaxis=dict(type="log", title="time (s)", **log_ticks(sides)),
                      title=dict(text="workload time with its 95% interval (an interval reaching ∞ has no upper bar; × = miss)",
                                 font=dict(size=13)))
    return fig


def log_ticks(sides: pd.DataFrame) -> dict:
    """Round ticks over the finite values: plotly's own log ticks label 20 and 30 as "2" and "3".

    >>> log_ticks(pd.DataFrame({"lo a": [4.0], "hi a": [30.0]}))["tickvals"]
    [2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 50.0]
    """
    values = [v for c in sides.columns if c.split(" ")[0] in ("time", "lo", "hi") for v in sides[c]
              if isinstance(v, float) and math.isfinite(v) and v > 0]
    if not values:
        return {}
    lo, hi = min(values), max(values)
    low, high = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    steps = (1, 2, 3, 5) if high - low <= 2 else (1, 2, 5) if high - low <= 4 else (1,)
    ticks = [m * 10.0 ** k for k in range(low, high + 1) for m in steps]
    inside = [t for t in ticks if lo / 2 <= t <= hi * 2]
    return {"tickvals": inside, "ticktext": [f"{t:g}" for t in inside]}
