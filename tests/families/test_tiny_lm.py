"""The tiny_lm family: the Austen corpus and its checksums, the committed tokenizer, the token blocks, and the
transformer (loss at initialisation, causality, one row of logits a token, parameter types)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.tracks.training import ParameterType
from workloads import get_spec, variants_of
from workloads.common.data import ChecksumMismatchError, DatasetMissingError, sha256_file
from workloads.tiny_lm import data
from workloads.tiny_lm.pytorch.models import TinyLM, build

FAMILY = ("tiny_lm", *(v.name for v in variants_of("tiny_lm")))


def test_corpus_files_match_their_checksums() -> None:
    folder = data.data_dir()
    assert sha256_file(folder / "Rdata.rdb") == data.RDB_SHA256
    assert sha256_file(folder / "Rdata.rdx") == data.RDX_SHA256


def test_decoded_novels_match_their_checksum() -> None:
    novels = data.read_novels()
    assert data.text_hash(novels) == data.TEXT_SHA256
    assert novels["persuasion"].startswith("Persuasion")
    assert "Elizabeth" in novels["prideprejudice"]


def test_a_corrupted_corpus_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in data.FILES:
        shutil.copyfile(data.data_dir() / name, tmp_path / name)
    raw = bytearray((tmp_path / "Rdata.rdb").read_bytes())
    raw[100_000] ^= 0xFF
    (tmp_path / "Rdata.rdb").write_bytes(bytes(raw))
    monkeypatch.setenv(data.ENV_DIR, str(tmp_path))
    with pytest.raises(ChecksumMismatchError, match="Rdata.rdb"):
        data.read_novels()


def test_a_missing_corpus_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(data.ENV_DIR, str(tmp_path))
    with pytest.raises(DatasetMissingError, match="make data"):
        data.data_dir()


def test_committed_tokenizer_matches_its_checksum_and_a_retrained_one() -> None:
    assert sha256_file(data.TOKENIZER_FILE) == data.TOKENIZER_SHA256
    committed = json.loads(data.TOKENIZER_FILE.read_text())["model"]
    retrained = json.loads(data.train_tokenizer(data.read_novels()).to_str())["model"]
    assert retrained["vocab"] == committed["vocab"]
    assert retrained["merges"] == committed["merges"]
    assert len(committed["vocab"]) == data.VOCAB_SIZE


def test_tokenizer_round_trips_held_out_text_exactly() -> None:
    tokenizer, text = data.load_tokenizer(), data.read_novels()["persuasion"][:20_000]
    assert tokenizer.decode(tokenizer.encode(text).ids) == text


def test_token_streams_and_splits() -> None:
    streams = data.token_streams()  # verified against TOKENS_SHA256 inside
    assert {k: len(v) for k, v in streams.items()} == {"train": 940_729, "validation": 135_168, "test": 148_584}
    splits = data.make_splits(64)
    assert splits.train_x.shape == splits.train_y.shape == (940_729 // 65, 64)
    assert splits.validation_x.shape == splits.test_x.shape == (data.EVAL_TOKENS // 64, 64)
    # targets are the inputs shifted by one token
    np.testing.assert_array_equal(splits.train_x[:, 1:], splits.train_y[:, :-1])
    held_out = splits.training_only()
    assert held_out.sizes() == {"train": 940_729 // 65, "validation": 256, "test": 256}
    assert held_out.validation_x.size == 0


@pytest.mark.parametrize("name", FAMILY)
def test_loss_at_initialisation_is_near_log_vocabulary(name: str) -> None:
    spec = get_spec(name)
    workload, evaluator = build(spec, "cpu-2core", torch.device("cpu"), **spec.builder_kwargs)
    model, _ = workload.init_model_fn(np.array([3, 4], dtype=np.uint32))
    loss = evaluator.evaluate(model, None, "validation")["loss"]
    assert abs(loss - math.log(data.VOCAB_SIZE)) < 0.1, loss
    assert spec.metric == "perplexity" and not spec.higher_is_better


def test_training_batches_are_one_row_a_token_and_the_loss_counts_tokens() -> None:
    spec = get_spec("tiny_lm")
    workload, _ = build(spec, "cpu-2core", torch.device("cpu"), **spec.builder_kwargs)
    model, _ = workload.init_model_fn(np.array([0, 1], dtype=np.uint32))
    batch = next(workload.input_queue(8, seed=0))
    assert batch["inputs"].shape == (8, 64) and batch["targets"].shape == (8 * 64,)
    logits, _ = workload.model_fn(model, batch, None, "train", None, True)
    assert logits.shape == (8 * 64, data.VOCAB_SIZE)
    out = workload.loss_fn(batch["targets"], logits)
    assert int(out["n_valid_examples"]) == 8 * 64
    assert float(out["summed"]) / (8 * 64) == pytest.approx(math.log(data.VOCAB_SIZE), abs=0.1)


def test_the_model_is_causal() -> None:
    torch.manual_seed(0)
    model = TinyLM(context=16).eval()
    x = torch.randint(0, data.VOCAB_SIZE, (1, 16))
    changed = x.clone()
    changed[0, 10] = (x[0, 10] + 1) % data.VOCAB_SIZE
    a, b = model(x).view(16, -1), model(changed).view(16, -1)
    torch.testing.assert_close(a[:10], b[:10])
    assert not torch.allclose(a[10:], b[10:])


def test_parameter_types_name_the_transformer_parts() -> None:
    spec = get_spec("tiny_lm")
    workload, _ = build(spec, "cpu-2core", torch.device("cpu"), **spec.builder_kwargs)
    workload.init_model_fn(np.array([0, 1], dtype=np.uint32))
    types = workload.model_params_types
    assert types["embed.weight"] == types["position.weight"] == ParameterType.EMBEDDING
    assert types["blocks.0.qkv.weight"] == ParameterType.ATTENTION_QKV
    assert types["blocks.0.proj.weight"] == ParameterType.ATTENTION_OUT
    assert types["blocks.0.ln1.weight"] == ParameterType.LAYER_NORM_SCALE
    assert types["blocks.1.fc.weight"] == ParameterType.WEIGHT
    assert workload.is_output_params("embed.weight")


def test_a_command_meeting_a_missing_corpus_says_what_and_how_in_one_message(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from harness.demo import BASELINES_DIR

    env = {**os.environ, data.ENV_DIR: str(tmp_path / "nowhere")}
    done = subprocess.run([sys.executable, "-m", "harness.cli", "check", str(BASELINES_DIR / "adamw"), "--workload",
                           "tiny_lm"], capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "make data" in done.stderr and data.ENV_DIR in done.stderr
