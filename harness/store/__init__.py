"""The results store: SQLite (WAL) with a versioned schema. Rows are committed as they happen."""

from harness.store.db import ResultsStore, StoreError

__all__ = ["ResultsStore", "StoreError"]
