"""The executor plumbing that needs no engine: tailing the records file, image naming, sealed-trial hints, the
executor columns of old databases, and the refusal to mix environments in one run. Fast; not marked ``docker``."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from harness.executors import ExecutorError, LocalRunner, runner_for
from harness.executors.container import hinted, submission_image_tag, tail_lines
from harness.runner.run import PlanError, RunConfig, execute
from harness.runner.supervisor import TrialOutcome
from harness.store import ResultsStore
from harness.store.schema import MIGRATIONS

ADAMW = Path(__file__).resolve().parents[2] / "submissions" / "training" / "adamw"


def test_tailing_yields_complete_lines_then_the_rest_after_the_end(tmp_path: Path) -> None:
    path, ended = tmp_path / "records", threading.Event()
    path.write_bytes(b'{"a": 1}\n{"b"')
    lines = tail_lines(path, ended)
    assert next(lines) == b'{"a": 1}\n'
    with open(path, "ab") as fh:
        fh.write(b': 2}\n{"cut')  # the worker was killed mid-write
    assert next(lines) == b'{"b": 2}\n'
    ended.set()
    assert list(lines) == [b'{"cut']  # handed over as is: the reader reports it as an unreadable record


def test_submission_image_tag_follows_the_requirements_and_the_scoring_image(tmp_path: Path) -> None:
    (tmp_path / "My Sub").mkdir()
    folder = tmp_path / "My Sub"
    (folder / "requirements.txt").write_text("einops\n")
    tag = submission_image_tag(folder, "sha256:aaa")
    assert tag.startswith("podium-submission:my-sub-") and tag == submission_image_tag(folder, "sha256:aaa")
    assert tag != submission_image_tag(folder, "sha256:bbb")
    (folder / "requirements.txt").write_text("einops==0.8.1\n")
    assert tag != submission_image_tag(folder, "sha256:aaa")


def test_sealed_failures_get_a_hint_and_others_do_not() -> None:
    network = hinted("update_params raised OSError: [Errno 101] Network is unreachable")
    assert network.endswith("(a sealed trial has no network)")
    assert "write only to /tmp" in hinted("update_params raised OSError: [Errno 30] Read-only file system: '/x'")
    assert hinted("update_params raised ValueError: exploded") == "update_params raised ValueError: exploded"


def test_local_runner_takes_no_image() -> None:
    with pytest.raises(ExecutorError, match="--executor docker"):
        runner_for("local", "podium-scoring:cpu")
    assert isinstance(runner_for("local"), LocalRunner)


def test_old_trials_are_marked_local_by_the_migration(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:  # a database as the previous release left it (schema version 2)
        for script in MIGRATIONS[:2]:
            conn.executescript(script)
        conn.execute("INSERT INTO runs VALUES ('r', 'now', 'training', 's', '/s', 'h', 'external', 'cpu-2core', "
                     "'rel', '0.1.0', 'c', '{}')")
        conn.execute("INSERT INTO trials (trial_id, run_id, workload, workload_spec_hash, data_revision, study, "
                     "trial_index, role, seed, hyperparameters_json, budget_s, status, record_version, started_at) "
                     "VALUES ('t', 'r', 'digits_mlp', 'h', 'd', 0, 0, 'tuning', 1, '{}', 10, 'missed', 1, 'now')")
        conn.execute("PRAGMA user_version=2")
    [trial] = ResultsStore(db).trials()
    assert (trial["executor"], trial["image_digest"]) == ("local", None)


class FakeDockerRunner:
    """Stands in for a docker runner: records trials as run in one image, without an engine."""

    executor = "docker"

    def __init__(self, digest: str) -> None:
        self.image_digest = digest

    def run_trial(self, request, workdir, on_eval=lambda r: None, on_poll=None, cancel=None) -> TrialOutcome:
        return TrialOutcome("missed", "fake", None, 0.0, 0, 0.0, workdir / "log", executor="docker",
                            image_digest=self.image_digest)


def test_a_run_never_mixes_executors_or_images(tmp_path: Path) -> None:
    config = RunConfig(submission_dir=ADAMW, workloads=("digits_mlp",), scoring_seeds=0, db=tmp_path / "r.db",
                       executor="docker")
    run_id, store = execute(config, runner=FakeDockerRunner("sha256:aaa"))
    [trial] = store.trials(run_id)
    assert (trial["executor"], trial["image_digest"]) == ("docker", "sha256:aaa")
    assert '"image_digest": "sha256:aaa"' in trial["provenance_json"]

    execute(config, runner=FakeDockerRunner("sha256:aaa"))  # resuming in the same image is fine
    with pytest.raises(PlanError, match="ran in docker image sha256:aaa; this command would run the rest in docker "
                                        "image sha256:bbb. One run never mixes environments"):
        execute(config, runner=FakeDockerRunner("sha256:bbb"))
    with pytest.raises(PlanError, match="would run the rest locally"):
        execute(config.model_copy(update={"executor": "local"}), runner=LocalRunner())
