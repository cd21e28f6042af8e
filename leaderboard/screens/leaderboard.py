"""Leaderboard: the pool's ranking with intervals, rank bounds, speedups and per-workload ratios; in a PEFT pool
also what each submission's adaptation cost, and the Pareto fronts of cost against time and quality; in a
compression pool what each compressed model measured, and the Pareto fronts of quality against size and speed."""

import streamlit as st

from leaderboard import state
from leaderboard.views import compression, peft, pools, table

ctx = state.context()
records = state.board_records(ctx.ref.path, ctx.ref.manifest_hash, ctx.pool)  # ctx.records (+ PEFT/compression)
runs, submissions = state.tables(ctx.ref, "runs", "submissions")
st.title("Leaderboard")
st.caption(f"Pool **{ctx.pool}** · {len(ctx.records)} ranked submissions · release {ctx.ref.release} (manifest "
           f"{ctx.ref.manifest_hash[:8]})")

for warning in pools.pool_warnings(ctx.ref.manifest(), ctx.pool):
    st.warning(warning)
config = state.table_config(records)
view, hidden = table.view_records(records, config)
st.caption(
    "Defaults: every ranked submission, sorted by rank (benchmark score, best first; ties by name); columns: score "
    "95% interval, best rank, speedup vs reference, per-workload ratios, held-out variant times, cause. Score: area under the performance "
    f"profile from τ = 1 to r_max = {ctx.r_max:g}, normalised to [0, 1]; 95% interval from a bootstrap over studies "
    "and scoring seeds; n = studies × scoring seeds (the fewest on any base workload). Below the minimum n "
    f"({ctx.ref.manifest().get('scoring', {}).get('min_interval_n', '?')}) there is no interval and no best rank, "
    "only why (\"single seed: no interval\"). Best rank: 1 + the submissions whose whole interval lies "
    "above this one's. Cause: why a time or ratio has no number. "
    "Speedup: geometric mean over base workloads of reference time / time (a miss counts as budget + 1 s). "
    f"Held-out variants: {pools.variant_rule_text(ctx.ref.manifest())}. "
    "Ratio: time / best time in the pool. In place of an infinite time or ratio: miss (the target was not reached), "
    "variant miss: V (reached, but the held-out variant V was not), > r_max (reached, more than r_max × the best); "
    f"hover a column's name for its meaning. Showing {len(view)} of {len(ctx.records)}."
    + (" PEFT costs per workload: medians over each submission's scoring trials that were measured; trainable "
       "parameters (share of all parameters), peak memory, adapter size (tensors that differ from the base model), "
       "forward latency / the base model's, forgetting (0: behaves as the base model)." if config.peft_costs else "")
    + (" Compression measurements per workload: medians over each submission's scoring trials that were measured, "
       "of the saved model: bytes × (deflated bytes on disk / the dense model's), latency × (batch-1 p50 / the "
       "dense model's, measured alongside it), sparsity (share of exactly-zero weights), bits per weight."
       if config.compression_measures and compression.leaderboard_columns(records) else ""))
st.dataframe(table.display_table(view, link=lambda sub: ctx.link("submission", sub=sub),
                                 why_column="why" in config.columns),
             column_config=state.column_config(view, table.workloads(ctx.records)[1]), hide_index=True, placeholder="–",
             height=min(35 * (len(view) + 1) + 3, 640), key="board_table")

excluded = table.excluded_entries(hidden, records, runs, submissions, ctx.pool)
with st.expander(f"Hidden, not ranked or flagged entries ({len(excluded)})", expanded=not hidden.empty):
    if excluded.empty:
        st.write("Nothing hidden: every entry of the pool is shown, and none is flagged.")
    else:
        st.dataframe(excluded, hide_index=True, placeholder="–", key="hidden_table")

ratios = None if view.empty else table.ratio_table(view, ctx.records, ctx.r_max)
if ratios is not None:
    st.subheader("Ratios")
    st.table(ratios)
    st.caption(f"Time / best time per base workload for the first {min(len(view), 40)} rows shown: green 1 (the "
               f"best), yellow 2, red r_max = {ctx.r_max:g}; grey: miss, variant miss or > r_max. Hover a cell for its "
               "time, interval, n and cause. The benchmark score against what each run cost: Performance profiles.")
elif not view.empty:
    st.info("No ratio table: this pool has no base workload.")

if (peft.is_peft(ctx.pool) or compression.is_compression(ctx.pool)) and not view.empty:
    st.subheader("Compression: Pareto fronts" if compression.is_compression(ctx.pool) else "Costs: Pareto fronts")
    options = state.workload_options(ctx.ref.path, ctx.ref.manifest_hash, ctx.pool)
    if options:
        workload = state.selectbox("wl", "Workload", options, options[0], st.columns([1, 3])[0])
        st.caption(f"The {len(view)} submissions the table shows on {workload}.")
        state.pareto_charts(ctx, workload, list(view["submission"]), "board_pareto")
