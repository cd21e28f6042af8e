"""Performance profiles: rho(tau), the share of a pool's base workloads a submission solves within tau x the best.

The bundle's ``profiles`` table holds each profile as a step function (``harness.report.profile_points``): one
row per jump, ``tau`` from 1 to r_max, with the workloads solved at that ``tau`` (a JSON list). The benchmark score
is the area under this curve from 1 to r_max, normalised.
"""

from __future__ import annotations

import json
import math

import pandas as pd

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")


def pool_profiles(profiles: pd.DataFrame, pool: str) -> pd.DataFrame:
    if profiles.empty or "pool" not in profiles:
        return pd.DataFrame(columns=["pool", "submission", "tau", "rho", "solved"])
    return profiles[profiles["pool"] == pool].sort_values(["submission", "tau"]).reset_index(drop=True)


def profile_steps(profile: pd.DataFrame, n_workloads: int) -> pd.DataFrame:
    """One submission's step function with hover text naming the workloads solved at each tau.

    >>> rows = pd.DataFrame({"tau": [1.0, 2.0, 4.0], "rho": [0.5, 1.0, 1.0],
    ...                      "solved": ['["a"]', '["a","b"]', '["a","b"]']})
    >>> profile_steps(rows, 2)["label"].tolist()[1]
    'τ = 2.00: 2 of 2 solved (a, b)'
    """
    solved = [json.loads(s) for s in profile["solved"]]
    labels = [f"τ = {tau:.2f}: {len(s)} of {n_workloads} solved ({', '.join(s) or 'none'})"
              for tau, s in zip(profile["tau"], solved)]
    return pd.DataFrame({"tau": profile["tau"].to_numpy(), "rho": profile["rho"].to_numpy(), "label": labels})


def profile_figure(profiles: pd.DataFrame, submissions: list[str], n_workloads: int, r_max: float,
                   log_x: bool = False, scores: dict[str, float] | None = None):
    """Step curves rho(tau) for ``submissions`` (in that order), r_max marked; hover lists the solved workloads."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for i, sub in enumerate(submissions):
        steps = profile_steps(profiles[profiles["submission"] == sub], n_workloads)
        if steps.empty:
            continue
        name = f"{sub} ({scores[sub]:.3f})" if scores and sub in scores else sub
        fig.add_trace(go.Scatter(
            x=steps["tau"], y=steps["rho"], mode="lines+markers", line_shape="hv", name=name,
            line=dict(color=PALETTE[i % len(PALETTE)], width=2), marker=dict(size=5), text=steps["label"],
            hovertemplate=f"<b>{sub}</b><br>%{{text}}<br>ρ = %{{y:.3f}}<extra></extra>"))
    fig.add_vline(x=r_max, line_dash="dash", line_color="#555",
                  annotation_text=f"r_max = {r_max:g}", annotation_position="top left")
    upper = r_max * 1.08
    fig.update_layout(
        height=480, margin=dict(l=10, r=10, t=40, b=10), hovermode="closest", legend_title_text="submission (score)",
        xaxis=dict(title="τ (ratio to the best time)", type="log" if log_x else "linear",
                   range=[0, math.log10(upper)] if log_x else [1, upper]),
        yaxis=dict(title="ρ(τ): share of workloads solved", range=[-0.02, 1.05]))
    return fig

