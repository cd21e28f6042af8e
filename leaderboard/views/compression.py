"""Compression pools: what each submission's compressed model measured, per submission and workload, and the Pareto
fronts of quality against size and against speed.

A trial of the ``compression`` track carries the measurements of its saved model (:mod:`harness.tracks.compression`,
``measure``: taken in a fresh process, never reported by the submission) as one JSON object in
``measurements_json``. Only a pool whose track is ``compression`` gets these columns and charts; the training and
PEFT tracks' pages are unchanged.

What each number is (per trial, as the harness measured it):

* ``bytes_ratio``: the saved ``state_dict`` after deflate (zlib level 6), over the dense model's (``bytes`` /
  ``dense_bytes``); ``bytes`` is the deflated size itself. A pruned model stored densely shrinks only as far as
  deflate squeezes its zeros out.
* ``latency_ratio``: the compressed model's batch-1 p50 forward latency over the dense model's, both measured
  interleaved in the same process on pinned threads; ``latency_p50_ms`` is the compressed p50 itself (it moves by
  several percent between machines and runs, the ratio by far less).
* ``throughput``: examples per second at batch 32.
* ``sparsity``: the share of exactly-zero elements over every weight tensor of the saved model.
* ``bits_per_weight``: storage bits per weight element, weighted by element count (32 float32, 8 int8...).
* the **validation metric**: the workload's metric (``validation_json``) of the saved model; one evaluation per
  trial, after ``compress``.

Per submission and workload, over the trials the pool counts (the latest run's *scoring* trials: the chosen
configuration re-run on held-out seeds; a submission without scoring trials falls back to all its trials, as the
learning curves do, :func:`leaderboard.views.curves.curve_trials`):

* every measurement and the validation metric is the **median over the trials that have it** (a trial that failed
  before its model was measured has none), each one on its own: a point of a chart is (median ratio, median
  metric), not one trial;
* **reached k of n**: the trials that met both the quality floor and the ratio target within the budget, of all;
* **time-to-target** is the median ``time_to_result_s`` (the ``compress`` call's submission seconds) over the trials
  that *reached*; ``inf`` when none did. It is not the official workload time (median over studies of the median
  over seeds, a missed seed counting as infinite).

The **quality floor** is the trials' validation target (``floor_fraction`` of the dense model's metric; the
manifest's target for the pool's hardware class when the trials do not carry one); the **ratio target** is the
manifest's ``compression_ratio`` for that class, and it bounds only the ratio the workload's ``compression.measure``
names.

Pareto fronts (:func:`leaderboard.views.peft.pareto_front`: at least as good on both axes and better on one). Two
charts per workload: the validation metric against the bytes ratio and against the latency ratio (lower ratio
better; the metric's direction is the workload's). A point's hover names the points that dominate it
(:func:`dominators`), or says it is on the front. Points without a value on an axis are left out and counted in the
chart's title.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from leaderboard.views import peft
from leaderboard.views.peft import _median, _number, count_text, pareto_figure

TRACK = "compression"
#: The float keys of ``harness.tracks.compression.measure``'s result, repeated so the app does not import the
#: harness (a test checks they agree).
MEASUREMENTS = ("raw_bytes", "bytes", "dense_bytes", "bytes_ratio", "sparsity", "bits_per_weight", "latency_p50_ms",
                "latency_p90_ms", "dense_latency_p50_ms", "latency_ratio", "throughput", "dense_throughput",
                "latency_spread")
#: The two ratios a compression target may bound (``compression.measure`` of a workload spec), with their words.
RATIOS = {"bytes_ratio": "bytes", "latency_ratio": "latency"}

#: One row per submission and workload (:func:`cost_points`).
POINT_COLUMNS = ("submission", "rank", "workload", "trials", "measured", "reached", "bytes_ratio", "bytes",
                 "latency_ratio", "latency_p50_ms", "throughput", "sparsity", "bits_per_weight", "time_to_target_s",
                 "metric", "higher_is_better", "metric_value", "floor", "measure", "ratio_target")

#: Leaderboard columns per workload (``<prefix><workload>``): point column, label, number format, help.
COLUMNS = {
    "compression_bytes_ratio:": ("bytes_ratio", "bytes ×", "%.3f",
                                 "deflated bytes on disk / the dense model's (median over the scoring trials)"),
    "compression_latency_ratio:": ("latency_ratio", "latency ×", "%.3f",
                                   "batch-1 p50 latency / the dense model's, measured interleaved in one process"),
    "compression_sparsity:": ("sparsity", "sparsity", "%.3f", "share of exactly-zero weight elements (0 to 1)"),
    "compression_bits_per_weight:": ("bits_per_weight", "bits/weight", "%.1f",
                                     "storage bits per weight element (32: float32, 8: int8)"),
}
PREFIXES = tuple(COLUMNS)
#: At most this many dominating entries are named in a point's hover (the rest are counted).
DOMINATORS_SHOWN = 8


def is_compression(pool: str) -> bool:
    """
    >>> is_compression("compression/external/cpu-2core/2026.1"), is_compression("peft/external/cpu-2core/r1")
    (True, False)
    """
    return pool.split("/", 1)[0] == TRACK


def parse_measurements(values: Iterable[Any], index=None) -> pd.DataFrame:
    """One column per compression measurement (:func:`leaderboard.views.peft.parse_measurements` with ours).

    >>> m = parse_measurements(['{"bytes_ratio": 0.3, "sparsity": 0, "dtypes": {"int8": 5}}', None, "nope"])
    >>> m[["bytes_ratio", "sparsity", "latency_ratio"]].to_dict("list")
    {'bytes_ratio': [0.3, nan, nan], 'sparsity': [0.0, nan, nan], 'latency_ratio': [nan, nan, nan]}
    """
    return peft.parse_measurements(values, index, MEASUREMENTS)


def goal(spec: Mapping[str, Any], hardware_class: str | None) -> tuple[float, str | None, float]:
    """``(quality floor, measured ratio, ratio target)`` of a workload spec from the bundle's manifest on one
    hardware class; NaN / None where it has none.

    >>> spec = {"compression": {"measure": "latency_ratio", "floor_fraction": 0.99},
    ...         "targets": {"cpu-2core": {"validation": 0.9, "test": 0.89, "compression_ratio": 0.8}}}
    >>> goal(spec, "cpu-2core"), goal(spec, "gpu-h100"), goal({}, None)
    ((0.9, 'latency_ratio', 0.8), (nan, 'latency_ratio', nan), (nan, None, nan))
    """
    entry = ((spec.get("targets") or {}).get(hardware_class) or {}) if hardware_class else {}
    measure = (spec.get("compression") or {}).get("measure")
    return _number(entry.get("validation")), measure if measure in RATIOS else None, _number(
        entry.get("compression_ratio"))


def cost_points(trials: pd.DataFrame, records: pd.DataFrame,
                specs: Mapping[str, Mapping[str, Any]] | None = None,
                hardware_class: str | None = None) -> pd.DataFrame:
    """Per submission (rank order) and workload: the medians of the module docstring, with the workload's floor,
    measured ratio and ratio target.

    ``specs`` is the bundle manifest's ``workloads`` (metric and direction, ``compression.measure``, targets per
    hardware class; see :func:`leaderboard.views.peft.measured_groups`). ``hardware_class``: the pool's (its
    targets); the trials' own when not given.
    """
    out = []
    for common, group, m, spec in peft.measured_groups(trials, records, specs, MEASUREMENTS):
        hw = hardware_class
        if hw is None and "hardware_class" in group:
            hw = next(iter(group["hardware_class"].dropna()), None)
        floor, measure, ratio_target = goal(spec, hw)
        targets = group["validation_target"].dropna() if "validation_target" in group else pd.Series(dtype=float)
        out.append({
            **common,
            **{c: _median(m[c]) for c in ("bytes_ratio", "bytes", "latency_ratio", "latency_p50_ms", "throughput",
                                          "sparsity", "bits_per_weight")},
            "floor": float(targets.iloc[0]) if len(targets) else floor,
            "measure": measure, "ratio_target": ratio_target,
        })
    return peft.points_frame(out, POINT_COLUMNS)


# ---- the leaderboard's compression columns ------------------------------------------------------------------------
def with_compression_columns(records: pd.DataFrame, points: pd.DataFrame) -> pd.DataFrame:
    """``records`` with the compression columns of every workload (:data:`COLUMNS`) joined on the submission;
    unchanged when there are no points (another track's pool)."""
    if points.empty:
        return records
    wide = {}
    for workload in sorted(points["workload"].unique()):
        mine = points[points["workload"] == workload].set_index("submission")
        for prefix, (column, *_) in COLUMNS.items():
            wide[f"{prefix}{workload}"] = mine[column].astype(float)
    return records.join(pd.DataFrame(wide), on="submission")


def leaderboard_columns(records: pd.DataFrame) -> list[str]:
    """The compression columns ``records`` has, workload by workload.

    >>> columns = ["score", "compression_sparsity:b", "compression_latency_ratio:a", "compression_bytes_ratio:a"]
    >>> leaderboard_columns(pd.DataFrame(columns=columns))
    ['compression_bytes_ratio:a', 'compression_latency_ratio:a', 'compression_sparsity:b']
    """
    workloads = sorted({c.split(":", 1)[1] for c in records.columns if c.startswith(PREFIXES)})
    return [f"{p}{w}" for w in workloads for p in PREFIXES if f"{p}{w}" in records.columns]


def column_spec(column: str) -> tuple[str, str, str]:
    """``(label, number format, help)`` of a compression leaderboard column.

    >>> column_spec("compression_bytes_ratio:fashion_cnn_compress")[:2]
    ('bytes × · fashion_cnn_compress', '%.3f')
    """
    prefix, workload = column.split(":", 1)
    _, label, fmt, help_text = COLUMNS[f"{prefix}:"]
    return f"{label} · {workload}", fmt, help_text


def display_column(view: pd.DataFrame, column: str) -> tuple[str, pd.Series]:
    """A compression column as the reader sees it: its label and its numbers (formatted by the page)."""
    return column_spec(column)[0], view[column]


# ---- Pareto fronts ------------------------------------------------------------------------------------------------
def dominators(points: Sequence[Sequence[float]] | np.ndarray, minimize: tuple[bool, bool] = (True, True)
               ) -> list[list[int]]:
    """Per point, the indices of the points that dominate it (at least as good on both axes, better on one), in
    index order. Same rules as :func:`leaderboard.views.peft.pareto_front`: a point is on the front exactly when
    its list is empty and it has no NaN; equal points do not dominate each other; a point with a NaN coordinate is
    dominated by nothing and dominates nothing; ``inf`` compares as a number.

    >>> dominators([(1, 5), (2, 3), (3, 4), (4, 1), (5, 5)])      # (3, 4) is beaten by (2, 3); (5, 5) by all
    [[], [], [1], [], [0, 1, 2, 3]]
    >>> dominators([(0.25, 0.90), (0.5, 0.91), (0.5, 0.88)], minimize=(True, False))  # y: higher is better
    [[], [], [0, 1]]
    >>> dominators([(1, 1), (1, 1), (float("nan"), 0), (2, float("inf"))])
    [[], [], [], [0, 1]]
    >>> dominators([])
    []
    """
    p = np.asarray(points, dtype=float).reshape(-1, 2)
    q = p * np.where(np.asarray(minimize, dtype=bool), 1.0, -1.0)  # every axis: lower is better
    valid = ~np.isnan(q).any(axis=1)
    out = []
    for i in range(len(q)):
        if not valid[i]:
            out.append([])
            continue
        beats = valid & (q <= q[i]).all(axis=1) & (q < q[i]).any(axis=1)
        out.append(np.flatnonzero(beats).tolist())
    return out


def dominated_text(names: Sequence[str], limit: int = DOMINATORS_SHOWN) -> str:
    """The hover line that names a point's dominators; empty for a point on the front.

    >>> dominated_text(["a", "b"]), dominated_text([]), dominated_text(list("abcde"), limit=3)
    ('dominated by: a, b', '', 'dominated by: a, b, c and 2 more')
    """
    if not names:
        return ""
    shown = ", ".join(names[:limit])
    return f"dominated by: {shown}" + (f" and {len(names) - limit} more" if len(names) > limit else "")


def bytes_text(value: Any) -> str:
    """A size in bytes, three significant digits with k, M or G.

    >>> bytes_text(950), bytes_text(233_123), bytes_text(2.5e6), bytes_text(None)
    ('950 B', '233 kB', '2.5 MB', '–')
    """
    text = count_text(value)
    return text if text == "–" else text + ("B" if text[-1].isalpha() else " B")


def _fmt(value: Any, spec: str, unit: str = "") -> str:
    number = _number(value)
    return f"{number:{spec}}{unit}" if math.isfinite(number) else "–"


def point_text(p: Mapping[str, Any]) -> str:
    """What a point's hover says of one submission on one workload (without what dominates it)."""
    time = "miss" if _number(p["time_to_target_s"]) == math.inf else _fmt(p["time_to_target_s"], ".1f", " s")
    return (f"<b>{p['submission']}</b><br>{p['metric']} {_fmt(p['metric_value'], '.4f')} (floor "
            f"{_fmt(p['floor'], '.4f')})<br>bytes {_fmt(p['bytes_ratio'], '.3f', '×')} of dense "
            f"({bytes_text(p['bytes'])})<br>latency {_fmt(p['latency_ratio'], '.3f', '×')} of dense (p50 "
            f"{_fmt(p['latency_p50_ms'], '.3f', ' ms')})<br>sparsity {_fmt(p['sparsity'], '.3f')} · "
            f"{_fmt(p['bits_per_weight'], '.1f')} bits/weight<br>reached {p['reached']} of {p['trials']} · "
            f"time-to-target {time}")


def _axes(points: pd.DataFrame, ratio: str) -> tuple[pd.Series, pd.Series, tuple[bool, bool]]:
    """The chart's x (the ratio: a value that is not finite is left out, never drawn as a miss) and y, and which
    axis is better low."""
    higher = bool(points["higher_is_better"].iloc[0]) if len(points) else True
    xs = points[ratio].astype(float)
    return xs.where(np.isfinite(xs)), points["metric_value"].astype(float), (True, not higher)


def hover_texts(points: pd.DataFrame, ratio: str) -> pd.Series:
    """Per point, :func:`point_text` and, when other points dominate it on (``ratio``, metric), their names
    (:func:`dominators` over the points that have both values; the figure says "on the Pareto front" of the
    others)."""
    xs, ys, minimize = _axes(points, ratio)
    both = (np.isfinite(xs) & np.isfinite(ys)).to_numpy()
    names = list(points["submission"])
    beaten = [[] for _ in names]
    index = np.flatnonzero(both)
    for i, doms in zip(index, dominators(np.column_stack([xs[both], ys[both]]), minimize)):
        beaten[i] = [names[index[j]] for j in doms]
    lines = []
    for (_, p), doms in zip(points.iterrows(), beaten):
        extra = dominated_text(doms)
        lines.append(point_text(p) + (f"<br>{extra}" if extra else ""))
    return pd.Series(lines, index=points.index, dtype=object)


def _first(points: pd.DataFrame, column: str) -> Any:
    values = points[column].dropna() if len(points) else []
    return values.iloc[0] if len(values) else None


def ratio_metric_figure(points: pd.DataFrame, workload: str, ratio: str):
    """The validation metric (median) against ``ratio`` (``bytes_ratio`` or ``latency_ratio``, median) of the
    submissions on one workload: the Pareto front (lower ratio, better metric), the quality floor dotted across,
    the ratio target dotted upright when the workload's target bounds this ratio; each point's hover names what
    dominates it."""
    what = RATIOS[ratio]
    metric = next((m for m in points["metric"] if isinstance(m, str)), "metric") if len(points) else "metric"
    xs, _, minimize = _axes(points, ratio)
    higher = not minimize[1]
    x_title = ("deflated bytes on disk / the dense model's" if ratio == "bytes_ratio" else
               "batch-1 p50 latency / the dense model's") + " (median; lower is better)"
    frame = points.assign(**{ratio: xs})
    fig = pareto_figure(frame, ratio, "metric_value", minimize, x_title,
                        f"validation {metric} (median; {'higher' if higher else 'lower'} is better)",
                        f"{workload}: {metric} vs {what} ratio", hover=hover_texts(points, ratio))
    floor = _number(_first(points, "floor"))
    if math.isfinite(floor):
        fig.add_hline(y=floor, line_dash="dot", line_color="#b00", annotation_text=f"floor {floor:.4f}",
                      annotation_position="bottom left")
    target = _number(_first(points, "ratio_target"))
    if _first(points, "measure") == ratio and math.isfinite(target):
        fig.add_vline(x=target, line_dash="dot", line_color="#b00", annotation_text=f"target {target:.3g}×",
                      annotation_position="top left")
    return fig


def bytes_figure(points: pd.DataFrame, workload: str):
    """The validation metric against the bytes ratio on one workload (:func:`ratio_metric_figure`)."""
    return ratio_metric_figure(points, workload, "bytes_ratio")


def latency_figure(points: pd.DataFrame, workload: str):
    """The validation metric against the latency ratio on one workload (:func:`ratio_metric_figure`)."""
    return ratio_metric_figure(points, workload, "latency_ratio")

