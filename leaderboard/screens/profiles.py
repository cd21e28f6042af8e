"""Performance profiles: rho(tau) step curves of the chosen submissions, r_max marked."""

import streamlit as st

from leaderboard import state
from leaderboard.views import cost, profiles, table

ctx = state.context()
st.title("Performance profiles")
order = list(ctx.records["submission"])
bases, _ = table.workloads(ctx.records)
left, right = st.columns([4, 1])
chosen = state.multiselect("psubs", "Submissions (default: the first 8 by rank)", order, order[:8], left)
log_x = state.toggle("log", "Log-scale τ", False, right)
data = state.pool_profiles(ctx.ref.path, ctx.ref.manifest_hash, ctx.pool)
scores = dict(zip(ctx.records["submission"], ctx.records["score"]))
st.plotly_chart(profiles.profile_figure(data, list(chosen), len(bases), ctx.r_max, log_x, scores), key="profiles")
st.caption(f"ρ(τ): share of the pool's {len(bases)} base workloads a submission solves within τ × the best time. "
           f"Ratios above r_max = {ctx.r_max:g} count as misses; the benchmark score (in the legend) is the area "
           "under the curve from 1 to r_max, normalised. Hover a step to see the workloads solved at that τ.")

st.subheader("Score vs cost")
costs = state.pool_costs(ctx.ref.path, ctx.ref.manifest_hash, ctx.pool)
axis = state.radio("cost", "Cost", list(cost.POOL_COSTS), "submission_s", format_func=lambda c: cost.POOL_COSTS[c][0])
if costs.empty or not costs[axis].notna().any():
    st.info(f"No trial of these runs recorded {cost.POOL_COSTS[axis][0]}: nothing to draw.")
else:
    st.plotly_chart(cost.score_cost_figure(costs, axis), key="score_cost")
    st.caption(f"One point per ranked submission. Cost: {cost.POOL_COSTS[axis][1]}. Red diamonds joined by a step "
               "line: the Pareto front, the submissions no other one beats with a higher score for less.")
