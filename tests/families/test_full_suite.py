"""The training track's GPU workloads (``full`` suite): CIFAR-10 / ResNet-18, WikiText-103 / GPT-2 small, Imagenette /
ViT-S/16.

Their data comes from the Hugging Face hub, which tests never reach: each loader is exercised on a few rows written
here in the hub's own format (parquet files written by ``datasets`` with the hub dataset's column names and types,
in the hub's folder layout), found through the family's environment variable. Each workload trains two AdamW steps
on CPU at a tiny size and is evaluated. The tests marked ``gpu`` (deselected by default; ``pytest -m gpu`` on a
machine with CUDA) build each full-size model on the GPU from the same tiny files.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.tracks.training import ForwardPassMode, ParameterType
from workloads import get_spec, variants_of
from workloads.cifar10 import data as cifar
from workloads.cifar10.pytorch import models as cifar_models
from workloads.common import data as common_data
from workloads.common.data import DatasetMissingError
from workloads.common.images import ImageWorkload
from workloads.imagenette import data as nette
from workloads.imagenette.pytorch import models as nette_models
from workloads.wikitext import data as wiki
from workloads.wikitext.pytorch import models as wiki_models

datasets = pytest.importorskip("datasets")
Image = pytest.importorskip("PIL.Image")

FAMILIES = {"cifar10": (cifar, "cifar10_resnet18"), "wikitext": (wiki, "wikitext103_gpt2"),
            "imagenette": (nette, "imagenette_vit")}
TINY_VOCAB = 300


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline; ``datasets``' and Podium's caches in the test's folder; no recorded hash (the files here are not the
    real datasets); no family's local copy unless a test sets it; nothing preloaded."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets")
    monkeypatch.setenv(common_data.CACHE_ENV, str(tmp_path / "podium-cache"))
    for module, _ in FAMILIES.values():
        monkeypatch.delenv(module.ENV_DIR, raising=False)
    monkeypatch.setattr(cifar, "CONTENT_SHA256", None)
    monkeypatch.setattr(nette, "CONTENT_SHA256", None)
    monkeypatch.setattr(wiki, "TEXT_SHA256", None)
    monkeypatch.setattr(wiki, "TOKENS_SHA256", None)
    monkeypatch.setattr(wiki, "_streams", {})
    monkeypatch.setattr(common_data, "_preloaded", {})


# --- hub-format files ---------------------------------------------------------------------------------------------


def write_parquet(path: Path, columns: dict, features) -> None:  # features: datasets.Features
    path.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_dict(columns, features=features).to_parquet(str(path))


def cifar_features(classes: tuple[str, ...] = cifar.CLASSES):
    return datasets.Features({"img": datasets.Image(), "label": datasets.ClassLabel(names=list(classes))})


def write_cifar(root: Path, n_train: int = 30, n_test: int = 10, seed: int = 0) -> dict[str, tuple]:
    """``uoft-cs/cifar10``'s layout and schema: ``plain_text/{train,test}-00000-of-00001.parquet``, ``img`` (PNG)
    and ``label``. Returns the written arrays by split."""
    rng = np.random.default_rng(seed)
    written = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n)
        write_parquet(root / "plain_text" / f"{split}-00000-of-00001.parquet",
                      {"img": [Image.fromarray(im) for im in images], "label": labels.tolist()}, cifar_features())
        written[split] = (images, labels)
    return written


def jpeg(image) -> dict:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95)
    return {"bytes": buffer.getvalue(), "path": None}


def nette_colour(label: int) -> tuple[int, int, int]:
    return (20 * label + 30, 200 - 15 * label, (37 * label) % 256)


def write_imagenette(root: Path, n_train: int = 24, n_test: int = 10) -> dict[str, list[int]]:
    """The hub's parquet conversion of ``frgfm/imagenette`` (``160px/{train,validation}/0000.parquet``): ``image``
    (JPEG, shorter side 160 px, some portrait, one grey-scale) and ``label``. Each image is one colour, its label's;
    returns the labels by hub split."""
    features = datasets.Features({"image": datasets.Image(),
                                  "label": datasets.ClassLabel(names=list(nette.CLASSES))})
    written = {}
    for split, n in (("train", n_train), ("validation", n_test)):
        labels = [k % 10 for k in range(n)]
        images = []
        for k, label in enumerate(labels):
            size = (213, 160) if k % 3 else (160, 240)  # (width, height): landscape and portrait
            images.append(Image.new("L", size, 128) if k == 1 else Image.new("RGB", size, nette_colour(label)))
        write_parquet(root / "160px" / split / "0000.parquet", {"image": [jpeg(im) for im in images],
                                                                  "label": labels}, features)
        written[split] = labels
    return written


WORDS = ("the of and in to a was is for on as with by he at from his that it an were are which this game "
         "series Senjō no Valkyria 1 @,@ 000 2011 ( ) ' s").split()


def wiki_rows(rng: np.random.Generator, articles: int, paragraphs: int = 3, words: int = 20) -> list[str]:
    """Rows as WikiText's: empty rows between paragraphs, headings `` = Title = `` and `` = = Section = = ``, each
    non-empty row ending with its newline."""
    rows = []
    for a in range(articles):
        rows += ["", f" = Article {a} = \n", ""]
        for s in range(2):
            rows += [f" = = Section {s} = = \n", ""]
            for _ in range(paragraphs):
                rows += [" " + " ".join(rng.choice(WORDS, words)) + " . \n", ""]
    return rows


def write_wikitext(root: Path, train_articles: int = 3, held_out_articles: int = 1, words: int = 20
                   ) -> dict[str, list[str]]:
    """``Salesforce/wikitext``'s layout and schema: ``wikitext-103-raw-v1/<split>-0000k-of-0000n.parquet`` (train in
    two shards, as the hub's), one string column ``text``. Returns the rows written by split."""
    rng = np.random.default_rng(0)
    features = datasets.Features({"text": datasets.Value("string")})
    folder = root / wiki.HUB_CONFIG
    written = {"train": wiki_rows(rng, train_articles, words=words),
               "validation": wiki_rows(rng, held_out_articles, words=words),
               "test": wiki_rows(rng, held_out_articles, words=words)}
    half = len(written["train"]) // 2
    write_parquet(folder / "train-00000-of-00002.parquet", {"text": written["train"][:half]}, features)
    write_parquet(folder / "train-00001-of-00002.parquet", {"text": written["train"][half:]}, features)
    for split in ("validation", "test"):
        write_parquet(folder / f"{split}-00000-of-00001.parquet", {"text": written[split]}, features)
    return written


# --- loaders ------------------------------------------------------------------------------------------------------


def test_cifar10_loads_the_hub_format_and_carves_validation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written = write_cifar(tmp_path / "cifar")
    monkeypatch.setenv(cifar.ENV_DIR, str(tmp_path / "cifar"))
    monkeypatch.setattr(cifar, "N_VALIDATION", 6)
    splits = cifar.load_splits()
    assert splits.train_x.shape == (24, 32, 32, 3) and splits.validation_x.shape == (6, 32, 32, 3)
    assert splits.train_x.dtype == np.uint8 and splits.train_y.dtype == np.int64
    images, labels = written["train"]
    expected = common_data.carve_validation(images, labels.astype(np.int64), 6, cifar.VALIDATION_SEED)
    for got, want in zip((splits.train_x, splits.train_y, splits.validation_x, splits.validation_y), expected):
        np.testing.assert_array_equal(got, want)  # PNG is lossless: the very pixels, carved as carve_validation does
    np.testing.assert_array_equal(splits.test_x, written["test"][0])
    np.testing.assert_array_equal(splits.test_y, written["test"][1])
    assert splits.sizes() == {"train": 24, "validation": 6, "test": 10}


def test_cifar10_refuses_a_dataset_with_other_classes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for split in ("train", "test"):
        write_parquet(tmp_path / f"{split}-00000-of-00001.parquet",
                      {"img": [Image.new("RGB", (32, 32))] * 2, "label": [0, 1]},
                      cifar_features(tuple(str(k) for k in range(10))))
    monkeypatch.setenv(cifar.ENV_DIR, str(tmp_path))  # the config's files directly in the folder: also accepted
    with pytest.raises(DatasetMissingError, match="column 'label'"):
        cifar.load_raw()


def test_imagenette_loads_the_parquet_conversion_resized_to_128(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    written = write_imagenette(tmp_path / "nette")
    monkeypatch.setenv(nette.ENV_DIR, str(tmp_path / "nette"))
    monkeypatch.setattr(nette, "N_VALIDATION", 4)
    train_x, train_y, test_x, test_y = nette.load_raw()
    assert train_x.shape == (24, 128, 128, 3) and test_x.shape == (10, 128, 128, 3) and train_x.dtype == np.uint8
    assert train_y.tolist() == written["train"] and test_y.tolist() == written["validation"]  # test: hub validation
    for k, (image, label) in enumerate(zip(train_x, train_y)):
        colour = (128, 128, 128) if k == 1 else nette_colour(int(label))  # the grey-scale one comes out as RGB grey
        np.testing.assert_allclose(image.reshape(-1, 3).mean(axis=0), colour, atol=3)
    splits = nette.load_splits()
    assert splits.sizes() == {"train": 20, "validation": 4, "test": 10}
    assert sorted([*splits.train_y.tolist(), *splits.validation_y.tolist()]) == sorted(written["train"])


def test_wikitext_loads_trains_a_tokenizer_and_caches_the_tokens(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    written = write_wikitext(tmp_path / "wikitext")
    monkeypatch.setenv(wiki.ENV_DIR, str(tmp_path / "wikitext"))
    rows = wiki.read_rows()
    assert rows["train"] == [row or "\n" for row in written["train"]]  # both shards, in order; empty rows as "\n"
    streams = wiki.token_streams(TINY_VOCAB)
    assert {s: a.dtype for s, a in streams.items()} == dict.fromkeys(wiki.SPLITS, np.dtype(np.uint16))
    tokenizer_files = list((tmp_path / "podium-cache" / "wikitext").glob(f"bpe{TINY_VOCAB}-*.json"))
    assert len(tokenizer_files) == 1
    tokenizer = wiki.load_tokenizer(tokenizer_files[0])
    assert tokenizer.get_vocab_size() == TINY_VOCAB
    for split in wiki.SPLITS:  # byte-level: the text round-trips exactly, held-out splits included
        text = "".join(rows[split])
        assert tokenizer.decode(streams[split].tolist()) == text
        assert int(streams[split].max()) < TINY_VOCAB
    # a second process finds the tokenizer and the tokens in the cache: nothing is trained or encoded again
    monkeypatch.setattr(wiki, "_streams", {})
    monkeypatch.setattr(wiki, "train_tokenizer", lambda *a: pytest.fail("the tokenizer was trained again"))
    monkeypatch.setattr(wiki, "encode", lambda *a: pytest.fail("the text was encoded again"))
    again = wiki.token_streams(TINY_VOCAB)
    for split in wiki.SPLITS:
        np.testing.assert_array_equal(again[split], streams[split])
    splits = wiki.make_splits(16, TINY_VOCAB)
    assert splits.train_x.shape == splits.train_y.shape == (len(streams["train"]) // 17, 16)
    assert splits.validation_x.shape == (len(streams["validation"]) // 17, 16)
    np.testing.assert_array_equal(splits.train_x[:, 1:], splits.train_y[:, :-1])  # targets: inputs shifted by one


def test_wikitext_pieces_encode_as_the_whole_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [row or "\n" for row in wiki_rows(np.random.default_rng(1), 4)]
    tokenizer = wiki.train_tokenizer(rows, TINY_VOCAB)
    pieces = list(wiki.pieces(rows, chars=40))
    assert len(pieces) > 10 and "".join(pieces) == "".join(rows)
    whole = tokenizer.encode("".join(rows)).ids
    assert [i for piece in pieces for i in tokenizer.encode(piece).ids] == whole
    assert wiki.encode(tokenizer, rows).tolist() == whole  # one piece of PIECE_CHARS here
    monkeypatch.setattr(wiki, "PIECE_CHARS", 40)
    monkeypatch.setattr(wiki, "ENCODE_BATCH", 3)
    assert wiki.encode(tokenizer, rows).tolist() == whole  # many pieces, a few batches of them


@pytest.mark.parametrize("family", FAMILIES)
def test_a_missing_local_copy_says_how_to_get_the_data(family: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    module, _ = FAMILIES[family]
    load = wiki.read_rows if family == "wikitext" else module.load_raw
    with pytest.raises(DatasetMissingError, match=module.ENV_DIR) as offline:  # offline, nothing cached
        load()
    assert module.HUB_DATASET in str(offline.value)
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv(module.ENV_DIR, str(tmp_path / "empty"))
    with pytest.raises(DatasetMissingError, match="not a folder of parquet files"):
        load()


# --- workloads ----------------------------------------------------------------------------------------------------


def train_two_steps(workload, batch_size: int) -> tuple[torch.nn.Module, list[float]]:
    """Two AdamW updates through the workload's own model_fn, loss_fn and input_queue, as a submission makes them."""
    model, state = workload.init_model_fn(np.array([0, 1], dtype=np.uint32))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    queue = workload.input_queue(batch_size, seed=0)
    losses = []
    for _ in range(2):
        batch = next(queue)
        optimizer.zero_grad()
        logits, state = workload.model_fn(model, batch, state, ForwardPassMode.TRAIN, None, True)
        out = workload.loss_fn(batch["targets"], logits)
        loss = out["summed"] / out["n_valid_examples"]
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return model, losses


@pytest.fixture
def cifar_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_cifar(tmp_path / "cifar")
    monkeypatch.setenv(cifar.ENV_DIR, str(tmp_path / "cifar"))
    monkeypatch.setattr(cifar, "N_VALIDATION", 6)


@pytest.fixture
def nette_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_imagenette(tmp_path / "nette")
    monkeypatch.setenv(nette.ENV_DIR, str(tmp_path / "nette"))
    monkeypatch.setattr(nette, "N_VALIDATION", 4)


@pytest.mark.parametrize("name", ["cifar10_resnet18", *(v.name for v in variants_of("cifar10_resnet18"))])
def test_cifar10_resnet18_trains_and_evaluates(name: str, cifar_files: None) -> None:
    spec = get_spec(name)
    workload, evaluator = cifar_models.build(spec, "gpu-h100", torch.device("cpu"), **{**spec.builder_kwargs,
                                                                                       "width": 8})
    model, losses = train_two_steps(workload, batch_size=8)
    assert all(math.isfinite(v) for v in losses)
    assert workload.param_shapes["stem.0.weight"] == (8, 3, 3, 3) and workload.is_output_params("head.weight")
    assert workload.model_params_types["stem.0.weight"] == ParameterType.CONV_WEIGHT
    for split in ("validation", "test"):
        metrics = evaluator.evaluate(model.state_dict(), None, split)
        assert 0.0 <= metrics["accuracy"] <= 1.0 and math.isfinite(metrics["loss"])
        assert metrics[f"{split}/accuracy"] == metrics["accuracy"]
    assert workload.num_train_examples == 24 and workload.num_validation_examples == 6
    assert workload.num_test_examples == 10


def test_the_cifar10_base_has_batch_norm_and_the_variant_group_norm() -> None:
    assert isinstance(cifar_models.ResNet18(8).stem[1], torch.nn.BatchNorm2d)
    assert isinstance(cifar_models.ResNet18(8, "group").stem[1], torch.nn.GroupNorm)
    assert sum(p.numel() for p in cifar_models.ResNet18().parameters()) == 11_173_962


def test_image_batches_are_shifted_flipped_and_normalised(cifar_files: None) -> None:
    workload, evaluator = cifar_models.build(get_spec("cifar10_resnet18"), "gpu-h100", torch.device("cpu"), width=8)
    images = torch.randint(0, 256, (16, 8, 8, 3), dtype=torch.uint8)
    workload.pad = 2
    out = workload.augment(images, torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(images, (0, 0, 2, 2, 2, 2))
    kinds = set()
    for image, result in zip(padded, out):  # each: some 8x8 window of the zero-padded image, maybe mirrored
        found = [(dy, dx, flip) for dy in range(5) for dx in range(5) for flip in (False, True)
                 if torch.equal(result, (lambda w: w.flip(1) if flip else w)(image[dy:dy + 8, dx:dx + 8]))]
        assert found
        kinds.add(found[0][2])
    assert kinds == {False, True}
    batch = next(workload.input_queue(8, seed=0))
    assert batch["inputs"].shape == (8, 3, 32, 32) and batch["inputs"].dtype == torch.float32
    plain = workload.normalise(images)
    mean = torch.tensor(cifar.MEAN).view(1, 3, 1, 1)
    std = torch.tensor(cifar.STD).view(1, 3, 1, 1)
    torch.testing.assert_close(plain, (images.permute(0, 3, 1, 2) / 255.0 - mean) / std)
    assert isinstance(workload, ImageWorkload) and abs(workload.train_mean) < 1.0 and workload.train_stddev > 0.5


def test_the_image_evaluator_normalises_as_training_does(cifar_files: None) -> None:
    workload, evaluator = cifar_models.build(get_spec("cifar10_resnet18"), "gpu-h100", torch.device("cpu"), width=8)
    model, _ = workload.init_model_fn(np.array([5, 0], dtype=np.uint32))
    model.eval()
    splits = cifar.load_splits()
    x = workload.normalise(torch.from_numpy(splits.validation_x))
    with torch.no_grad():
        expected = torch.nn.functional.cross_entropy(model(x), torch.from_numpy(splits.validation_y))
    assert evaluator.evaluate(model, None, "validation")["loss"] == pytest.approx(float(expected), rel=1e-5)


def test_warm_preloads_the_splits_once(cifar_files: None, monkeypatch: pytest.MonkeyPatch) -> None:
    cifar_models.warm()
    monkeypatch.setattr(cifar, "load_raw", lambda: pytest.fail("loaded again"))
    workload, _ = cifar_models.build(get_spec("cifar10_resnet18"), "gpu-h100", torch.device("cpu"), width=8)
    assert workload.num_train_examples == 24


@pytest.mark.parametrize("name", ["imagenette_vit", *(v.name for v in variants_of("imagenette_vit"))])
def test_imagenette_vit_trains_and_evaluates(name: str, nette_files: None) -> None:
    spec = get_spec(name)
    workload, evaluator = nette_models.build(spec, "gpu-h100", torch.device("cpu"),
                                             **{**spec.builder_kwargs, "width": 32, "depth": 1, "heads": 2})
    model, losses = train_two_steps(workload, batch_size=4)
    assert all(math.isfinite(v) for v in losses) and abs(losses[0] - math.log(10)) < 0.5
    patch = spec.builder_kwargs.get("patch", 16)
    assert workload.param_shapes["net.vit.embeddings.position_embeddings"] == (1, (128 // patch) ** 2 + 1, 32)
    metrics = evaluator.evaluate(model.state_dict(), None, "validation")
    assert 0.0 <= metrics["accuracy"] <= 1.0 and math.isfinite(metrics["loss"])


def test_vit_parameter_types_and_dropout_sites(nette_files: None) -> None:
    workload, _ = nette_models.build(get_spec("imagenette_vit"), "gpu-h100", torch.device("cpu"), width=32, depth=1,
                                     heads=2)
    model, _ = workload.init_model_fn(np.array([0, 1], dtype=np.uint32), dropout_rate=0.1, aux_dropout_rate=0.2)
    types = {name.removeprefix("net.vit."): kind for name, kind in workload.model_params_types.items()}
    assert types["embeddings.cls_token"] == types["embeddings.position_embeddings"] == ParameterType.EMBEDDING
    assert types["embeddings.patch_embeddings.projection.weight"] == ParameterType.CONV_WEIGHT
    kinds = {kind for name, kind in types.items() if ".attention." in name}
    assert {ParameterType.ATTENTION_Q, ParameterType.ATTENTION_K, ParameterType.ATTENTION_V,
            ParameterType.ATTENTION_OUT, ParameterType.ATTENTION_BIAS} <= kinds
    assert workload.is_output_params("net.classifier.weight")
    assert not workload.is_output_params("net.vit.layernorm.bias")
    x = torch.zeros(2, 3, 128, 128)
    model.train()
    model(x)
    assert model.net.vit.embeddings.dropout.p == 0.2
    assert {m.p for m in model.net.modules() if isinstance(m, torch.nn.Dropout)} == {0.1, 0.2}
    model(x, dropout_rate=0.0)  # a call's own rate
    assert {m.p for m in model.net.modules() if isinstance(m, torch.nn.Dropout)} == {0.0, 0.2}


@pytest.fixture
def wiki_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_wikitext(tmp_path / "wikitext")
    monkeypatch.setenv(wiki.ENV_DIR, str(tmp_path / "wikitext"))


TINY_LM = {"context": 16, "width": 32, "depth": 2, "heads": 2, "vocab_size": TINY_VOCAB}


@pytest.mark.parametrize("name", ["wikitext103_gpt2", *(v.name for v in variants_of("wikitext103_gpt2"))])
def test_wikitext_gpt2_trains_and_evaluates_perplexity(name: str, wiki_files: None) -> None:
    spec = get_spec(name)
    assert spec.metric == "perplexity" and not spec.higher_is_better
    workload, evaluator = wiki_models.build(spec, "gpu-h100", torch.device("cpu"), **{**spec.builder_kwargs, **TINY_LM})
    batch = next(workload.input_queue(4, seed=0))
    assert batch["inputs"].shape == (4, 16) and batch["targets"].shape == (4 * 16,)
    model, losses = train_two_steps(workload, batch_size=4)
    assert abs(losses[0] - math.log(TINY_VOCAB)) < 0.1, losses  # loss at initialisation: near log(vocabulary)
    assert math.isfinite(losses[1])
    metrics = evaluator.evaluate(model.state_dict(), None, "validation")
    assert metrics["perplexity"] == pytest.approx(math.exp(metrics["loss"]))
    assert metrics["perplexity"] < TINY_VOCAB * 1.2


def test_gpt2_parameter_types_and_dropout_sites(wiki_files: None) -> None:
    workload, _ = wiki_models.build(get_spec("wikitext103_gpt2"), "gpu-h100", torch.device("cpu"), **TINY_LM)
    model, _ = workload.init_model_fn(np.array([0, 1], dtype=np.uint32), dropout_rate=0.1, aux_dropout_rate=0.2)
    types = {name.removeprefix("lm.transformer."): kind for name, kind in workload.model_params_types.items()}
    assert types["wte.weight"] == types["wpe.weight"] == ParameterType.EMBEDDING
    assert types["h.0.attn.c_attn.weight"] == ParameterType.ATTENTION_QKV
    assert types["h.0.attn.c_attn.bias"] == ParameterType.ATTENTION_BIAS
    assert types["h.0.attn.c_proj.weight"] == ParameterType.ATTENTION_OUT
    assert types["h.0.mlp.c_proj.weight"] == types["h.1.mlp.c_fc.weight"] == ParameterType.WEIGHT
    assert types["h.0.ln_1.weight"] == ParameterType.LAYER_NORM_SCALE
    assert "lm.lm_head.weight" not in types and workload.is_output_params("lm.transformer.wte.weight")  # tied
    model.train()
    model(torch.zeros(1, 16, dtype=torch.long))
    assert model.lm.transformer.drop.p == 0.2 and model.lm.transformer.h[0].attn.attn_dropout.p == 0.1
    with pytest.raises(ValueError, match="<= 16"):
        model(torch.zeros(1, 17, dtype=torch.long))


def test_the_gpt2_model_is_causal() -> None:
    torch.manual_seed(0)
    model = wiki_models.GPT2LM(TINY_VOCAB, 16, 32, 2, 2).eval()
    x = torch.randint(0, TINY_VOCAB, (1, 16))
    changed = x.clone()
    changed[0, 10] = (x[0, 10] + 1) % TINY_VOCAB
    a, b = model(x).view(16, -1), model(changed).view(16, -1)
    torch.testing.assert_close(a[:10], b[:10])
    assert not torch.allclose(a[10:], b[10:])


def test_specs_are_gpu_workloads_with_placeholder_budgets() -> None:
    for base, family in (("cifar10_resnet18", "cifar10"), ("wikitext103_gpt2", "wikitext"),
                         ("imagenette_vit", "imagenette")):
        specs = [get_spec(base), *variants_of(base)]
        assert len(specs) >= 2
        for spec in specs:
            assert spec.family == family and spec.track == "training" and set(spec.budget_s) == {"gpu-h100"}
            assert spec.step_hint > 0 and spec.eval_period_s > 0 and "gpu-h100" in spec.data_revision
            assert spec.name == base or (spec.name.startswith(base + "_") and spec.builder_kwargs)


# --- the full-size models on a GPU (pytest -m gpu) ----------------------------------------------------------------


@pytest.fixture
def cuda() -> torch.device:
    if not torch.cuda.is_available():
        pytest.fail("this test is marked gpu: it needs a CUDA device")
    return torch.device("cuda")


def full_size_on_gpu(workload, evaluator, batch_size: int, metric: str) -> None:
    """A few updates of the full-size model on the GPU, then one evaluation."""
    model, losses = train_two_steps(workload, batch_size)
    assert all(p.is_cuda for p in model.parameters())
    assert all(math.isfinite(v) for v in losses), losses
    metrics = evaluator.evaluate(model.state_dict(), None, "validation")
    assert math.isfinite(metrics["loss"]) and metric in metrics


@pytest.mark.gpu
def test_cifar10_resnet18_full_size_on_gpu(cifar_files: None, cuda: torch.device) -> None:
    spec = get_spec("cifar10_resnet18")
    workload, evaluator = cifar_models.build(spec, "gpu-h100", cuda, **spec.builder_kwargs)
    full_size_on_gpu(workload, evaluator, 8, "accuracy")


@pytest.mark.gpu
def test_imagenette_vit_full_size_on_gpu(nette_files: None, cuda: torch.device) -> None:
    spec = get_spec("imagenette_vit")
    workload, evaluator = nette_models.build(spec, "gpu-h100", cuda, **spec.builder_kwargs)
    full_size_on_gpu(workload, evaluator, 8, "accuracy")


@pytest.mark.gpu
def test_wikitext_gpt2_full_size_on_gpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cuda: torch.device) -> None:
    write_wikitext(tmp_path / "wikitext", train_articles=12, held_out_articles=4, words=40)
    monkeypatch.setenv(wiki.ENV_DIR, str(tmp_path / "wikitext"))
    spec = get_spec("wikitext103_gpt2")  # context 512, the 32,768-token vocabulary (the tokenizer learns fewer here)
    workload, evaluator = wiki_models.build(spec, "gpu-h100", cuda, **spec.builder_kwargs)
    assert workload.num_train_examples >= 2, "the tiny files hold too few tokens for two blocks of 513"
    full_size_on_gpu(workload, evaluator, 2, "perplexity")
