"""Every computation behind the leaderboard, as pure functions: DataFrames in, DataFrames and plotly figures out.

No Streamlit here (a test checks it), no I/O: the pages pass in the bundle's tables and lay out what comes back.
"""
