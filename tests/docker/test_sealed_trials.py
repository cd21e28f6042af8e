"""Trials in sealed containers: a real trial reaches its target and is stored with the image's ID; a submission that
reaches for the network, writes outside its folder or reads a path it was not given fails with a clear reason, and
the run goes on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from harness.executors.container import DockerRunner
from harness.runner.messages import TrialRequest
from harness.runner.run import RunConfig, execute, first_point
from workloads import get_spec

pytestmark = pytest.mark.docker
ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEST_IMAGE = "podium-scoring:test"  # built by the scoring_image fixture (conftest.py)
SECRET = Path("/tmp/podium-docker-secret.txt")
ESCAPE = Path("/var/tmp/podium-escape.txt")


def run(submission: Path, workloads: tuple[str, ...], db: Path) -> list[dict[str, Any]]:
    config = RunConfig(submission_dir=submission, workloads=workloads, scoring_seeds=0, db=db, executor="docker",
                       image=TEST_IMAGE)
    run_id, store = execute(config)
    assert {w["workload"] for w in store.workload_times(run_id)} == set(workloads)  # the run finished
    return store.trials(run_id)


def test_a_trial_in_a_container_is_stored_with_the_images_id(scoring_image: Any, tmp_path: Path) -> None:
    """Whether the 1 s budget suffices depends on how busy the machine is, so only a finished trial is asserted
    here; reaching the target is asserted below, under a budget no machine misses."""
    [trial] = run(ROOT / "submissions" / "training" / "adamw", ("digits_mlp",), tmp_path / "r.db")
    assert trial["status"] in ("reached", "missed"), trial["reason"]
    assert trial["budget_s"] == get_spec("digits_mlp").budget_for("cpu-2core")
    assert json.loads(trial["test_json"] or "{}"), "the supervisor recorded the test metrics"
    assert trial["executor"] == "docker" and trial["image_digest"] == scoring_image.image.id
    provenance = json.loads(trial["provenance_json"])
    assert provenance["executor"] == "docker" and provenance["image_digest"] == scoring_image.image.id
    assert provenance["packages"]["torch"] == "2.13.0+cpu" and provenance["affinity"]
    assert provenance["git_commit"] == scoring_image.image.labels["org.podium.git-commit"]


def test_adamw_reaches_its_target_inside_the_container(scoring_image: Any, tmp_path: Path) -> None:
    spec = get_spec("digits_mlp")
    request = TrialRequest(trial_id="adamw", submission_dir=str(ROOT / "submissions" / "training" / "adamw"),
                           workload=spec, hardware_class="cpu-2core", budget_s=120.0,
                           hyperparameters=first_point(ROOT / "submissions" / "training" / "adamw"), seed=1,
                           threads=1)
    outcome = DockerRunner.connect(scoring_image.image.name).run_trial(request, tmp_path)
    assert outcome.status == "reached", outcome.reason
    assert 0 < outcome.result.time_to_result_s <= 120.0 and outcome.executor == "docker"


def test_a_container_holds_no_held_out_data(scoring_image: Any, tmp_path: Path) -> None:
    """The evaluation server runs on the host: the container gets training-only splits, no dataset file with a
    held-out split (the fixture searches where the loaders look and every mount), and no held-out array in memory."""
    trials = []
    for name in ("read_dataset_files", "peek_held_out"):
        folder = tmp_path / name
        shutil.copytree(ROOT / "tests" / "fixtures" / "bad_submissions" / name, folder)
        (folder / "search_space.json").write_text('[{"learning_rate": 0.1}]')
        trials += run(folder, ("digits_mlp",), tmp_path / f"{name}.db")
    for trial in trials:
        assert trial["status"] in ("reached", "missed"), trial["reason"]
        assert json.loads(trial["test_json"] or "{}"), "the supervisor recorded the test metrics"


@pytest.mark.parametrize("fixture, says", [
    ("opens_socket", ("update_params raised OSError", "Network is unreachable", "a sealed trial has no network")),
    ("writes_outside", ("update_params raised OSError", "Read-only file system", str(ESCAPE))),
    ("reads_host_path", ("update_params raised FileNotFoundError", str(SECRET), "sees only its submission folder")),
])
def test_sealed_trial_fails_with_a_clear_reason(scoring_image: Any, tmp_path: Path, fixture: str,
                                                says: tuple[str, ...]) -> None:
    SECRET.write_text("a host file no trial was given")
    ESCAPE.unlink(missing_ok=True)
    try:
        trials = run(FIXTURES / fixture, ("digits_mlp", "digits_mlp_tanh"), tmp_path / "r.db")
    finally:
        SECRET.unlink()
    assert len(trials) == 2  # the first failure did not stop the run
    for trial in trials:
        assert trial["status"] == "failed" and trial["executor"] == "docker"
        for part in says:
            assert part in trial["reason"], trial["reason"]
        assert "submission.py:" in trial["reason"]
    assert not ESCAPE.exists()


def test_a_compressor_is_measured_inside_the_container(scoring_image: Any, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The compression track's trial in a sealed container: compress on the clock, the saved model measured by the
    measuring process, which the supervisor starts in a fresh container of its own (no network, read-only mounts),
    while the trial's container is paused. The made models' cache
    starts empty, as on a fresh machine: the host makes the dense CNN first (the container mounts the cache
    read-only, so it could not make it there)."""
    monkeypatch.setenv("PODIUM_CACHE_DIR", str(tmp_path / "cache"))
    [trial] = run(ROOT / "submissions" / "compression" / "dynamic_int8", ("fashion_cnn_compress",), tmp_path / "r.db")
    # reached where the dense CNN is the recorded one; on another CPU kernel family its weights round differently
    # and int8's bytes ratio (0.2370 there) lands a hair over the target its own runs set (0.2366)
    assert trial["status"] == "reached" or "over the target" in trial["reason"], trial["reason"]
    assert trial["executor"] == "docker" and trial["image_digest"] == scoring_image.image.id
    measured = json.loads(trial["measurements_json"])
    assert 0.15 < measured["bytes_ratio"] < 0.5 and measured["bits_per_weight"] >= 8.0
    assert json.loads(trial["validation_json"])["accuracy"] >= get_spec("fashion_cnn_compress").targets_for(
        "cpu-2core").validation
    assert list((tmp_path / "cache" / "pretrained").glob("fashion_cnn_src0123456789_*.safetensors"))


#: a compressed model that, when it first runs, looks for Fashion-MNIST's test files wherever they could be mounted
#: (the read_dataset_files fixture's search) and fails naming the first it can read
PEEK_FILES = """
import importlib.util
import sys
from pathlib import Path

from torch import nn

FIXTURE = Path(__file__).resolve().parent / "read_dataset_files.py"

class Peek(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.searched = False

    def forward(self, x):
        if not self.searched:
            self.searched = True
            spec = importlib.util.spec_from_file_location("read_dataset_files", FIXTURE)
            search = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(search)
            found = search._dataset_files()
            if found:
                raise RuntimeError(f"found a dataset file with held-out examples: {found[0]}")
        return self.inner(x)

def compress(model, workload, calibration_batches, train_queue, hyperparameters, rng):
    return Peek(model)
"""
#: the same search, in ``compress`` itself
PEEK_FILES_IN_COMPRESS = PEEK_FILES.replace("    return Peek(model)", """    Peek(model).forward(next(train_queue)["inputs"])
    return model""")


def test_a_compressed_model_is_measured_where_no_dataset_file_is(scoring_image: Any, tmp_path: Path) -> None:
    """The measuring container gets the held-out inputs in a file the host wrote, without labels, and no dataset
    folder: a model that searches the mounts for the test split's files when it runs finds none (locally, where the
    trial runs as your user, the same search finds them: the README's guarantee table)."""
    folder = tmp_path / "peek_files"
    folder.mkdir()
    (folder / "submission.py").write_text(PEEK_FILES)
    shutil.copyfile(ROOT / "tests" / "fixtures" / "bad_submissions" / "read_dataset_files" / "submission.py",
                    folder / "read_dataset_files.py")
    [trial] = run(folder, ("fashion_cnn_compress",), tmp_path / "r.db")
    assert trial["status"] == "missed" and "bytes_ratio 1.0" in trial["reason"], trial["reason"]
    assert json.loads(trial["validation_json"])["accuracy"] > 0.85  # scored on the host from the container's logits


def test_compress_in_a_container_finds_no_dataset_file(scoring_image: Any, tmp_path: Path) -> None:
    """``compress`` runs in a container that mounts a training-only export of Fashion-MNIST's splits, not the
    dataset folder: the same search there finds no test file either."""
    folder = tmp_path / "peek_files_in_compress"
    folder.mkdir()
    (folder / "submission.py").write_text(PEEK_FILES_IN_COMPRESS)
    shutil.copyfile(ROOT / "tests" / "fixtures" / "bad_submissions" / "read_dataset_files" / "submission.py",
                    folder / "read_dataset_files.py")
    [trial] = run(folder, ("fashion_cnn_compress",), tmp_path / "r.db")
    assert trial["status"] == "missed" and "bytes_ratio 1.0" in trial["reason"], trial["reason"]


#: the read_dataset_files fixture's search at the start of a PEFT method's ``adapt`` or of a compressor
SEARCH_FILES = """
import importlib.util
from pathlib import Path

def search_files():
    spec = importlib.util.spec_from_file_location(
        "read_dataset_files", Path(__file__).resolve().parent / "read_dataset_files.py")
    search = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(search)
    found = search._dataset_files()
    if found:
        raise RuntimeError(f"found a dataset file with held-out examples: {found[0]}")
"""


def with_file_search(folder: Path) -> None:
    shutil.copyfile(ROOT / "tests" / "fixtures" / "bad_submissions" / "read_dataset_files" / "submission.py",
                    folder / "read_dataset_files.py")
    (folder / "search_files.py").write_text(SEARCH_FILES)


def test_a_peft_model_in_a_container_is_evaluated_on_the_host(scoring_image: Any, tmp_path: Path) -> None:
    """A PEFT method runs in the container, which mounts the host's export of the training split and the forgetting
    reference sample (no dataset folder) and drops what is held out after building the workload: the fixture
    searches its memory for held-out arrays and the mounts for the test split's files, and finds neither. The model
    is exported there and the evaluation server on the host runs the program (the path crosses the results
    folder's mount)."""
    folder = tmp_path / "peek_held_out_peft"
    shutil.copytree(ROOT / "tests" / "fixtures" / "bad_submissions" / "peek_held_out_peft", folder)
    with_file_search(folder)
    source = (folder / "submission.py").read_text()
    assert "    found = _held_out_arrays(workload)" in source
    (folder / "submission.py").write_text(source.replace(
        "    found = _held_out_arrays(workload)", "    import search_files\n    search_files.search_files()\n"
        "    found = _held_out_arrays(workload)"))
    (folder / "search_space.json").write_text('[{"learning_rate": 0.01}]')
    [trial] = run(folder, ("fashion_cnn_regroup",), tmp_path / "r.db")
    assert trial["status"] in ("reached", "missed"), trial["reason"]
    assert trial["executor"] == "docker" and json.loads(trial["test_json"] or "{}")
    evidence = json.loads(trial["provenance_json"])["evidence"]
    assert evidence["evaluated_by"] == "server" and evidence["evaluation_wait_s"] > 0


MINILM_COMPRESS = """
import search_files

def compress(model, workload, calibration_batches, train_queue, hyperparameters, rng):
    search_files.search_files()
    return model
"""


def test_a_text_workload_in_a_container_reads_no_corpus(scoring_image: Any, tmp_path: Path) -> None:
    """MiniLM's compression trial: ``compress`` runs on the host's export of the training snippets (the corpus file,
    which holds every split, is not in the image or its mounts: the search finds nothing), and the measuring
    container gets the held-out inputs without labels; the host scores its logits."""
    from workloads.rotten_tomatoes.pytorch.finetuned import cached_weights

    if cached_weights() is None:  # a fresh machine: making it here would take the system tests' whole time
        pytest.skip("the dense MiniLM is not made on this machine (~15 minutes, once: python -m "
                    "workloads.rotten_tomatoes.pytorch.finetuned)")
    folder = tmp_path / "minilm_search"
    folder.mkdir()
    with_file_search(folder)
    (folder / "submission.py").write_text(MINILM_COMPRESS)
    [trial] = run(folder, ("minilm_sentiment_compress",), tmp_path / "r.db")
    assert trial["status"] == "missed" and "bytes_ratio 1.0" in trial["reason"], trial["reason"]
    assert json.loads(trial["validation_json"])["accuracy"] == pytest.approx(0.8392, abs=0.002)
