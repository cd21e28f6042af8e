"""The one clock that measures submission time.

The time source is bound when this module is imported, which the worker does before it imports any submission:
a submission that later replaces ``time.perf_counter`` (or anything else in ``time``) does not change what this clock
reads. The device sync is part of the clock, so asynchronous GPU work is charged to the code that queued it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from harness.runner.messages import Heartbeat, Phase

_monotonic: Callable[[], float] = time.monotonic  # bound now; see the module docstring
_perf_counter: Callable[[], float] = time.perf_counter


def now() -> float:
    """Harness wall time (seconds, arbitrary origin)."""
    return _perf_counter()


def device_sync(device: str) -> Callable[[], None]:
    """The sync to run before reading the clock: CUDA work must finish before its time is read."""
    if device == "cuda":
        import torch

        return torch.cuda.synchronize
    return lambda: None


class SubmissionClock:
    """Accumulates submission time over ``start()``/``stop()`` pairs and publishes the phase to the heartbeat.

    Example:
        >>> clock = SubmissionClock(heartbeat=None)
        >>> clock.start(); clock.stop() >= 0.0
        True
    """

    def __init__(self, heartbeat: Heartbeat | None, sync: Callable[[], None] = lambda: None) -> None:
        self.submission_s = 0.0
        self._started = 0.0
        self._sync = sync
        self._slots = heartbeat.slots if heartbeat is not None else [0.0] * Heartbeat.SLOTS

    def phase(self, phase: Phase, step: int | None = None) -> None:
        slots = self._slots
        slots[0] = float(phase)
        slots[1] = _monotonic()
        if step is not None:
            slots[3] = float(step)

    def start(self, step: int | None = None) -> None:
        """Start timing; ``step`` (the update about to run) goes to the heartbeat for the supervisor's reports."""
        self.phase(Phase.SUBMISSION, step)
        self._started = _perf_counter()

    def stop(self) -> float:
        """Stop timing (after a device sync); returns the seconds of this interval."""
        self._sync()
        elapsed = _perf_counter() - self._started
        self.submission_s += elapsed
        self._slots[2] = self.submission_s
        self.phase(Phase.HARNESS)
        return elapsed
