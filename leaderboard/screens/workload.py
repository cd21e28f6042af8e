"""Workload: learning curves (median and band over seeds, the counted trial marked, the target) and evaluations;
in a PEFT pool also the Pareto fronts of cost against time and quality; in a compression pool those of quality against
size and speed."""

import streamlit as st

from leaderboard import state
from leaderboard.views import about, compression, cost, curves, peft, table

ctx = state.context()
st.title("Workload")
options = state.workload_options(ctx.ref.path, ctx.ref.manifest_hash, ctx.pool)
if not options:
    st.info("This pool has no trials.")
    st.stop()
order = list(ctx.records["submission"])
top = st.columns([2, 3, 1])  # the workload's whole name
workload = state.selectbox("wl", "Workload", options, options[0], top[0])
chosen = list(state.multiselect("wsubs", "Submissions (default: the first 5 by rank)", order, order[:5], top[1]))
card, ranking = st.columns([2, 3])
card.subheader("The workload")
hardware_class = state.header_facts(ctx.ref.path, ctx.ref.manifest_hash, ctx.pool).hardware_class
card.dataframe(about.workload_card(ctx.ref.manifest(), workload, hardware_class), hide_index=True, placeholder="–",
               column_config={"field": st.column_config.TextColumn("field", width="small"),
                              "value": st.column_config.TextColumn("value", width="large")}, key="workload_card")
ranking.subheader(f"Ranking on {workload}")
ranking.dataframe(table.workload_ranking(ctx.records, workload), hide_index=True, placeholder="–",
                  key="workload_ranking")
ranking.caption("By this workload's time (the official one: median over studies of the median over scoring seeds); "
                "a miss has no place (–) and its cause. Overall rank: by the benchmark score.")
costs = state.workload_costs(ctx.ref.path, ctx.ref.manifest_hash, ctx.pool, workload)
axis = state.radio("wcost", "Cost", list(cost.WORKLOAD_COSTS), "steps",
                   format_func=lambda c: cost.WORKLOAD_COSTS[c].split(" (")[0])
if costs[axis].notna().any():
    st.plotly_chart(cost.workload_cost_figure(costs, axis, workload), key="workload_cost")
    st.caption("One point per ranked submission. Red diamonds joined by a step line: the Pareto front, the "
               "submissions no other one beats on both time and cost; a miss is a cross at the right edge.")
else:
    st.info(f"No scoring trial on {workload} recorded its {cost.WORKLOAD_COSTS[axis].split(' (')[0]}: nothing to "
            "draw.")
trials, points = state.workload_points(ctx.ref.path, ctx.ref.manifest_hash, ctx.pool, workload)
metrics = curves.metric_names(points)
if not metrics:
    st.info(f"No evaluation rows for {workload} in this bundle.")
    st.stop()
spec = ctx.ref.manifest().get("workloads", {}).get(workload, {})
primary = curves.primary_metric(metrics, spec.get("metric"))
metric = state.selectbox("metric", "Metric", metrics, primary, top[2])
target = curves.validation_target(trials) if metric == primary else None
higher = spec.get("higher_is_better", True) if metric == primary else "loss" not in metric
for tab, x in zip(state.tabs("xaxis", ["vs submission time", "vs step"]), curves.X_AXES):
    tab.plotly_chart(curves.curves_figure(points, trials, chosen, metric, x, target, higher), key=f"curves_{x}")
st.caption("Lines: median over the scoring seeds (the chosen configuration re-run on held-out seeds); band: min to "
           "max over those trials. Dashed with a star: the trial that counted (its time-to-result is the nearest to "
           "the workload time). Dotted: the validation target.")
if peft.is_peft(ctx.pool) or compression.is_compression(ctx.pool):
    st.subheader("Compression: Pareto fronts" if compression.is_compression(ctx.pool) else "Costs: Pareto fronts")
    st.caption(f"Every ranked submission of the pool on {workload}.")
    state.pareto_charts(ctx, workload, order, "workload_pareto")
st.subheader("Evaluations")
shown = points[points["submission"].isin(chosen)]
st.dataframe(shown, hide_index=True, placeholder="–", key="evals_table")
