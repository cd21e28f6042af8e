"""The Podium leaderboard: ``streamlit run leaderboard/app.py -- --bundle DIR [--bundle DIR ...]``.

``podium board`` runs this. Layout only: the sidebar picks the bundle and pool, then the chosen page runs; every
number and figure comes from :mod:`leaderboard.views`.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Streamlit puts only this script's folder on sys.path; the repository root holds the `leaderboard` package
# (an editable install made before leaderboard/ existed does not map it).
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from leaderboard import state  # noqa: E402
from leaderboard.bundle import bundle_args  # noqa: E402

# Not "pages/": Streamlit would treat that folder as an old-style multipage app before st.navigation runs.
PAGES = Path(__file__).resolve().parent / "screens"

st.set_page_config(page_title="Podium leaderboard", page_icon=":material/sports_score:", layout="wide")
folders, url = bundle_args(sys.argv[1:])
refs, problems = state.open_bundles(folders)
for problem in problems:
    st.sidebar.error(problem)
if not refs:
    st.error("No release bundle to show. Write one with `podium publish`, then run `podium board --bundle DIR`.")
    st.stop()

methodology = st.Page(PAGES / "methodology.py", title="Methodology", icon=":material/menu_book:",
                      url_path="methodology")
how_to_submit = st.Page(PAGES / "submit.py", title="How to submit", icon=":material/upload:", url_path="submit")
board = st.Page(PAGES / "leaderboard.py", title="Leaderboard", icon=":material/leaderboard:", url_path="home",
                default=True)
pages = [
    board,
    st.Page(PAGES / "profiles.py", title="Performance profiles", icon=":material/show_chart:", url_path="profiles"),
    st.Page(PAGES / "workload.py", title="Workload", icon=":material/science:", url_path="workload"),
    st.Page(PAGES / "submission.py", title="Submission", icon=":material/description:", url_path="submission"),
    st.Page(PAGES / "compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
    st.Page(PAGES / "downloads.py", title="Downloads", icon=":material/download:", url_path="downloads"),
    methodology, how_to_submit,
]
# The leaderboard is served at / and at /leaderboard (the address a reader guesses; the default page's own
# url_path is reserved but never served, hence "home"). Streamlit lists every page of st.navigation in its menu,
# so the menu is drawn here, without the alias.
alias = st.Page(PAGES / "leaderboard.py", title="Leaderboard", icon=":material/leaderboard:", url_path="leaderboard")
page = st.navigation([*pages, alias], position="hidden")
for entry in pages:
    st.sidebar.page_link(entry)
state.sync_url()
st.sidebar.markdown("**Podium** · time-to-result leaderboard")
context = state.pool_selectors(refs, url)
link_slot = st.sidebar.empty()
if context is None:
    st.warning("This bundle has no scored pool.")
    st.stop()
url_slot = st.empty()
state.show_header(context, methodology, how_to_submit)
page.run()
state.show_url_problems(url_slot)
state.show_permalink(link_slot, url, page.url_path)
