"""Downloads: a table as CSV, JSON or Parquet bytes. (The whole bundle as one zip is I/O, so it is
:func:`leaderboard.bundle.bundle_zip`.)

JSON is strict, as ``podium score --format json`` is: a miss (``inf``) and a missing value (NaN) are written
``null``, never ``Infinity``/``NaN``; score records carry the cause of each miss in ``why:<workload>``. CSV and
Parquet keep ``inf``.
"""

from __future__ import annotations

import io
import json
import math

import pandas as pd

FORMATS = {"csv": "text/csv", "json": "application/json", "parquet": "application/octet-stream"}


def _plain(value):
    """A JSON-ready value: numpy scalars to Python, NaN (a missing value) and ``inf`` (a miss) to None."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def table_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    """``frame`` in ``fmt`` (csv, json or parquet).

    >>> table_bytes(pd.DataFrame({"a": [1.0, float("inf")]}), "json")
    b'[{"a": 1.0}, {"a": null}]'
    """
    if fmt == "csv":
        return frame.to_csv(index=False).encode()
    if fmt == "json":
        records = [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]
        return json.dumps(records, default=str, allow_nan=False).encode()
    if fmt == "parquet":
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        return buffer.getvalue()
    raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")

