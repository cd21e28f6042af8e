"""Methodology: how this pool's scores were made, step by step, with its own numbers; and the release's citation."""

import streamlit as st

from leaderboard import state
from leaderboard.views import about, table

ctx = state.context()
st.title("Methodology")
manifest = ctx.ref.manifest()
header = state.header_facts(ctx.ref.path, ctx.ref.manifest_hash, ctx.pool)
bases, variants = table.workloads(ctx.records)
n_values = about.finite(v for c in ctx.records.columns if c.startswith("n:") for v in ctx.records[c])
st.markdown(about.methodology_markdown(manifest, header, bases, variants, n_values))
st.subheader("Targets and budgets of this pool")
targets = about.targets_table(manifest, bases + variants, header.hardware_class)
if targets.empty:
    st.info("This pool has no workloads.")
else:
    st.dataframe(targets, hide_index=True, placeholder="–", key="targets_table")
    st.caption("Validation target: what a trial must meet to stop the clock. Test target: the test metric the "
               "setting baseline had when it first met the validation target (reported, not raced). Reference "
               "success: the share of each reference baseline's target-setting seeds that met the target within "
               "the budget.")
st.subheader("Cite this release")
st.code(about.bibtex(manifest), language="bibtex")
