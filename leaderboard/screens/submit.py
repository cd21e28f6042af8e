"""How to submit: the submission folder, `podium check`, a sealed run, and what to send."""

import streamlit as st

from leaderboard import state
from leaderboard.views import about, pools

ctx = state.context()
st.title("How to submit")
key = pools.PoolKey.parse(ctx.pool)
st.markdown(about.how_to_submit_markdown(key.track, key.release, key.hardware_class))
