"""What an AlgoPerf submission finds at run time in a Podium trial: a one-process ``torch.distributed`` group with
torchrun's environment, ``spec.TrainingCompleteError``, the workload's dropout set from the hyperparameters, and
``eval_results`` readable with AlgoPerf's keys. Each case runs one real trial on ``digits_mlp``; the submissions are
written for these tests (AlgoPerf style: SGD, a check that raises with a message when something is missing).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from harness.runner.messages import TrialRequest
from harness.runner.supervisor import TrialOutcome, run_trial
from workloads import get_spec

COMMON = '''
import os

import torch
import torch.distributed as dist

from harness.algoperf import spec
from harness.algoperf.pytorch_utils import pytorch_setup

USE_PYTORCH_DDP, RANK, DEVICE, N_GPUS = pytorch_setup()


def get_batch_size(workload_name):
    return 64


def data_selection(workload, input_queue, optimizer_state, current_param_container, model_state, hyperparameters,
                   global_step, rng):
    return next(input_queue)


def sgd_step(workload, model, model_state, batch, rng, lr):
    logits, model_state = workload.model_fn(model, batch, model_state, spec.ForwardPassMode.TRAIN, rng, True)
    loss = workload.loss_fn(batch["targets"], logits)["summed"] / len(batch["targets"])
    model.zero_grad(set_to_none=True)
    loss.backward()
    with torch.no_grad():
        for param in model.parameters():
            param -= lr * param.grad
    return model_state
'''

SUBMISSIONS = {
    # Checks the group and the environment the way DDP-aware optimizers do, and all-reduces every gradient.
    "group": '''
def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
    seen = {k: os.environ.get(k) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    if not dist.is_initialized():
        raise RuntimeError("needs torch.distributed to be initialized")
    if (dist.get_world_size(), dist.get_rank(), dist.get_backend(), seen, USE_PYTORCH_DDP, RANK) != (
            1, 0, "gloo", {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0"}, False, 0):
        raise RuntimeError(f"unexpected set-up: {dist.get_world_size()} {seen} {USE_PYTORCH_DDP}")
    return {"group": dist.new_group(ranks=[0])}


def update_params(workload, current_param_container, current_params_types, model_state, hyperparameters, batch,
                  loss_type, optimizer_state, eval_results, global_step, rng):
    model_state = sgd_step(workload, current_param_container, model_state, batch, rng, 0.1)
    for param in current_param_container.parameters():
        dist.all_reduce(param.data, group=optimizer_state["group"])  # world size 1: unchanged
    return optimizer_state, current_param_container, model_state
''',
    # A topology no single process has: 8 trainers per group (as Distributed Shampoo's AlgoPerf submission asks).
    "eight_trainers": '''
def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
    trainers_per_group = 8
    if not 1 <= trainers_per_group <= dist.get_world_size():
        raise ValueError(f"Invalid number of trainers per group: {trainers_per_group}. "
                         f"Must be between [1, {dist.get_world_size()}]")
    return {}


def update_params(workload, current_param_container, current_params_types, model_state, hyperparameters, batch,
                  loss_type, optimizer_state, eval_results, global_step, rng):
    return optimizer_state, current_param_container, model_state
''',
    # Ends itself with AlgoPerf's exception name after the first evaluation, reading it AlgoPerf's way.
    "completes": '''
def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
    if (model_params.dropout_rate, model_params.aux_dropout_rate) != (0.25, 0.0):
        raise RuntimeError(f"dropout_rate {model_params.dropout_rate} was not applied to the model")
    return {}


def update_params(workload, current_param_container, current_params_types, model_state, hyperparameters, batch,
                  loss_type, optimizer_state, eval_results, global_step, rng):
    if eval_results:
        accuracy = eval_results[-1][1][f"validation/{workload.target_metric_name}"]
        raise spec.TrainingCompleteError(f"stopping at validation accuracy {accuracy}")
    model_state = sgd_step(workload, current_param_container, model_state, batch, rng, 0.01)
    return optimizer_state, current_param_container, model_state
''',
}


def run_submission(name: str, tmp_path: Path, **hyperparameters: float) -> TrialOutcome:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "submission.py").write_text(COMMON + textwrap.dedent(SUBMISSIONS[name]))
    (folder / "README.md").write_text(f"# {name}\n")
    request = TrialRequest(trial_id=name, submission_dir=str(folder), workload=get_spec("digits_mlp"),
                           hardware_class="cpu-2core", budget_s=0.5,
                           hyperparameters={"learning_rate": 0.1, **hyperparameters}, seed=1, threads=1)
    return run_trial(request, tmp_path / "runs")


def test_a_submission_sees_a_one_process_distributed_group(tmp_path: Path) -> None:
    outcome = run_submission("group", tmp_path)
    assert outcome.status in ("reached", "missed"), outcome.reason


def test_a_topology_that_cannot_exist_fails_with_a_reason_that_says_so(tmp_path: Path) -> None:
    outcome = run_submission("eight_trainers", tmp_path)
    assert outcome.status == "failed"
    assert "Invalid number of trainers per group: 8" in outcome.reason
    assert "a Podium trial is one process: torch.distributed has world size 1" in outcome.reason


def test_training_complete_error_ends_the_run_and_dropout_reaches_the_model(tmp_path: Path) -> None:
    outcome = run_submission("completes", tmp_path, dropout_rate=0.25)
    assert outcome.status == "missed", outcome.reason  # a claim of completion far from the target is a miss
    assert "raised TrainingComplete at step" in outcome.reason
    step = int(outcome.reason.split("at step ")[1].split(",")[0])
    assert step > 0 and outcome.result.steps == step
