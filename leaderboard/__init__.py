"""The Podium leaderboard: a multipage Streamlit app over published release bundles.

Layout (``podium board`` starts it):

* :mod:`leaderboard.bundle` reads bundles from disk (no Streamlit);
* :mod:`leaderboard.views` holds every computation as a pure function (tables and plotly figures), tested on its
  own and never importing Streamlit;
* :mod:`leaderboard.state` is the Streamlit glue: widgets bound to the URL (permalinks) and the caches, keyed on
  each bundle's manifest hash;
* ``leaderboard/app.py`` and ``leaderboard/screens/*.py`` (one per page) only lay views out;
* :mod:`leaderboard.synthetic` writes a realistic synthetic bundle for tests and the render benchmark.
"""
