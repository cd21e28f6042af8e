"""Downloads: the current leaderboard view, any table of the bundle, or the whole bundle."""

import streamlit as st

from leaderboard import state
from leaderboard.bundle import TABLES, bundle_zip
from leaderboard.views import export, table

ctx = state.context()
st.title("Downloads")
fmt = state.radio("fmt", "Format", list(export.FORMATS), "csv")

st.subheader("The current view")
records = state.board_records(ctx.ref.path, ctx.ref.manifest_hash, ctx.pool)  # + PEFT / compression columns
config = state.stored_table_config(records)
view, _ = table.view_records(records, config)
st.caption(f"The leaderboard as it is filtered now: pool {ctx.pool}, {len(view)} rows, sorted by {config.sort}"
           + (f", search {config.search!r}" if config.search else "") + ". Raw numbers; a miss is inf (null in JSON), "
           "its cause in why:<workload>; no interval below the minimum n (null, with interval_note).")
stem = ctx.pool.replace("/", "_")
st.download_button(f"leaderboard view .{fmt}", data=export.table_bytes(view, fmt), file_name=f"{stem}.{fmt}",
                   mime=export.FORMATS[fmt], key="dl_view")

st.subheader("The whole bundle")
st.caption(f"Release {ctx.ref.release}; manifest sha256 {ctx.ref.manifest_hash[:16]}…")
st.download_button("every table + manifest.json (.zip of the Parquet files)", key="dl_zip",
                   data=lambda: bundle_zip(ctx.ref.path), file_name=f"{ctx.ref.release}.zip",
                   mime="application/zip")
rows = {name: entry["rows"] for name, entry in ctx.ref.manifest()["tables"].items()}
left, right = st.columns([2, 3], vertical_alignment="bottom")
name = state.selectbox("table", "One table", list(TABLES), "scores", left,
                       format_func=lambda n: f"{n} ({rows.get(n, 0)} rows)")
right.download_button(f"{name}.{fmt}", file_name=f"{ctx.ref.release}-{name}.{fmt}", mime=export.FORMATS[fmt],
                      data=lambda: export.table_bytes(state.tables(ctx.ref, name)[0], fmt), key="dl_table")
