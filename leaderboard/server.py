"""What ``podium board`` runs: ``streamlit run leaderboard/server.py -- --bundle DIR [--bundle DIR ...]``.

The leaderboard app (``app.py``) served by Streamlit's ASGI server (``st.App``), with the first paint
(:mod:`leaderboard.first_paint`) answering the leaderboard's own addresses. ``streamlit run leaderboard/app.py``
still serves the same app, without the first paint.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from leaderboard import first_paint  # noqa: E402
from leaderboard.bundle import bundle_args  # noqa: E402

APP = Path(__file__).resolve().parent / "app.py"

app = st.App(APP, routes=first_paint.routes(bundle_args(sys.argv[1:])[0]))
