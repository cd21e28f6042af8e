"""The demo fails loudly when a reference baseline's trial fails (CI runs it on every clean clone)."""

from harness.demo import DEMO_SCORING_SEEDS, failed_trials


def test_failed_and_timed_out_baseline_trials_are_failures_misses_are_not() -> None:
    rows = [{"trial_id": "a", "status": "reached"}, {"trial_id": "b", "status": "missed"},
            {"trial_id": "c", "status": "failed"}, {"trial_id": "d", "status": "timed_out"}]
    assert [r["trial_id"] for r in failed_trials(rows)] == ["c", "d"]


def test_the_demo_has_enough_scoring_seeds_for_an_interval() -> None:
    from harness.scoring import MIN_INTERVAL_N

    assert DEMO_SCORING_SEEDS >= MIN_INTERVAL_N


def test_the_default_demo_runs_what_fits_and_says_what_it_leaves_out() -> None:
    from harness.demo import DEMO_COMPRESSION_BASELINES, DEMO_PEFT_WORKLOADS, DEMO_TRAINING_WORKLOADS, demo_plan
    from workloads import get_spec

    training, peft, compression = demo_plan()
    assert [p.name for p in training.baselines] == ["adamw", "nadamw"]
    assert [p.name for p in peft.baselines] == ["full_finetune", "lora"]
    assert {get_spec(w).base or w for w in peft.workloads} == set(DEMO_PEFT_WORKLOADS)
    assert any(get_spec(w).base for w in peft.workloads)  # the scored variant comes with its base
    assert "nesterov" in training.left_out and "--track training" in training.left_out
    assert "linear_probe" in peft.left_out and "--track peft" in peft.left_out
    assert training.label == "demo" and "tiny_lm" in training.left_out  # the transformer: `--track training`
    assert {get_spec(w).base or w for w in training.workloads} == set(DEMO_TRAINING_WORKLOADS)
    assert (peft.label == "demo") == (peft.workloads != demo_plan("peft")[0].workloads)
    assert [p.name for p in compression.baselines] == sorted(DEMO_COMPRESSION_BASELINES)
    assert compression.label == "demo" and "magnitude_prune" in compression.left_out
    assert "minilm_sentiment_compress" in compression.left_out
    assert set(compression.workloads) < set(demo_plan("compression")[0].workloads)


def test_a_track_runs_every_baseline_or_the_chosen_ones() -> None:
    import pytest

    from harness.demo import DemoError, baselines, demo_plan

    (part,) = demo_plan("training")
    assert part.baselines == baselines("training") and part.label == "lite" and not part.left_out
    assert [p.name for p in demo_plan("peft", ("lora",))[0].baselines] == ["lora"]
    with pytest.raises(DemoError, match="no peft baseline named lorra: choose from .*lora"):
        demo_plan("peft", ("lorra",))
    with pytest.raises(DemoError, match="--baseline needs --track"):
        demo_plan(None, ("lora",))
