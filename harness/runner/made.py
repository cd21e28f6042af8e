"""The models a workload needs made in this machine's cache before any of its trials starts.

Some workloads hand a trial a model Podium made once per machine: the transfer family's pretrained CNNs, the
compression track's dense models (the dense MiniLM is fine-tuned for about 15 minutes). Made inside a trial, that
time would fall in the trial's initialisation, whose limit (two minutes) it passes, and a sealed container could not
write it at all (the cache is mounted read-only). So every executor makes them first, outside any trial's clock and
limits: the workload builder module's ``ensure_made()``, when it has one, once per module and cache folder in a
process. A run and ``podium targets set`` call it up front so that the wait is said; the executors call it again
before each trial (a no-op once made), so that no path reaches a trial without it.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable

from harness.executors import ExecutorError
from workloads.spec import WorkloadSpec

#: seconds ``ensure_made`` waits before it says that it is making models (a cached model is found within them)
SAY_AFTER_S = 2.0

#: (builder module, cache folder) pairs whose ``ensure_made()`` has succeeded in this process
_MADE: set[tuple[str, str]] = set()


def ensure_made(spec: WorkloadSpec, say: Callable[[str], None] | None = None) -> None:
    """Make the models ``spec``'s trials need in this machine's cache, when it lacks them.

    Args:
        spec: the workload.
        say: told, when making takes longer than :data:`SAY_AFTER_S`, what is being made and, at the end, how long it
            took (a made model is found at once and nothing is said).

    Raises:
        ExecutorError: a model could not be made here (the builder's message, with what to do).
    """
    from workloads.common.made import MadeMismatchError, cache_dir

    name = spec.builder.split(":")[0]
    key = (name, str(cache_dir()))
    if key in _MADE:
        return
    make = getattr(importlib.import_module(name), "ensure_made", None)
    if make is None:
        _MADE.add(key)
        return
    said = threading.Event()

    def announce() -> None:
        said.set()
        if say is not None:
            say(f"{spec.name}: making the models it needs in {cache_dir()} (once per machine, up to about 15 "
                "minutes); its trials start after")

    started = time.monotonic()
    timer = threading.Timer(SAY_AFTER_S, announce)
    timer.daemon = True
    timer.start()
    try:
        make()
    except MadeMismatchError as exc:
        raise ExecutorError(f"workload {spec.name}: {exc}") from None
    finally:
        timer.cancel()
    if said.is_set() and say is not None:
        say(f"{spec.name}: models made in {(time.monotonic() - started) / 60:.1f} minutes")
    _MADE.add(key)
