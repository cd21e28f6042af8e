"""Performance profiles: rho(tau) step curves of the chosen submissions, r_max marked."""

import streamlit as st

from leaderboard import state
from leaderboard.views import profiles, table

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
