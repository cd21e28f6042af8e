"""Compare: two submissions side by side (hyperparameters, workload times with intervals, overlaid curves)."""

import streamlit as st

from leaderboard import state
from leaderboard.views import compare, curves

ctx = state.context()
st.title("Compare")
order = list(ctx.records["submission"])
if len(order) < 2:
    st.info("The pool needs two submissions to compare.")
    st.stop()
left, right = st.columns(2)
a = state.selectbox("a", "Submission A", order, order[0], left)
b = state.selectbox("b", "Submission B", [s for s in order if s != a], order[1] if order[1] != a else order[0], right)
left.markdown(compare.side_summary(ctx.records, a))
right.markdown(compare.side_summary(ctx.records, b))

sides = compare.time_sides(ctx.records, a, b)
st.subheader("Workload times (s) with 95% intervals, n and why a time is ∞")
st.dataframe(compare.times_table(sides, a, b), hide_index=True, placeholder="–", key="times_table")
st.plotly_chart(compare.times_figure(sides, a, b), key="times_figure")

st.subheader("Hyperparameters (chosen per workload and study)")
run_of = dict(zip(ctx.records["submission"], ctx.records["run_id"]))
hp = compare.hyperparameter_sides(*(state.run_trials(ctx.ref.path, ctx.ref.manifest_hash, run_of[s]) for s in (a, b)),
                                  a, b)
wide, differs = compare.hyperparameters_wide(hp, a, b)
if wide.empty:
    st.info("Neither run recorded a chosen configuration (no scoring trials).")
else:
    n_diff = int(differs.drop(columns="hyperparameter").to_numpy().sum()) // 2
    st.caption(f"One row per hyperparameter, the two submissions side by side on each workload; the {n_diff} pairs "
               "that differ are highlighted (empty: the submission has no such hyperparameter).")
    styled = wide.style.apply(lambda _: differs.replace({True: "background-color: #ffe8a3", False: ""}), axis=None)
    st.dataframe(styled, hide_index=True, placeholder="–", key="hp_table")

st.subheader("Learning curves")
options = state.workload_options(ctx.ref.path, ctx.ref.manifest_hash, ctx.pool)
if options:
    workload = state.selectbox("cwl", "Workload", options, options[0])
    trials, points = state.workload_points(ctx.ref.path, ctx.ref.manifest_hash, ctx.pool, workload)
    spec = ctx.ref.manifest().get("workloads", {}).get(workload, {})
    metric = curves.primary_metric(curves.metric_names(points), spec.get("metric"))
    for tab, x in zip(state.tabs("xaxis", ["vs submission time", "vs step"]) if metric else [], curves.X_AXES):
        tab.plotly_chart(curves.curves_figure(points, trials, [a, b], metric, x, curves.validation_target(trials),
                                              spec.get("higher_is_better", True)), key=f"compare_curves_{x}")
