"""Leaderboard: the pool's ranking with intervals, rank bounds, speedups and per-workload ratios."""

import streamlit as st

from leaderboard import state
from leaderboard.views import pools, table

ctx = state.context()
runs, submissions = state.tables(ctx.ref, "runs", "submissions")
st.title("Leaderboard")
st.caption(f"Pool **{ctx.pool}** · {len(ctx.records)} ranked submissions · bundle `{ctx.ref.path}`")

for warning in pools.pool_warnings(ctx.ref.manifest(), ctx.pool):
    st.warning(warning)
config = state.table_config(ctx.records)
view, hidden = table.view_records(ctx.records, config)
st.caption(
    "Defaults: every ranked submission, sorted by rank (benchmark score, best first; ties by name); columns: score "
    "95% interval, best possible rank, speedup vs reference, per-workload ratios. Score: area under the performance "
    f"profile from τ = 1 to r_max = {ctx.r_max:g}, normalised to [0, 1]; 95% interval from a bootstrap over studies "
    "and scoring seeds; n = studies × scoring seeds (the fewest on any base workload). Below the minimum n "
    f"({ctx.ref.manifest().get('scoring', {}).get('min_interval_n', '?')}) there is no interval and no rank bound, "
    "only why (\"single seed: no interval\"). Best possible rank: 1 + the submissions whose whole interval lies "
    "above this one's. Why ∞: the cause of every infinite time or ratio. "
    "Speedup: geometric mean over base workloads of reference time / time (a miss counts as budget + 1 s). "
    f"Held-out variants: {pools.variant_rule_text(ctx.ref.manifest())}. "
    f"Ratio: time / best time in the pool (∞ = miss or above r_max). Showing {len(view)} of {len(ctx.records)}.")
st.dataframe(table.display_table(view, link=lambda sub: ctx.link("submission", sub=sub)),
             column_config=state.column_config(view), hide_index=True,
             height=min(35 * (len(view) + 1) + 3, 640), key="board_table")

excluded = table.excluded_entries(hidden, ctx.records, runs, submissions, ctx.pool)
with st.expander(f"Hidden, not ranked or flagged entries ({len(excluded)})", expanded=not hidden.empty):
    if excluded.empty:
        st.write("None: every entry of the pool is shown, and none is flagged.")
    else:
        st.dataframe(excluded, hide_index=True, key="hidden_table")

if not view.empty:
    st.plotly_chart(table.ratio_heatmap(view, ctx.records, ctx.r_max))
