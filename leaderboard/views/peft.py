"""PEFT pools: what adapting a pretrained model cost, per submission and workload, and the Pareto fronts of cost
against speed and quality.

A trial of the ``peft`` track carries its measurements (:mod:`harness.tracks.peft`, ``measure``) as one JSON object
in ``measurements_json``; training-track trials have none. Only a pool whose track is ``peft`` gets PEFT columns or
charts; the training track's pages are unchanged.

Per submission and workload, over the trials the pool counts (the latest run's *scoring* trials: the chosen
configuration re-run on held-out seeds; a submission without scoring trials falls back to all its trials, as the
learning curves do, :func:`leaderboard.views.curves.curve_trials`):

* every measurement is the **median over the trials that have it** (a trial that failed before it was measured has
  none); the trainable share is the median of each trial's ``trainable / total``;
* **time-to-target** is the median ``time_to_result_s`` over the trials that *reached* the target; when none did it
  is ``inf`` (a miss). It is not the leaderboard's official workload time (median over studies of the median over
  seeds, a missed seed counting as infinite): it is what the method takes when it gets there, with "reached k of n"
  next to it;
* the **validation metric** is the median over the trials of the last validation value of the workload's metric
  (``validation_json``). Trials stop at the target, so methods that reach it sit just past it; the metric separates
  the methods that do not.

Pareto fronts. A point is on the front when no other point is at least as good on both axes and better on one
(:func:`pareto_front`). In the memory / time chart a miss has no time to trade against memory, so misses are never
on the front: they are drawn as crosses at the right edge, past a dotted line, not left out. Points without the
measurement an axis needs are left out and counted in the chart's title.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from leaderboard.views.curves import curve_trials, primary_metric

TRACK = "peft"
#: ``harness.tracks.peft.MEASUREMENTS``, repeated so the app does not import the harness (a test checks they agree)
MEASUREMENTS = ("trainable_params", "total_params", "peak_memory_bytes", "adapter_bytes", "latency_ms",
                "base_latency_ms", "latency_ratio", "merged", "forgetting", "adapt_s")
MIB = 1024 ** 2

#: One row per submission and workload (:func:`cost_points`).
POINT_COLUMNS = ("submission", "rank", "workload", "trials", "measured", "reached", "trainable_params",
                 "total_params", "trainable_pct", "peak_memory_mib", "adapter_mib", "latency_ms", "latency_ratio",
                 "merged", "forgetting", "time_to_target_s", "metric", "higher_is_better", "metric_value", "target")

#: Leaderboard columns per workload (``<prefix><workload>``): point column, label, number format (None: text), help.
COLUMNS = {
    "peft_trainable:": ("trainable_params", "trainable", None,
                        "trainable parameters at the end (share of all parameters of the adapted model)"),
    "peft_trainable_pct:": ("trainable_pct", "trainable %", "%.3g", "trainable / total parameters, in %"),
    "peft_memory_mib:": ("peak_memory_mib", "peak MiB", "%.0f",
                         "peak memory of the trial in MiB (resident memory on CPU, allocated on GPU)"),
    "peft_adapter_mib:": ("adapter_mib", "adapter MiB", "%.2f",
                          "what must be stored besides the base model: tensors that differ from it, in MiB"),
    "peft_latency_ratio:": ("latency_ratio", "latency ×", "%.2f",
                            "forward-pass latency / the base model's (merged first where the method allows)"),
    "peft_forgetting:": ("forgetting", "forgetting", "%.3f",
                         "how far the model moved from the base model on its reference sample (0: not at all)"),
}
PREFIXES = tuple(COLUMNS)


def is_peft(pool: str) -> bool:
    """
    >>> is_peft("peft/external/cpu-2core/r1"), is_peft("training/external/cpu-2core/r1")
    (True, False)
    """
    return pool.split("/", 1)[0] == TRACK


def _number(value: Any) -> float:
    """A float, or NaN for anything that is not a real number (None, text, a list...)."""
    return float(value) if isinstance(value, (numbers.Real, np.bool_)) else math.nan


def _object(text: Any) -> dict:
    if not isinstance(text, str) or not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def parse_measurements(values: Iterable[Any], index=None, names: Sequence[str] = MEASUREMENTS) -> pd.DataFrame:
    """One column per measurement of ``names`` (default: the PEFT track's); NaN where a trial has none (NULL, not
    JSON, a key missing or not a number).

    >>> m = parse_measurements(['{"trainable_params": 10, "total_params": 100, "merged": 1}', None, "nope"])
    >>> m[["trainable_params", "merged"]].to_dict("list")
    {'trainable_params': [10.0, nan, nan], 'merged': [1.0, nan, nan]}
    """
    rows = [{k: _number(obj.get(k)) for k in names} for obj in map(_object, values)]
    return pd.DataFrame(rows, columns=list(names), index=index, dtype=float)


def _median(values: pd.Series) -> float:
    values = values.dropna()
    return float(values.median()) if len(values) else math.nan


def measured_groups(trials: pd.DataFrame, records: pd.DataFrame, specs: Mapping[str, Mapping[str, Any]] | None,
                    names: Sequence[str]) -> Iterator[tuple[dict[str, Any], pd.DataFrame, pd.DataFrame, Mapping]]:
    """Per submission and workload of the pool's counted trials (:func:`curve_trials`): the fields every track's
    points share (submission, rank, workload, trials, measured, reached, time-to-target, metric and its direction,
    the median validation value), the group's trial rows, their measurements of ``names`` and the workload's spec.

    ``specs`` is the bundle manifest's ``workloads`` (metric name and direction); a workload without one is judged
    on its ``accuracy`` (else the first metric that is not a loss), higher being better.
    """
    if trials.empty or records.empty or "run_id" not in trials:
        return
    rows = curve_trials(trials[trials["run_id"].isin(set(records["run_id"]))])
    if rows.empty:
        return
    measurements = parse_measurements(rows["measurements_json"] if "measurements_json" in rows
                                      else [None] * len(rows), index=rows.index, names=names)
    validation = [_object(v) for v in rows.get("validation_json", pd.Series([None] * len(rows), index=rows.index))]
    validation = pd.Series(validation, index=rows.index, dtype=object)
    rank = dict(zip(records["submission"], records["rank"]))
    for (sub, workload), group in rows.groupby(["submission_name", "workload"], sort=False):
        m = measurements.loc[group.index]
        spec = (specs or {}).get(workload, {})
        metric = spec.get("metric") or primary_metric(sorted({k for v in validation[group.index] for k in v}))
        reached = group[(group["status"] == "reached") & group["time_to_result_s"].notna()]
        yield {
            "submission": sub, "rank": rank.get(sub, math.nan), "workload": workload, "trials": len(group),
            "measured": int(m.notna().any(axis=1).sum()), "reached": len(reached),
            "time_to_target_s": float(reached["time_to_result_s"].astype(float).median()) if len(reached) else math.inf,
            "metric": metric, "higher_is_better": bool(spec.get("higher_is_better", True)),
            "metric_value": _median(pd.Series([_number(v.get(metric)) for v in validation[group.index]], dtype=float)),
        }, group, m, spec


def points_frame(points: list[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    """The points in rank order (then submission, workload), with ``columns``; empty (with them) for none."""
    if not points:
        return pd.DataFrame(columns=list(columns))
    frame = pd.DataFrame(points, columns=list(columns))
    return frame.sort_values(["rank", "submission", "workload"], kind="stable").reset_index(drop=True)


def cost_points(trials: pd.DataFrame, records: pd.DataFrame,
                specs: Mapping[str, Mapping[str, Any]] | None = None) -> pd.DataFrame:
    """Per submission (rank order) and workload: the medians of the module docstring (see :func:`measured_groups`
    for ``specs``)."""
    out = []
    for common, group, m, _ in measured_groups(trials, records, specs, MEASUREMENTS):
        targets = group["validation_target"].dropna() if "validation_target" in group else pd.Series(dtype=float)
        out.append({
            **common,
            "trainable_params": _median(m["trainable_params"]), "total_params": _median(m["total_params"]),
            "trainable_pct": _median(100 * m["trainable_params"] / m["total_params"].where(m["total_params"] > 0)),
            "peak_memory_mib": _median(m["peak_memory_bytes"]) / MIB, "adapter_mib": _median(m["adapter_bytes"]) / MIB,
            "latency_ms": _median(m["latency_ms"]), "latency_ratio": _median(m["latency_ratio"]),
            "merged": _median(m["merged"]), "forgetting": _median(m["forgetting"]),
            "target": float(targets.iloc[0]) if len(targets) else math.nan,
        })
    return points_frame(out, POINT_COLUMNS)


# ---- the leaderboard's PEFT columns -------------------------------------------------------------------------------
def with_peft_columns(records: pd.DataFrame, points: pd.DataFrame) -> pd.DataFrame:
    """``records`` with the PEFT columns of every workload (:data:`COLUMNS`) joined on the submission; unchanged
    when there are no points (a training pool)."""
    if points.empty:
        return records
    wide = {}
    for workload in sorted(points["workload"].unique()):
        mine = points[points["workload"] == workload].set_index("submission")
        for prefix, (column, *_) in COLUMNS.items():
            wide[f"{prefix}{workload}"] = mine[column]
    frame = pd.DataFrame(wide)
    return records.join(frame, on="submission")


def leaderboard_columns(records: pd.DataFrame) -> list[str]:
    """The PEFT columns ``records`` has, workload by workload.

    >>> columns = ["score", "peft_memory_mib:b", "peft_trainable:a", "peft_forgetting:a"]
    >>> leaderboard_columns(pd.DataFrame(columns=columns))
    ['peft_trainable:a', 'peft_forgetting:a', 'peft_memory_mib:b']
    """
    workloads = sorted({c.split(":", 1)[1] for c in records.columns if c.startswith(PREFIXES)})
    return [f"{p}{w}" for w in workloads for p in PREFIXES if f"{p}{w}" in records.columns]


def count_text(value: Any) -> str:
    """A count in three significant digits with k, M or G.

    >>> count_text(950), count_text(148_480), count_text(22_713_216), count_text(1.5e9), count_text(None)
    ('950', '148 k', '22.7 M', '1.5 G', '–')
    """
    number = _number(value)
    if not math.isfinite(number):
        return "–"
    for scale, unit in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(number) >= scale:
            return f"{number / scale:.3g}{unit}"
    return f"{number:.3g}"


def params_text(count: Any, pct: Any) -> str:
    """
    >>> params_text(148_480, 0.6543), params_text(22.7e6, 100.0), params_text(5000, None), params_text(None, 1.0)
    ('148 k (0.654 %)', '22.7 M (100 %)', '5 k', '–')
    """
    text, share = count_text(count), _number(pct)
    return text if text == "–" or not math.isfinite(share) else f"{text} ({share:.3g} %)"


def column_spec(column: str) -> tuple[str, str | None, str]:
    """``(label, number format or None for text, help)`` of a PEFT leaderboard column.

    >>> column_spec("peft_memory_mib:sst2")[:2]
    ('peak MiB · sst2', '%.0f')
    """
    prefix, workload = column.split(":", 1)
    _, label, fmt, help_text = COLUMNS[f"{prefix}:"]
    return f"{label} · {workload}", fmt, help_text


def display_column(view: pd.DataFrame, column: str) -> tuple[str, pd.Series] | None:
    """A PEFT column as the reader sees it: the trainable count as text with its share (``148 k (0.654 %)``),
    the others as numbers (formatted by the page). None for the share (it is shown with the count)."""
    prefix, workload = column.split(":", 1)
    if prefix == "peft_trainable_pct":
        return None
    label = column_spec(column)[0]
    if prefix == "peft_trainable":
        pct = view.get(f"peft_trainable_pct:{workload}", pd.Series(math.nan, index=view.index))
        return label, pd.Series([params_text(c, p) for c, p in zip(view[column], pct)], index=view.index)
    return label, view[column]


# ---- Pareto fronts ------------------------------------------------------------------------------------------------
def pareto_front(points: Sequence[Sequence[float]] | np.ndarray, minimize: tuple[bool, bool] = (True, True)
                 ) -> np.ndarray:
    """Mask of the points no other point dominates (at least as good on both axes, better on one).

    ``minimize`` says per axis whether lower is better. Equal points do not dominate each other (all stay on the
    front); a point with a NaN coordinate is never on it and dominates nothing; ``inf`` compares as a number.

    >>> pareto_front([(1, 5), (2, 3), (3, 4), (4, 1)]).tolist()   # (3, 4) is beaten by (2, 3)
    [True, True, False, True]
    >>> pareto_front([(1, 1), (1, 1), (2, 2)]).tolist()           # a tie: both stay
    [True, True, False]
    >>> pareto_front([(1, 5), (1, 4)]).tolist()                   # same x, lower y wins
    [False, True]
    >>> pareto_front([(7, 7)]).tolist(), pareto_front([]).tolist()
    ([True], [])
    >>> pareto_front([(1, 0.80), (2, 0.90), (3, 0.85)], minimize=(True, False)).tolist()  # y: higher is better
    [True, True, False]
    >>> pareto_front([(1, float("nan")), (2, 2), (1, float("inf"))]).tolist()
    [False, True, True]
    """
    p = np.asarray(points, dtype=float).reshape(-1, 2)
    q = p * np.where(np.asarray(minimize, dtype=bool), 1.0, -1.0)  # every axis: lower is better
    valid = ~np.isnan(q).any(axis=1)
    others = q[valid]
    mask = valid.copy()
    for i in np.flatnonzero(valid):
        mask[i] = not ((others <= q[i]).all(axis=1) & (others < q[i]).any(axis=1)).any()
    return mask


def step_shape(minimize: tuple[bool, bool]) -> str:
    """Plotly ``line_shape`` of the front's step line through its points in increasing x: the boundary of the
    region the front dominates (horizontal first when lower x is better, vertical first otherwise).

    >>> step_shape((True, True)), step_shape((False, True))
    ('hv', 'vh')
    """
    return "hv" if minimize[0] else "vh"


FRONT, OTHERS, MISSES = "#d62728", "#7f9fbf", "#7f7f7f"


def pareto_figure(frame: pd.DataFrame, x: str, y: str, minimize: tuple[bool, bool], x_title: str, y_title: str,
                  title: str, log_y: bool = False, hover: pd.Series | None = None):
    """One point per row of ``frame`` (a submission on one workload): the front highlighted, labelled and joined by
    a step line; a row with ``x = inf`` (a miss) drawn as a cross at the right edge; rows missing a coordinate left
    out (counted in the title)."""
    import plotly.graph_objects as go

    hover = (hover if hover is not None else frame["submission"]).reset_index(drop=True)
    frame = frame.reset_index(drop=True)
    xs, ys = frame[x].astype(float), frame[y].astype(float)
    if log_y:
        ys = ys.where(ys > 0)  # a log axis cannot show 0 or less
    finite = np.isfinite(xs) & np.isfinite(ys)
    missed = (xs == math.inf) & np.isfinite(ys)
    omitted = int((~finite & ~missed).sum())
    front = pd.Series(False, index=frame.index)
    front[finite] = pareto_front(np.column_stack([xs[finite], ys[finite]]), minimize)
    fig = go.Figure()
    rest = finite & ~front
    fig.add_trace(go.Scatter(x=xs[rest], y=ys[rest], mode="markers", name="submissions",
                             marker=dict(color=OTHERS, size=9, line=dict(color="white", width=1)),
                             text=hover[rest], hovertemplate="%{text}<extra></extra>"))
    on = frame.index[front]
    order = on[np.argsort(xs[on].to_numpy(), kind="stable")]
    fig.add_trace(go.Scatter(x=xs[order], y=ys[order], mode="lines", name="Pareto front (step)",
                             line=dict(color=FRONT, width=2, shape=step_shape(minimize)), hoverinfo="skip",
                             legendgroup="front", showlegend=False))
    fig.add_trace(go.Scatter(x=xs[order], y=ys[order], mode="markers+text", name="Pareto front",
                             legendgroup="front", text=frame.loc[order, "submission"], textposition="top center",
                             cliponaxis=False,
                             marker=dict(color=FRONT, size=13, symbol="diamond", line=dict(color="black", width=1)),
                             customdata=hover[order], hovertemplate="%{customdata}<br>on the Pareto front"
                                                                    "<extra></extra>"))
    notes = []
    if missed.any():
        reached = xs[finite]
        right = float(reached.max()) if len(reached) else 1.0
        edge, line = right * 1.15 if right > 0 else 1.0, right * 1.075 if right > 0 else 0.5
        fig.add_trace(go.Scatter(x=[edge] * int(missed.sum()), y=ys[missed], mode="markers",
                                 name="missed the target",
                                 marker=dict(color=MISSES, size=10, symbol="x"), text=hover[missed],
                                 hovertemplate="%{text}<br>no trial reached the target<extra></extra>"))
        fig.add_vline(x=line, line_dash="dot", line_color=MISSES, annotation_text="misses →",
                      annotation_position="top right")
        fig.update_xaxes(range=[0, edge * 1.06])
        notes.append(f"{int(missed.sum())} missed (right edge)")
    if omitted:
        notes.append(f"{omitted} without a value on an axis left out")
    fig.update_layout(height=420, margin=dict(l=10, r=10, t=40, b=10), xaxis_title=x_title, yaxis_title=y_title,
                      hovermode="closest", legend=dict(orientation="h", yanchor="bottom", y=-0.3),
                      title=dict(text=title + (f" · {'; '.join(notes)}" if notes else ""), font=dict(size=13)))
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def _fmt(value: Any, spec: str, unit: str = "") -> str:
    number = _number(value)
    return f"{number:{spec}}{unit}" if math.isfinite(number) else "–"


def _hover(points: pd.DataFrame) -> pd.Series:
    lines = []
    for _, p in points.iterrows():
        time = "miss" if _number(p["time_to_target_s"]) == math.inf else _fmt(p["time_to_target_s"], ".1f", " s")
        lines.append(f"<b>{p['submission']}</b><br>time-to-target {time} (reached {p['reached']} of {p['trials']})"
                     f"<br>peak memory {_fmt(p['peak_memory_mib'], '.0f', ' MiB')}<br>trainable "
                     f"{params_text(p['trainable_params'], p['trainable_pct'])}<br>{p['metric']} "
                     f"{_fmt(p['metric_value'], '.4f')}")
    return pd.Series(lines, index=points.index, dtype=object)


def memory_time_figure(points: pd.DataFrame, workload: str):
    """Peak memory against time-to-target on one workload (lower is better on both)."""
    return pareto_figure(points, "time_to_target_s", "peak_memory_mib", (True, True),
                         "time-to-target (s, median over the scoring trials that reached)",
                         "peak memory (MiB, median)", f"{workload}: peak memory vs time-to-target",
                         hover=_hover(points))


def params_metric_figure(points: pd.DataFrame, workload: str):
    """Trainable parameters (log) against the validation metric on one workload (fewer parameters are better; the
    metric's direction is the workload's), with the validation target dotted."""
    metric = next((m for m in points["metric"] if isinstance(m, str)), "metric") if len(points) else "metric"
    higher = bool(points["higher_is_better"].iloc[0]) if len(points) else True
    fig = pareto_figure(points, "metric_value", "trainable_params", (not higher, True),
                        f"validation {metric} (median; {'higher' if higher else 'lower'} is better)",
                        "trainable parameters (median, log)", f"{workload}: trainable parameters vs {metric}",
                        log_y=True, hover=_hover(points))
    targets = points["target"].dropna() if len(points) else []
    if len(targets):
        fig.add_vline(x=float(targets.iloc[0]), line_dash="dot", line_color="#b00",
                      annotation_text=f"target {float(targets.iloc[0]):.4f}", annotation_position="bottom right")
    return fig
