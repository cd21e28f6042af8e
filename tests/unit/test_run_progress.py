"""What `podium run` prints: each point's hyperparameters, why tuning is skipped, and a scoring trial with no point."""

from __future__ import annotations

import io

from rich.console import Console

from harness.tuning.plan import PlanEntry
from harness.ui import RichProgress


def entry(role: str, point: int, hyperparameters: dict | None) -> PlanEntry:
    return PlanEntry(trial_id=f"t-{role}-{point}", workload="digits_mlp", study=0, role=role, point=point,
                     seed_index=0, seed=1, hyperparameters=hyperparameters, budget_s=5.0)


def printed(action) -> str:  # noqa: ANN001
    out = io.StringIO()
    progress = RichProgress(Console(file=out, width=120))
    action(progress)
    return out.getvalue()


def test_each_point_s_hyperparameters_are_printed_once() -> None:
    entries = [entry("tuning", 0, {"learning_rate": 0.003, "warmup_factor": 0.02}),
               entry("tuning", 1, {"learning_rate": 0.001, "warmup_factor": 0.05})]
    text = printed(lambda p: p.phase_started("tuning", entries + entries[:1]))
    assert "tuning: 3 trials" in text
    assert "s0 p0: learning_rate=0.003 warmup_factor=0.02" in text and text.count("s0 p0:") == 1
    assert "s0 p1: learning_rate=0.001 warmup_factor=0.05" in text


def test_skipped_tuning_is_said_and_an_unselected_point_is_not_minus_one() -> None:
    def one_trial(progress: RichProgress) -> None:
        progress._trials_per_study = 1
        progress.phase_started("tuning", [])

    assert "--trials 1" in printed(one_trial)

    def no_point(progress: RichProgress) -> None:
        progress._run = progress.progress.add_task("run", total=1, detail="")
        progress.trial_finished(entry("scoring", -1, None), None, "no hyperparameter point reached the target")

    text = printed(no_point)
    assert "p-1" not in text and "p- " in text and "not run: no hyperparameter point" in text
