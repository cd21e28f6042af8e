"""The per-step random state handed to submission code: made a block at a time, equal to ``rng_for`` at every step."""

from __future__ import annotations

import numpy as np

from harness.runner.worker import StepRngs, rng_for


def test_rows_equal_rng_for_across_blocks_and_restarts() -> None:
    rngs = StepRngs(seed=2**33 + 7)  # a seed past 32 bits keeps its low word, as rng_for does
    steps = [*range(2, StepRngs.BLOCK + 5), 3, 2**32 + 1]  # a block boundary, a step back, a step past 32 bits
    for step in steps:
        got = rngs(step)
        assert got.dtype == np.uint32 and got.shape == (2,)
        assert np.array_equal(got, rng_for(2**33 + 7, step)), step


def test_a_submission_writing_into_its_rng_changes_that_step_only() -> None:
    rngs = StepRngs(seed=0)
    rngs(5)[:] = 99
    assert np.array_equal(rngs(6), rng_for(0, 6)) and np.array_equal(rngs(4), rng_for(0, 4))
