"""Two submissions side by side: hyperparameters, per-workload times with their 95% intervals (or why there is
none), their n and why a time is infinite."""

from __future__ import annotations

import math

import pandas as pd

from leaderboard.views.submission import chosen_hyperparameters
from leaderboard.views.table import interval_text, rank_bound_text, workloads


def side_summary(records: pd.DataFrame, sub: str) -> str:
    """One line: rank, best possible rank, score with its interval and n (or why there is no interval)."""
    r = records.set_index("submission").loc[sub]
    note = r.get("interval_note", "")
    n = f" · n = {int(r['n'])}" if "n" in r and not pd.isna(r["n"]) else ""
    return (f"**{sub}** · rank {r['rank']} (best possible {rank_bound_text(r['rank_bound'], note)}) · score "
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
    """Each side's workload time with its interval as an error bar (log scale; misses are left out)."""
    import plotly.graph_objects as go

    fig = go.Figure()
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
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=30, b=10), scattermode="group", xaxis_title="workload",
                      yaxis=dict(type="log", title="time (s)", **log_ticks(sides)),
                      title=dict(text="workload time with its 95% interval (an interval reaching ∞ has no upper bar)",
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
