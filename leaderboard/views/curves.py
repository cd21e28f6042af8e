"""Learning curves of one workload: the metric against submission time or step, median and band over seeds.

The curves come from the scoring trials of the run that counts for each submission (the chosen configuration
re-run on held-out seeds); a submission without scoring trials shows all its trials. Each trial's curve is
interpolated onto a shared grid, then summarised per submission by the median and the min-max band over trials.

The trial that *counted* is the scoring trial whose time-to-result is nearest the workload time (the median over
studies of the median over scoring seeds, :mod:`harness.tuning.protocol`); with an odd number of seeds and studies
it is exactly the trial whose time is the workload time.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd

from leaderboard.views.profiles import PALETTE

X_AXES = {"time": ("submission_time_s", "submission time (s)"), "step": ("step", "step")}


def counted_trials(trials: pd.DataFrame, records: pd.DataFrame, workload: str) -> pd.DataFrame:
    """The trials of ``workload`` in the runs the pool counts (one run per submission)."""
    if trials.empty:
        return trials
    runs = set(records["run_id"])
    return trials[(trials["workload"] == workload) & trials["run_id"].isin(runs)].reset_index(drop=True)


def workload_options(trials: pd.DataFrame, records: pd.DataFrame) -> list[str]:
    if trials.empty:
        return []
    return sorted(set(trials.loc[trials["run_id"].isin(set(records["run_id"])), "workload"]))


def curve_trials(trials: pd.DataFrame) -> pd.DataFrame:
    """Per submission, its scoring trials, or all of its trials when it has none."""
    scoring = trials["role"] == "scoring"
    has_scoring = trials.loc[scoring, "submission_name"].unique()
    return trials[scoring | ~trials["submission_name"].isin(has_scoring)]


def trial_time(row) -> float:
    value = row["time_to_result_s"]
    return float(value) if row["status"] == "reached" and value is not None and not pd.isna(value) else math.inf


def workload_time(trials: pd.DataFrame) -> float:
    """Median over studies of the median over seeds (``inf`` for a miss), as the official protocol computes it.

    >>> t = pd.DataFrame({"study": [0, 0, 1], "status": ["reached"] * 3, "time_to_result_s": [1.0, 3.0, 5.0]})
    >>> workload_time(t)
    3.5
    """
    times = trials.assign(t=[trial_time(r) for _, r in trials.iterrows()])
    per_study = [float(np.median(g["t"])) for _, g in times.groupby("study")]
    return float(np.median(per_study)) if per_study else math.inf


def the_counted_trial(trials: pd.DataFrame) -> str | None:
    """Trial id of the trial that counted (see the module docstring); None when the workload was missed."""
    chosen = curve_trials(trials)
    target = workload_time(chosen)
    if not math.isfinite(target) or chosen.empty:
        return None
    gaps = [(abs(trial_time(r) - target), r["trial_id"]) for _, r in chosen.iterrows()]
    return min(gaps)[1]


def eval_points(evals: pd.DataFrame, trials: pd.DataFrame) -> pd.DataFrame:
    """Evaluation rows of ``trials`` with their metrics as columns and the trial's submission, role and seed."""
    rows = evals[evals["trial_id"].isin(set(trials["trial_id"]))] if "trial_id" in evals else evals
    if rows.empty or trials.empty:
        return pd.DataFrame(columns=["submission", "trial_id", "role", "study", "seed_index", "eval_index", "step",
                                     "submission_time_s"])
    metrics = pd.DataFrame([json.loads(m) for m in rows["metrics_json"]], index=rows.index)
    info = trials.set_index("trial_id")[["submission_name", "role", "study", "seed_index", "status"]]
    out = rows[["trial_id", "eval_index", "step", "submission_time_s", "wall_time_s"]].join(info, on="trial_id")
    out = pd.concat([out.rename(columns={"submission_name": "submission"}), metrics], axis=1)
    order = ["submission", "trial_id", "role", "study", "seed_index", "status", "eval_index", "step",
             "submission_time_s", "wall_time_s", *metrics.columns]
    return out[order].sort_values(["submission", "trial_id", "eval_index"]).reset_index(drop=True)


def metric_names(points: pd.DataFrame) -> list[str]:
    fixed = {"submission", "trial_id", "role", "study", "seed_index", "status", "eval_index", "step",
             "submission_time_s", "wall_time_s"}
    return [c for c in points.columns if c not in fixed]


def primary_metric(names: list[str], declared: str | None = None) -> str | None:
    """The metric targets are set on: the workload's own (``declared``, from the bundle manifest's workload specs)
    when its evaluations have it; for an older bundle, ``accuracy`` if present, else the first that is not a loss.

    >>> primary_metric(["loss", "accuracy"]), primary_metric(["loss", "bleu"]), primary_metric([])
    ('accuracy', 'bleu', None)
    >>> primary_metric(["accuracy", "loss", "perplexity"], declared="perplexity")
    'perplexity'
    """
    if declared in names:
        return declared
    if "accuracy" in names:
        return "accuracy"
    return next((n for n in names if "loss" not in n), names[0] if names else None)


def median_band(points: pd.DataFrame, metric: str, x: str, grid_size: int = 60) -> pd.DataFrame:
    """Per submission: the metric's median, min and max over trials on a shared grid of ``x``.

    Each trial is interpolated linearly between its own evaluations and held at its last value after it ends (a
    trial stops at the target: dropping it there would leave the median to the slower trials and make it fall).
    Before a trial's first evaluation it is left out; ``n`` says how many trials each point summarises.
    """
    column = X_AXES[x][0]
    out = []
    for sub, group in points.groupby("submission", sort=False):
        grid = np.linspace(0.0, float(group[column].max()), grid_size)
        curves = []
        for _, trial in group.groupby("trial_id"):
            xs, ys = trial[column].to_numpy(dtype=float), trial[metric].to_numpy(dtype=float)
            curves.append(np.where(grid >= xs.min(), np.interp(grid, xs, ys), np.nan))
        stack = np.vstack(curves)
        n = (~np.isnan(stack)).sum(axis=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # grid points before any trial's first evaluation
            out.append(pd.DataFrame({"submission": sub, "x": grid, "median": np.nanmedian(stack, axis=0),
                                     "lo": np.nanmin(stack, axis=0), "hi": np.nanmax(stack, axis=0), "n": n}))
    frame = pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=["submission", "x", "median", "lo",
                                                                               "hi", "n"])
    return frame[frame["n"] > 0].reset_index(drop=True)


def curves_figure(points: pd.DataFrame, trials: pd.DataFrame, submissions: list[str], metric: str, x: str,
                  target: float | None = None, higher_is_better: bool = True):
    """Median line and min-max band per submission over its curve trials (:func:`curve_trials`); the trial that
    counted dashed, with its result starred; the target as a dotted line."""
    import plotly.graph_objects as go

    column, title = X_AXES[x]
    counted = {sub: the_counted_trial(trials[trials["submission_name"] == sub]) for sub in submissions}
    chosen = curve_trials(trials[trials["submission_name"].isin(submissions)])
    bands = median_band(points[points["trial_id"].isin(set(chosen["trial_id"]))], metric, x)
    fig = go.Figure()
    for i, sub in enumerate(submissions):
        color, band = PALETTE[i % len(PALETTE)], bands[bands["submission"] == sub]
        if band.empty:
            continue
        fig.add_trace(go.Scatter(x=np.r_[band["x"], band["x"][::-1]], y=np.r_[band["hi"], band["lo"][::-1]],
                                 fill="toself", fillcolor=color, opacity=0.18, line=dict(width=0),
                                 hoverinfo="skip", legendgroup=sub, showlegend=False))
        fig.add_trace(go.Scatter(x=band["x"], y=band["median"], mode="lines", name=f"{sub} median",
                                 line=dict(color=color, width=2), legendgroup=sub, customdata=band["n"],
                                 hovertemplate=f"{sub}<br>{title} %{{x:.4g}}<br>median {metric} %{{y:.4f}}"
                                               "<br>over %{customdata} trials<extra></extra>"))
        trial_id = counted.get(sub)
        trial = points[points["trial_id"] == trial_id]
        if not trial.empty:
            fig.add_trace(go.Scatter(x=trial[column], y=trial[metric], mode="lines", legendgroup=sub,
                                     line=dict(color=color, width=1, dash="dash"), name=f"{sub} counted trial",
                                     hovertemplate=f"{trial_id}<br>%{{x:.4g}}: %{{y:.4f}}<extra></extra>"))
            last = trial.iloc[-1]
            fig.add_trace(go.Scatter(x=[last[column]], y=[last[metric]], mode="markers", legendgroup=sub,
                                     marker=dict(symbol="star", size=13, color=color,
                                                 line=dict(color="black", width=1)),
                                     showlegend=False, hovertemplate=f"counted: {trial_id}<br>result at %{{x:.4g}}"
                                                                     "<extra></extra>"))
    if target is not None and math.isfinite(target):
        fig.add_hline(y=target, line_dash="dot", line_color="#b00", annotation_text=f"target {target:.4f}",
                      annotation_position="bottom right")
    fig.update_layout(height=430, margin=dict(l=10, r=10, t=30, b=10), xaxis_title=title,
                      yaxis_title=f"{metric} ({'↑' if higher_is_better else '↓'} better)",
                      hovermode="closest")
    return fig


def validation_target(trials: pd.DataFrame) -> float | None:
    values = trials["validation_target"].dropna().unique() if "validation_target" in trials else []
    return float(values[0]) if len(values) else None
