"""Submission: README, search space, chosen hyperparameters, every trial, provenance, downloads."""

import streamlit as st

from leaderboard import state
from leaderboard.views import export, submission, table

ctx = state.context()
order = list(ctx.records["submission"])
if not order:
    st.info("No submission in this pool.")
    st.stop()
st.title("Submission")
name = state.selectbox("sub", "Submission", order, order[0])
row = ctx.records.set_index("submission").loc[name]
runs, submissions = state.tables(ctx.ref, "runs", "submissions")
info = submission.submission_info(submissions, name)
trials = state.run_trials(ctx.ref.path, ctx.ref.manifest_hash, row["run_id"])

warning = submission.source_warning(info)
if warning:
    st.warning(warning)
cols = st.columns(4)
cols[0].metric("rank", f"{row['rank']}", help="by benchmark score in this pool")
note = row.get("interval_note", "")
cols[1].metric("best rank", table.rank_bound_text(row["rank_bound"], note),
               help="the best rank the score interval supports")
cols[2].metric("score [95% interval]", f"{row['score']:.3f}",
               table.interval_text(row["score_lo"], row["score_hi"], note) + table.n_text(row.get("n")),
               delta_color="off", delta_arrow="off", help="n = studies × scoring seeds (the fewest on any workload)")
cols[3].metric("speedup vs reference",
               table.speedup_text(row.get("speedup_vs_reference"), row.get("speedup_note", "")),
               help="geometric mean of reference time / time over the base workloads; no reference: –")

readme, space, trial_tab, provenance = state.tabs("tab", ["README", "Search space & hyperparameters", "Trials",
                                                         "Provenance"])
readme.markdown(info["readme"] or "_The bundle has no README for this submission._")
space.caption("Search space (search_space.json)")
space.code(info["search_space"] or "(none: self-tuning or not in the bundle)", language="json")
space.caption("Chosen hyperparameters: the point each study selected on tuning seeds, re-run on scoring seeds")
space.dataframe(submission.chosen_hyperparameters(trials), hide_index=True, placeholder="–", key="hparams_table")
trial_tab.caption(f"Run {row['run_id']}: {submission.status_summary(trials)}")
trial_tab.dataframe(submission.trial_table(trials), hide_index=True, placeholder="–", key="trials_table",
                    column_config={"reason": st.column_config.TextColumn("reason", width="large"),
                                   "trial_id": st.column_config.TextColumn("trial_id", width="medium")})
facts = submission.facts_table(submission.provenance(runs, trials, row["run_id"]))
provenance.dataframe(facts, hide_index=True, placeholder="–", height=35 * (len(facts) + 1) + 3,  # every fact in view
                     column_config={"fact": st.column_config.TextColumn("fact", width="small"),
                                    "value": st.column_config.TextColumn("value", width="large")},
                     key="provenance_table")
provenance.caption("Seeds (derived from stable hashes; tuning and scoring seeds are disjoint)")
provenance.dataframe(submission.seed_table(trials), hide_index=True, placeholder="–", key="seeds_table")

st.subheader("Download this submission's data")
fmt = state.radio("sub_fmt", "Format", list(export.FORMATS), "csv")
left, right = st.columns(2)
left.download_button(f"trials.{fmt}", data=lambda: export.table_bytes(trials, fmt), file_name=f"{name}-trials.{fmt}",
                     mime=export.FORMATS[fmt], key="dl_sub_trials")
right.download_button(f"evals.{fmt}", file_name=f"{name}-evals.{fmt}", mime=export.FORMATS[fmt], key="dl_sub_evals",
                      data=lambda: export.table_bytes(state.run_evals(ctx.ref.path, ctx.ref.manifest_hash,
                                                                      row["run_id"]), fmt))
