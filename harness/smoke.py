"""The dynamic half of ``podium check``: a few real steps of a submission on a small workload (for a compressor, its
whole ``compress`` call and the measurement of what it returns).

The first step may compile (``torch.compile``, a JIT, a lazily built kernel): the smoke run allows it
:data:`FIRST_STEP_ALLOWANCE_S` before it calls the step a hang, and says so when the first step is slow, so that
a compiling submission is not reported as a hanging one. In a scored trial the compilation is submission time, paid
within the workload's budget, as in AlgoPerf.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.runner.messages import TrialLimits, TrialRequest
from harness.runner.run import first_point
from harness.runner.supervisor import TrialOutcome, run_trial
from harness.tracks.training import submission_framework
from workloads import get_spec
from workloads.spec import DEFAULT_HARDWARE_CLASS, Targets, WorkloadSpec

#: seconds one call of submission code may take in the smoke run before it is a hang (a cold torch.compile of a
#: large model on a CPU takes minutes)
FIRST_STEP_ALLOWANCE_S = 600.0
#: at most this many updates; every one is followed by an evaluation, which times each step separately
SMOKE_STEPS = 10
#: a first step this many times slower than the later ones (and over a second) is reported as slow
SLOW_FIRST_STEP = 20.0


@dataclass(frozen=True)
class StepTimes:
    """Submission seconds of the first update, and the median of the others (None with one update); a PEFT
    method's ``adapt`` apart (None on the training track)."""

    first_s: float
    later_s: float | None
    adapt_s: float | None = None

    @property
    def slow_first(self) -> bool:
        return self.first_s > 1.0 and (self.later_s is None or self.first_s > SLOW_FIRST_STEP * self.later_s)

    def describe(self) -> str:
        later = f", then {self.later_s * 1e3:.1f} ms a step" if self.later_s is not None else ""
        note = (" (a compilation, e.g. torch.compile or a JIT, happens there; a scored trial pays it within its "
                "budget)") if self.slow_first else ""
        adapt = f"adapt {self.adapt_s:.2f}s, " if self.adapt_s is not None else ""
        return f"{adapt}first step {self.first_s:.2f}s{later}{note}"


def step_times(outcome: TrialOutcome) -> StepTimes | None:
    """Per-step submission times from the evaluation after each step (the clock starts with a PEFT method's
    ``adapt``, whose own time the trial's measurements carry)."""
    marks = [e.submission_time_s for e in outcome.evals]
    if not marks:
        return None
    later = sorted(b - a for a, b in zip(marks, marks[1:]))
    adapt = (outcome.result.measurements.get("adapt_s") if outcome.result is not None else None)
    return StepTimes(marks[0] - (adapt or 0.0), later[len(later) // 2] if later else None, adapt)


def smoke_run(folder: Path, workload: str = "digits_mlp", seconds: float = 2.0) -> TrialOutcome:
    """Run the submission's first hyperparameter point for up to :data:`SMOKE_STEPS` updates or ``seconds`` of
    submission time (targets ignored), with :data:`FIRST_STEP_ALLOWANCE_S` for one slow call."""
    spec = get_spec(workload)
    if spec.track == "compression":
        return compression_smoke_run(folder, spec)
    if DEFAULT_HARDWARE_CLASS not in spec.targets:  # a workload whose targets are not set yet: none is needed here
        never = 1e30 if spec.higher_is_better else -1e30
        spec = spec.model_copy(update={"targets": {DEFAULT_HARDWARE_CLASS: Targets(validation=never, test=never)}})
    point = first_point(folder)
    request = TrialRequest(trial_id="check", submission_dir=str(folder.resolve()), workload=spec,
                           hardware_class=DEFAULT_HARDWARE_CLASS, budget_s=seconds, hyperparameters=point, seed=0,
                           max_steps=SMOKE_STEPS, eval_every_steps=1, framework=submission_framework(spec, folder),
                           limits=TrialLimits(hang_grace_s=max(FIRST_STEP_ALLOWANCE_S, seconds)))
    with tempfile.TemporaryDirectory(prefix="podium-check-") as workdir:
        return run_trial(request, Path(workdir))


def compression_smoke_run(folder: Path, spec: WorkloadSpec) -> TrialOutcome:
    """A compressor's check: its first hyperparameter point's ``compress`` call, whole (a compressor plans its own
    work, so there are no steps to cut it into), then the saved model measured in its own process, as in a scored
    trial, against the dense model, and not judged (a target-setting trial). The workload's budget applies, with
    :data:`FIRST_STEP_ALLOWANCE_S` of grace."""
    budget = spec.budget_for(DEFAULT_HARDWARE_CLASS)
    request = TrialRequest(trial_id="check", submission_dir=str(folder.resolve()), workload=spec,
                           hardware_class=DEFAULT_HARDWARE_CLASS, budget_s=budget, hyperparameters=first_point(folder),
                           seed=0, mode="target_setting", limits=TrialLimits(hang_grace_s=FIRST_STEP_ALLOWANCE_S))
    with tempfile.TemporaryDirectory(prefix="podium-check-") as workdir:
        return run_trial(request, Path(workdir))
