"""The PEFT track's reference baselines (``submissions/peft``): each passes the static check; the methods that freeze
the pretrained model leave it bit-identical after real updates; adapter sizes are what each method promises; a LoRA
configuration copied from the peft documentation runs unchanged.

The in-process tests build ``fashion_cnn_transfer`` once (its builder, as a trial does) and run a few updates of the
track's default rule through :func:`harness.tracks.peft.compose`, the way the worker calls a PEFT submission.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np
import pytest

from harness.check import SEARCH_SPACE_FILE, check_submission, format_report
from harness.tracks import peft
from harness.tracks.training import as_hyperparameters
from harness.tuning.search_space import load_search_space

BASELINES = Path(__file__).resolve().parents[2] / "submissions" / "peft"
FOLDERS = sorted(p for p in BASELINES.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
EXPECTED = {"full_finetune", "linear_probe", "bitfit", "lora", "ia3", "adalora", "half_finetune", "ladder_side"}
#: baselines whose pretrained weights must stay bit-identical, and which of them they may train anyway
FREEZE_BASE = {"linear_probe": (), "bitfit": ("bias",), "lora": (), "ia3": (), "ladder_side": ()}
STEPS = 3


def test_there_are_baselines() -> None:
    assert EXPECTED <= {folder.name for folder in FOLDERS}


@pytest.mark.parametrize("folder", FOLDERS, ids=[folder.name for folder in FOLDERS])
def test_baseline_passes_the_static_check(folder: Path) -> None:
    report = check_submission(folder)
    assert report.ok, format_report(report)
    assert report.track == peft.TRACK
    assert (folder / "README.md").is_file()


@pytest.mark.parametrize("folder", FOLDERS, ids=[folder.name for folder in FOLDERS])
def test_baseline_search_space_starts_with_a_default(folder: Path) -> None:
    space = load_search_space(folder / SEARCH_SPACE_FILE)
    first = space.sample(1, seed=0)[0]
    assert 0 < first["learning_rate"] < 0.1  # the default update rule needs it


# --- In-process runs on fashion_cnn_transfer. ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def fashion() -> Any:
    import torch

    from workloads import get_spec

    spec = get_spec("fashion_cnn_transfer")
    module, function = spec.builder.split(":")
    builder = getattr(importlib.import_module(module), function)
    workload, _ = builder(spec, "cpu-2core", torch.device("cpu"), **spec.builder_kwargs)
    return workload


def _functions(folder: Path) -> ModuleType | SimpleNamespace:
    if (folder / peft.ADAPTER_CONFIG_FILE).is_file():
        return peft.config_submission(folder)
    spec = importlib.util.spec_from_file_location(f"peft_baseline_{folder.name}", folder / "submission.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _first_point(folder: Path) -> dict[str, Any]:
    return load_search_space(folder / SEARCH_SPACE_FILE).sample(1, seed=0)[0]


def _base(workload: Any, seed: int = 0) -> Any:
    return workload.init_model_fn(np.array([seed, 0], dtype=np.uint32))[0]


def _train(folder: Path, workload: Any, model: Any, steps: int = STEPS,
           point: dict[str, Any] | None = None) -> tuple[Any, Any]:
    """``adapt`` and ``steps`` updates of the composed submission, as the worker runs them; (model, optimizer)."""
    import torch

    point = point or _first_point(folder)
    submission = peft.compose(_functions(folder), point)
    hyperparameters = as_hyperparameters(point)
    torch.manual_seed(0)
    model = submission.adapt(model=model, workload=workload, hyperparameters=hyperparameters,
                             rng=np.array([0, 1], dtype=np.uint32))
    workload.describe_parameters(model)
    state = submission.init_optimizer_state(workload=workload, model_params=model, model_state=None,
                                            hyperparameters=hyperparameters, rng=np.array([0, 2], dtype=np.uint32))
    queue = workload.input_queue(submission.get_batch_size(workload.name), 0)
    for step in range(steps):
        rng = np.array([step, 3], dtype=np.uint32)
        batch = submission.data_selection(workload=workload, input_queue=queue, optimizer_state=state,
                                          current_param_container=model, model_state=None,
                                          hyperparameters=hyperparameters, global_step=step, rng=rng)
        state, model, _ = submission.update_params(
            workload=workload, current_param_container=model, current_params_types=workload.model_params_types,
            model_state=None, hyperparameters=hyperparameters, batch=batch, loss_type=None, optimizer_state=state,
            eval_results=[], global_step=step, rng=rng)
    return model, state


def _digest(tensor: Any) -> str:
    import torch

    data = tensor.detach().cpu().contiguous().view(-1).view(torch.uint8)
    return hashlib.blake2b(data.numpy().tobytes()).hexdigest()


@pytest.mark.parametrize("name", sorted(FREEZE_BASE))
def test_frozen_base_weights_are_unchanged_after_updates(name: str, fashion: Any) -> None:
    model = _base(fashion)
    heads = fashion.head_modules
    may_train = FREEZE_BASE[name]
    base = {n: p for n, p in model.named_parameters()
            if not any(n == h or n.startswith(f"{h}.") for h in heads) and n.rsplit(".", 1)[-1] not in may_train}
    before = {n: _digest(p) for n, p in base.items()}
    everything_before = {id(p): p.detach().clone() for p in model.parameters()}
    adapted, _ = _train(BASELINES / name, fashion, model)
    assert {n for n, p in base.items() if p.requires_grad} == set(), "a base weight was left trainable"
    assert {n: _digest(p) for n, p in base.items()} == before
    trainable = [p for p in adapted.parameters() if p.requires_grad]
    assert trainable, "nothing trains"
    changed = [p for p in trainable if id(p) not in everything_before
               or not bool((everything_before[id(p)] == p.detach()).all())]
    assert changed, f"{name}: {STEPS} updates changed no trainable parameter"


def _model_bytes(model: Any) -> int:
    from safetensors.torch import save

    return len(save({k: v.contiguous() for k, v in model.state_dict().items()}))


@pytest.mark.parametrize(("name", "low", "high"), [("linear_probe", 0.0, 0.01), ("lora", 0.0, 0.15),
                                                   ("full_finetune", 0.95, 1.05)])
def test_adapter_bytes_match_what_the_method_trains(name: str, low: float, high: float, fashion: Any) -> None:
    adapted, _ = _train(BASELINES / name, fashion, _base(fashion))
    share = peft.adapter_bytes(_base(fashion), adapted) / _model_bytes(_base(fashion))
    assert low < share < high, f"{name}: adapter is {share:.3f} of the base model's bytes"


def test_half_finetune_trains_half_of_each_block_and_keeps_every_parameter_in_its_optimizer(fashion: Any) -> None:
    folder = BASELINES / "half_finetune"
    model, state = _train(folder, fashion, _base(fashion), steps=4,
                          point={**_first_point(folder), "redraw_every": 2})
    in_optimizer = {id(p) for group in state["optimizer"].param_groups for p in group["params"]}
    assert in_optimizer == {id(p) for p in model.parameters()}
    layers = {"features.0", "features.3", "body.1", "body.3"}
    trainable = {n.rsplit(".", 1)[0] for n, p in model.named_parameters() if p.requires_grad}
    assert len(trainable & layers & {"features.0", "features.3"}) == 1
    assert len(trainable & layers & {"body.1", "body.3"}) == 1
    assert "head" in trainable


def test_ladder_side_returns_logits_and_sends_no_gradient_into_the_backbone(fashion: Any) -> None:
    import torch

    folder = BASELINES / "ladder_side"
    model = _functions(folder).adapt(model=_base(fashion), workload=fashion,
                                     hyperparameters=as_hyperparameters(_first_point(folder)),
                                     rng=np.array([0, 1], dtype=np.uint32))
    x = fashion.reference[:8]
    logits = model(x)
    assert logits.shape == (8, 5)
    logits.sum().backward()
    assert all(p.grad is None for p in model.backbone.parameters())
    assert all(p.grad is not None for p in model.side.parameters())
    with torch.no_grad():  # the workload's forgetting measure reads the backbone's head input: unchanged
        assert fashion.forgetting(_base(fashion), model) == 0.0


def test_an_adapter_config_saved_by_a_trained_peft_model_trains(fashion: Any, tmp_path: Path) -> None:
    """``PeftModel.save_pretrained`` writes ``inference_mode: true``; a config copied from a published adapter
    must still train its adapter (the harness forces ``inference_mode`` off)."""
    import peft as hf_peft

    trained = hf_peft.get_peft_model(_base(fashion), hf_peft.LoraConfig(r=4, target_modules=["body.1"]))
    trained.save_pretrained(tmp_path / "saved")
    config = json.loads((tmp_path / "saved" / peft.ADAPTER_CONFIG_FILE).read_text())
    assert config["inference_mode"] is True
    folder = tmp_path / "submission"
    folder.mkdir()
    shutil.copy(tmp_path / "saved" / peft.ADAPTER_CONFIG_FILE, folder / peft.ADAPTER_CONFIG_FILE)
    (folder / SEARCH_SPACE_FILE).write_text('[{"learning_rate": 0.001}]')
    adapted, _ = _train(folder, fashion, _base(fashion), steps=1)
    names = {n for n, p in adapted.named_parameters() if p.requires_grad}
    assert any("lora_A" in n for n in names) and any("head" in n for n in names)


# --- A LoRA configuration from the peft documentation, run as a trial on MiniLM. -----------------------------------


@pytest.mark.slow
def test_a_lora_config_from_the_peft_docs_runs_unchanged_on_minilm(tmp_path: Path) -> None:
    from peft import LoraConfig

    from harness.runner.messages import TrialRequest
    from harness.runner.supervisor import run_trial
    from workloads import get_spec
    from workloads.spec import Targets

    folder = tmp_path / "docs_lora"
    LoraConfig(task_type="SEQ_CLS", r=16, lora_alpha=16, lora_dropout=0.1,
               target_modules=["query", "value"]).save_pretrained(str(folder))
    (folder / SEARCH_SPACE_FILE).write_text('[{"learning_rate": 0.0005}]')
    assert check_submission(folder).ok, format_report(check_submission(folder))
    spec = get_spec("minilm_rotten_tomatoes")
    if "cpu-2core" not in spec.targets:  # not yet set: any target does (the trial stops at max_steps regardless)
        spec = spec.model_copy(update={"targets": {"cpu-2core": Targets(validation=0.99, test=0.99)}})
    request = TrialRequest(trial_id="docs_lora", submission_dir=str(folder), workload=spec,
                           hardware_class="cpu-2core", budget_s=600.0, hyperparameters={"learning_rate": 0.0005},
                           seed=1, threads=2, max_steps=2, eval_every_steps=2)
    outcome = run_trial(request, tmp_path / "work")
    assert outcome.status in ("reached", "missed"), outcome.reason
    assert outcome.result.steps == 2
    measured = outcome.result.measurements
    # LoRA on query and value of 6 layers at r 16, and the 384 -> 2 classifier (modules_to_save)
    assert measured["trainable_params"] == 6 * 2 * 16 * (384 + 384) + 770
    assert measured["merged"] == 1.0
    assert 0 < measured["adapter_bytes"] < 0.05 * measured["total_params"] * 4
