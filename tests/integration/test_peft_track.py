"""The PEFT track through the engine: track recognition, checks of both kinds of submission, a real trial with its
measurements, and the store, on the transfer CNN (the quickest PEFT workload). No duration is asserted."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.check import check_submission
from harness.cli import app
from harness.runner.messages import TrialRequest
from harness.runner.run import PlanError, RunConfig, make_plan
from harness.runner.supervisor import run_trial
from harness.tracks import TrackError, submission_track
from harness.tracks.peft import MEASUREMENTS
from workloads import get_spec

ROOT = Path(__file__).resolve().parents[2]
PEFT = ROOT / "submissions" / "peft"
WORKLOAD = "fashion_cnn_transfer"


def _config_folder(tmp_path: Path, config: dict, space: list | None = None) -> Path:
    folder = tmp_path / "method"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps(config))
    (folder / "search_space.json").write_text(json.dumps(space or [{"learning_rate": 0.003}]))
    return folder


def _trial(folder: Path, workdir: Path, steps: int = 3, hyperparameters: dict | None = None):
    request = TrialRequest(trial_id=folder.name, submission_dir=str(folder), workload=get_spec(WORKLOAD),
                           hardware_class="cpu-2core", budget_s=600.0, seed=3, threads=1, max_steps=steps,
                           eval_every_steps=steps, hyperparameters=hyperparameters or {"learning_rate": 0.003})
    return run_trial(request, workdir)


def test_the_track_is_recognised_from_the_folder(tmp_path: Path) -> None:
    assert submission_track(PEFT / "lora") == "peft"  # adapter_config.json
    assert submission_track(PEFT / "bitfit") == "peft"  # submission.py defining adapt
    assert submission_track(ROOT / "submissions" / "training" / "adamw") == "training"
    both = tmp_path / "both"
    shutil.copytree(PEFT / "bitfit", both)
    shutil.copy(PEFT / "lora" / "adapter_config.json", both)
    with pytest.raises(TrackError, match="keep one"):
        submission_track(both)


def test_a_peft_method_on_a_training_workload_is_refused_with_the_fix(tmp_path: Path) -> None:
    config = RunConfig(submission_dir=PEFT / "lora", workloads=("digits_mlp",), db=tmp_path / "r.db")
    with pytest.raises(PlanError, match="podium workloads --track peft"):
        make_plan(config)


@pytest.mark.parametrize(("config", "expected"), [
    ({"peft_type": "LORRA", "r": 8}, "unknown peft_type 'LORRA' (did you mean LORA"),
    ({"peft_type": "LORA", "r": "eight", "target_modules": ["body.1"]}, "field 'r' is 'eight' (str); LoraConfig "
                                                                         "expects int"),
    ({"peft_type": "LORA", "lora_alfa": 16, "target_modules": ["body.1"]}, "unknown field 'lora_alfa' for "
                                                                            "LoraConfig (did you mean 'lora_alpha'?)"),
])
def test_a_broken_adapter_config_is_refused_statically(tmp_path: Path, config: dict, expected: str) -> None:
    report = check_submission(_config_folder(tmp_path, config))
    assert [p.where for p in report.problems] == ["adapter_config.json"]
    assert expected in report.problems[0].message, report.problems


def test_a_search_space_value_of_the_wrong_type_is_refused(tmp_path: Path) -> None:
    folder = _config_folder(tmp_path, {"peft_type": "LORA", "target_modules": ["body.1"]},
                            [{"learning_rate": 0.003, "r": 8}, {"learning_rate": 0.003, "r": "sixteen"}])
    problems = check_submission(folder).problems
    assert len(problems) == 1 and problems[0].where == "search_space.json", problems
    assert "field 'r' is 'sixteen'" in problems[0].message


def test_a_python_method_without_adapt_signature_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "README.md").write_text("bad\n")
    (folder / "submission.py").write_text("def adapt(model, workload):\n    return model\n")
    report = check_submission(folder)
    assert report.track == "peft"
    assert any("adapt: missing parameter 'hyperparameters'" in p.message for p in report.problems), report.problems


def test_target_modules_that_match_nothing_fail_the_trial_with_peft_s_reason(tmp_path: Path) -> None:
    folder = _config_folder(tmp_path, {"peft_type": "LORA", "r": 4, "target_modules": ["attention.query"]})
    assert check_submission(folder).ok  # statically fine: only the model can tell
    outcome = _trial(folder, tmp_path)
    assert outcome.status == "failed"
    assert outcome.reason.startswith("adapt raised AdapterConfigError: peft.get_peft_model:"), outcome.reason
    assert "attention.query" in outcome.reason and "body.1" in outcome.reason  # what was asked, what exists


def test_a_lora_config_trains_and_is_measured(tmp_path: Path) -> None:
    outcome = _trial(PEFT / "lora", tmp_path, steps=5)
    assert outcome.status in ("reached", "missed"), outcome.reason
    result = outcome.result
    assert result.steps == 5 and set(result.measurements) == set(MEASUREMENTS)
    m = result.measurements
    assert 0 < m["trainable_params"] < 0.2 * m["total_params"]
    assert 0 < m["adapter_bytes"] < 4 * m["trainable_params"] + 64 * 1024  # float32 tensors + a header, no base
    assert m["merged"] == 1.0 and m["latency_ms"] > 0 and m["base_latency_ms"] > 0
    assert m["forgetting"] >= 0 and m["peak_memory_bytes"] > 0


@pytest.mark.slow  # a linear probe misses the target: it runs the whole budget
def test_a_peft_run_is_stored_under_its_track_with_its_measurements(tmp_path: Path) -> None:
    db = tmp_path / "results.db"
    out = CliRunner().invoke(app, ["run", str(PEFT / "linear_probe"), "--workload", WORKLOAD, "--db", str(db),
                                   "--scoring-seeds", "0", "--threads", "1"])
    assert out.exit_code == 0, out.output
    from harness.store import ResultsStore

    store = ResultsStore(db)
    (run,) = store.runs()
    assert run["track"] == "peft"
    (trial,) = store.trials()
    assert trial["status"] in ("reached", "missed"), trial["reason"]
    measured = json.loads(trial["measurements_json"])
    assert measured["trainable_params"] == 128 * 5 + 5  # the new head only: 128 features -> 5 classes
    assert measured["forgetting"] == 0.0  # the backbone is frozen: the source task is untouched


def test_adaloras_orthogonal_regulariser_is_peft_s_own() -> None:
    """The default update rule adds the term peft adds inside AdaLoraModel.forward when labels are passed."""
    import numpy as np
    import peft
    import torch
    import torch.nn.functional as F

    from harness.tracks.peft import adalora_orthogonality, orthogonality_penalty
    from workloads import get_spec
    from workloads.rotten_tomatoes.pytorch import models

    workload, _ = models.build(get_spec("minilm_rotten_tomatoes"), "cpu-2core", torch.device("cpu"))
    base, _ = workload.init_model_fn(np.array([0, 0], dtype=np.uint32))
    assert adalora_orthogonality(base) is None
    lora = peft.get_peft_model(base, peft.LoraConfig(r=4, target_modules=["query"]))
    assert adalora_orthogonality(lora) is None  # only AdaLoRA has the term

    base, _ = workload.init_model_fn(np.array([0, 0], dtype=np.uint32))
    model = peft.get_peft_model(base, peft.AdaLoraConfig(init_r=6, target_r=4, target_modules=["query", "value"],
                                                         orth_reg_weight=0.5, total_step=100))
    model.eval()
    batch = next(workload.input_queue(8, seed=0))
    weight, matrices = adalora_orthogonality(model)
    assert weight == 0.5 and len(matrices) == 2 * 2 * 6  # lora_A and lora_B of query and value in 6 layers
    with torch.no_grad():
        # AdaLoraModel.forward (a PeftModel without a task type calls the wrapped model directly, and adds nothing)
        with_labels = model.base_model(**batch["inputs"], labels=batch["targets"])
        cross_entropy = F.cross_entropy(with_labels.logits, batch["targets"])
        penalty = orthogonality_penalty((weight, matrices))
    assert float(penalty) > 0  # lora_A and lora_B start random, not orthogonal
    torch.testing.assert_close(with_labels.loss, cross_entropy + penalty)
