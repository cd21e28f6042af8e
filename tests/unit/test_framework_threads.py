"""A run's trial threads and target-setting's curve threads tell a submission's framework at once. CPython 3.11's
``ast.parse`` keeps its depth count in the interpreter, not the thread: two parses that interleave (a garbage
collection runs a finalizer mid-parse, and the interpreter switches threads) at different stack depths end in
``SystemError: AST constructor recursion depth mismatch``, which failed a cluster run. :func:`framework_of` parses
one file at a time."""

from __future__ import annotations

import gc
import sys
import threading
from pathlib import Path

from harness.tracks.training import framework_of


class _Finalized:
    """Garbage whose finalizer runs Python code: a collection in the middle of a parse lets another thread in."""

    def __del__(self) -> None:
        sum(range(200))


def test_framework_of_from_threads_at_different_depths(tmp_path: Path) -> None:
    (tmp_path / "submission.py").write_text(Path(__file__).read_text() * 4)  # 200 lines, no JAX or PyTorch import
    errors: list[BaseException] = []

    def deep(n: int) -> None:
        if n:
            return deep(n - 1)
        for _ in range(20):
            a, b = _Finalized(), _Finalized()
            a.other, b.other = b, a  # a cycle: only the collector frees it
        framework_of(tmp_path)

    def work(depth: int) -> None:
        try:
            for _ in range(20):
                deep(depth)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threshold, interval = gc.get_threshold(), sys.getswitchinterval()
    gc.set_threshold(10)
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work, args=(depth,)) for depth in (0, 3, 7, 11)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        gc.set_threshold(*threshold)
        sys.setswitchinterval(interval)
    assert not errors, errors[0]
