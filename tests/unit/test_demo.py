"""The demo fails loudly when a reference baseline's trial fails (CI runs it on every clean clone)."""

from harness.demo import DEMO_SCORING_SEEDS, failed_trials


def test_failed_and_timed_out_baseline_trials_are_failures_misses_are_not() -> None:
    rows = [{"trial_id": "a", "status": "reached"}, {"trial_id": "b", "status": "missed"},
            {"trial_id": "c", "status": "failed"}, {"trial_id": "d", "status": "timed_out"}]
    assert [r["trial_id"] for r in failed_trials(rows)] == ["c", "d"]


def test_the_demo_has_enough_scoring_seeds_for_an_interval() -> None:
    from harness.scoring import MIN_INTERVAL_N

    assert DEMO_SCORING_SEEDS >= MIN_INTERVAL_N
