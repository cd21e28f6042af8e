"""The Ray executor's pieces that need no cluster: the submission archive, where a trial ran and whether its CPU is
its class's, and which outcomes the run re-runs."""

from __future__ import annotations

import shutil
from pathlib import Path

from harness.executors.ray import RayRunner, class_cpu_model, lost_outcome, pack_folder, resource_for, unpack_folder
from harness.provenance import hash_tree
from harness.runner.messages import TrialRequest
from harness.runner.run import should_retry
from workloads import get_spec

ROOT = Path(__file__).resolve().parents[2]
ADAMW = ROOT / "submissions" / "training" / "adamw"


def request(tmp_path: Path) -> TrialRequest:
    return TrialRequest(trial_id="t", submission_dir=str(ADAMW), workload=get_spec("digits_mlp"),
                        hardware_class="cpu-2core", budget_s=1.0, hyperparameters={}, seed=0)


def test_the_archive_unpacks_to_the_same_hash_and_a_changed_file_does_not(tmp_path: Path) -> None:
    folder = tmp_path / "sub"
    shutil.copytree(ADAMW, folder)
    (folder / "__pycache__").mkdir(exist_ok=True)
    (folder / "__pycache__" / "x.pyc").write_bytes(b"cache")  # left out, and not hashed either
    (folder / "data").mkdir()
    (folder / "data" / "table.json").write_text("[1, 2]")
    archive = pack_folder(folder)
    unpack_folder(archive, tmp_path / "out")
    assert hash_tree(tmp_path / "out") == hash_tree(folder)
    assert not (tmp_path / "out" / "__pycache__").exists() and (tmp_path / "out" / "data" / "table.json").exists()
    (tmp_path / "out" / "data" / "table.json").write_text("[1, 3]")
    assert hash_tree(tmp_path / "out") != hash_tree(folder)  # what the node checks before it runs anything


def test_a_trial_on_another_cpu_model_is_flagged(tmp_path: Path) -> None:
    expected = class_cpu_model("cpu-2core")
    assert expected  # the CPU model cpu-2core's targets were set on (workloads/targets.json)
    runner = RayRunner(None, ADAMW)
    facts = {"node_id": "abc", "hostname": "node-2", "node_cpu_model": expected}
    same = runner._placed(lost_outcome(request(tmp_path), tmp_path, 1.0, "x", {}), facts, "cpu-2core")
    assert same.placement == facts and same.executor == "ray"
    other = runner._placed(lost_outcome(request(tmp_path), tmp_path, 1.0, "x", {}),
                           {**facts, "node_cpu_model": "Intel Xeon"}, "cpu-2core")
    assert other.placement["cpu_model_mismatch"] == f"ran on Intel Xeon; cpu-2core is {expected}"
    assert class_cpu_model("no-such-class") is None  # no record: nothing to compare with, no flag


def test_a_lost_attempt_is_rerun_and_a_cancelled_one_is_not(tmp_path: Path) -> None:
    lost = lost_outcome(request(tmp_path), tmp_path, 2.0, "lost: the Ray worker or node running it died", {})
    assert lost.status == "failed" and lost.lost and should_retry(lost)
    cancelled = lost_outcome(request(tmp_path), tmp_path, 2.0, "cancelled", {}, lost=False)
    assert cancelled.status == "cancelled" and not should_retry(cancelled)
    assert resource_for("gpu-h100") == "podium-hw-gpu-h100"
