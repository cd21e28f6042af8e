"""The pages of the board: scripts that ``st.navigation`` runs by path (see ``leaderboard/app.py``), never imported.

Each only lays out views from :mod:`leaderboard.views`. The folder is not named ``pages/``: Streamlit treats a
``pages/`` folder next to the entry point as an old-style multipage app until ``st.navigation`` has run once.
"""
