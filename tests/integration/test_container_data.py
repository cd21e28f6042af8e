"""What a trial in a container reads instead of its dataset: the host's export of the workload's training data (and a
PEFT workload's forgetting reference sample), made by ``harness.executors.container.training_splits``. Built from
that export alone, with the dataset itself out of reach, each workload is the one built from the dataset: the same
training data, reference sample and held-out sizes, and no held-out example."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.executors.container import training_splits
from harness.runner.messages import TrialRequest
from workloads import get_spec

ROOT = Path(__file__).resolve().parents[2]

#: builds the workload in a fresh process and prints what it holds: digests of its training data and reference
#: sample, its held-out sizes, and the rows of every held-out split its builder's evaluator got
PROBE = """
import hashlib, json, sys
import numpy as np, torch
from workloads import get_spec

def digest(value):
    h = hashlib.sha256()
    if isinstance(value, dict):
        for key in sorted(value):
            h.update(key.encode() + digest(value[key]).encode())
    elif value is not None:
        h.update(np.ascontiguousarray(torch.as_tensor(value).numpy()).tobytes())
    return h.hexdigest()[:16]

spec = get_spec(sys.argv[1])
module, function = spec.builder.split(":")
builder = getattr(__import__(module, fromlist=[function]), function)
workload, evaluator = builder(spec, "cpu-2core", torch.device("cpu"), **spec.builder_kwargs)
held = {} if evaluator is None else {k: len(y) if y is not None else 0 for k, (x, y) in evaluator._splits.items()}
print(json.dumps({"train": digest(workload._train_y), "reference": digest(getattr(workload, "reference", None)),
                  "sizes": [workload.num_validation_examples, workload.num_test_examples], "held": held}))
"""

#: the dataset out of reach: Fashion-MNIST's folder, the Rotten Tomatoes file and the Austen novels point nowhere
UNREACHABLE = {"PODIUM_FASHION_MNIST_DIR": "/nonexistent/fashion-mnist",
               "PODIUM_ROTTEN_TOMATOES_FILE": "/nonexistent/rotten_tomatoes_corpus_full.csv.bz2",
               "PODIUM_AUSTEN_DIR": "/nonexistent/janeaustenr"}


def probe(workload: str, env: dict[str, str]) -> dict:
    import os

    done = subprocess.run([sys.executable, "-c", PROBE, workload], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **env}, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("workload", ["fashion_cnn_transfer", "fashion_cnn_transfer_reverse", "fashion_cnn_regroup",
                                      "minilm_rotten_tomatoes_lowdata", "minilm_sentiment_compress", "tiny_lm",
                                      "tiny_lm_short_context", "minilm_rotten_tomatoes_ft"])
def test_a_workload_built_from_its_export_is_the_same_without_held_out_data(workload: str, tmp_path: Path) -> None:
    spec = get_spec(workload)
    request = TrialRequest(trial_id="t", submission_dir=str(tmp_path), workload=spec, hardware_class="cpu-2core",
                           budget_s=1.0, seed=0)
    folder = training_splits(request, tmp_path)
    assert folder is not None and (folder / "done").exists()
    files = [p for p in folder.iterdir() if p.name != "done"]
    assert files and sum(p.stat().st_size for p in files) > 0
    full = probe(workload, {})
    exported = probe(workload, {"PODIUM_SPLITS_DIR": str(folder), **UNREACHABLE})
    assert exported["train"] == full["train"] and exported["reference"] == full["reference"]
    assert exported["sizes"] == full["sizes"] and min(full["sizes"]) > 0
    assert full["held"] == ({} if spec.track == "compression" else dict(zip(("validation", "test"), full["sizes"])))
    assert all(n == 0 for n in exported["held"].values())  # the builder's evaluator got no held-out example


def test_the_dataset_is_out_of_reach_in_the_probe(tmp_path: Path) -> None:
    """Without the export, the same probe cannot load the data: the workloads above did not read it."""
    import os

    for workload in ("fashion_cnn_regroup", "minilm_sentiment_compress"):
        done = subprocess.run([sys.executable, "-c", PROBE, workload], capture_output=True, text=True, cwd=ROOT,
                              env={**os.environ, **UNREACHABLE}, timeout=600)
        assert done.returncode != 0 and "DatasetMissingError" in done.stderr, done.stderr[-2000:]


#: a language model's measuring process: the held-out texts (what its perplexity reads) and what else it holds
TEXTS_PROBE = """
import hashlib, json
from workloads.rotten_tomatoes.data import load_splits
from workloads.smollm2_compress.data import split_texts

texts = split_texts(("validation", "test"))
splits = load_splits()
print(json.dumps({"texts": {k: hashlib.sha256(v.encode()).hexdigest() for k, v in texts.items()},
                  "train": len(splits.train_texts), "labels": len(splits.validation_y) + len(splits.test_y),
                  "sizes": splits.sizes()}))
"""


def test_a_language_models_measurement_gets_the_held_out_texts_without_labels(tmp_path: Path) -> None:
    """SmolLM2's measuring container mounts the host's export of the held-out texts (its perplexity's inputs and
    labels at once): the same texts as from the corpus, no sentiment label, no training snippet."""
    import os

    from harness.executors.container import held_out_texts

    request = TrialRequest(trial_id="t", submission_dir=str(tmp_path), workload=get_spec("smollm2_compress"),
                           hardware_class="cpu-2core", budget_s=1.0, seed=0)
    folder = held_out_texts(request, tmp_path)
    assert folder is not None

    def run(env: dict[str, str]) -> dict:
        done = subprocess.run([sys.executable, "-c", TEXTS_PROBE], capture_output=True, text=True, cwd=ROOT,
                              env={**os.environ, **env}, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    full, exported = run({}), run({"PODIUM_SPLITS_DIR": str(folder), **UNREACHABLE})
    assert exported["texts"] == full["texts"] and exported["sizes"] == {**full["sizes"], "train": 0}
    assert exported["train"] == 0 and exported["labels"] == 0 and full["labels"] > 0
