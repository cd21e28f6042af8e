"""Dataset loading: checksums are enforced, splits are deterministic, a missing dataset says how to get it."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from workloads.common.data import ChecksumMismatchError, DatasetMissingError, carve_validation, content_hash
from workloads.digits import data as digits
from workloads.fashion_mnist import data as fmnist


def test_digits_splits_are_deterministic_and_disjoint() -> None:
    a, b = digits.load_splits(), digits.load_splits()
    assert a.sizes() == {"train": 838, "validation": 600, "test": 359}
    np.testing.assert_array_equal(a.validation_x, b.validation_x)
    assert 0.0 <= a.train_x.min() and a.train_x.max() <= 1.0


def test_digits_checksum_mismatch_is_detected(tmp_path: Path) -> None:
    corrupted = tmp_path / "digits.csv.gz"
    raw = gzip.decompress(digits.digits_file().read_bytes()).replace(b"0.0,", b"1.0,", 1)
    corrupted.write_bytes(gzip.compress(raw))
    with pytest.raises(ChecksumMismatchError, match="checksum mismatch.*digits.csv.gz"):
        digits.load_splits(corrupted)


@pytest.fixture
def fmnist_copy(tmp_path: Path) -> Path:
    source = fmnist.local_dir()
    if source is None:
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    for name in fmnist.FILES:
        shutil.copy(source / name, tmp_path / name)
    return tmp_path


def test_fashion_mnist_loads_with_verified_content(monkeypatch: pytest.MonkeyPatch, fmnist_copy: Path) -> None:
    monkeypatch.setenv("PODIUM_FASHION_MNIST_DIR", str(fmnist_copy))
    arrays = fmnist.load_raw()
    assert [a.shape for a in arrays] == [(60000, 28, 28), (60000,), (10000, 28, 28), (10000,)]
    assert content_hash(*arrays) == fmnist.CONTENT_SHA256
    splits = fmnist.to_splits(*arrays)
    assert splits.sizes() == {"train": 55000, "validation": 5000, "test": 10000}


def test_fashion_mnist_checksum_mismatch_is_detected(monkeypatch: pytest.MonkeyPatch, fmnist_copy: Path) -> None:
    labels = fmnist_copy / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(gzip.decompress(labels.read_bytes()))
    data[100] = (data[100] + 1) % 10  # one flipped label
    labels.write_bytes(gzip.compress(bytes(data)))
    monkeypatch.setenv("PODIUM_FASHION_MNIST_DIR", str(fmnist_copy))
    with pytest.raises(ChecksumMismatchError, match="t10k-labels-idx1-ubyte.gz"):
        fmnist.load_raw()


def test_decoded_content_is_checked_whatever_the_source(monkeypatch: pytest.MonkeyPatch) -> None:
    """A source that passes file checks but decodes to different pixels (e.g. a bad hub mirror) is refused."""
    fake = (np.zeros((2, 28, 28), np.uint8), np.zeros(2, np.uint8), np.zeros((1, 28, 28), np.uint8), np.zeros(1, np.uint8))
    monkeypatch.setattr(fmnist, "local_dir", lambda: None)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(fmnist, "load_raw_hub", lambda source=fmnist.HUB_DATASET: fake)
    with pytest.raises(ChecksumMismatchError, match="decoded Fashion-MNIST"):
        fmnist.load_raw()


def test_missing_dataset_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PODIUM_FASHION_MNIST_DIR", str(tmp_path))
    with pytest.raises(DatasetMissingError) as info:
        fmnist.load_raw()
    message = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in message and "PODIUM_FASHION_MNIST_DIR" in message


def test_offline_without_local_files_gives_the_same_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fmnist, "local_dir", lambda: None)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DatasetMissingError, match="Fashion-MNIST was not found"):
        fmnist.load_raw()


def test_carve_validation_is_a_partition() -> None:
    x, y = np.arange(100).reshape(50, 2), np.arange(50)
    tx, ty, vx, vy = carve_validation(x, y, 10, seed=3)
    assert sorted(np.concatenate([ty, vy]).tolist()) == list(range(50))
    assert len(vy) == 10


def test_hub_loader_reads_a_local_copy_through_datasets(tmp_path: Path) -> None:
    """The hub path (``datasets.load_dataset``) exercised on small local parquet files with the hub's schema."""
    datasets = pytest.importorskip("datasets")
    pil = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    expected = {}
    for split, n in (("train", 6), ("test", 3)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n)
        expected[split] = (images, labels)
        table = datasets.Dataset.from_dict(
            {"image": [pil.fromarray(img) for img in images], "label": labels.tolist()},
            features=datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(num_classes=10)}))
        (tmp_path / "data").mkdir(exist_ok=True)
        table.to_parquet(str(tmp_path / "data" / f"{split}-00000-of-00001.parquet"))
    train_x, train_y, test_x, test_y = fmnist.load_raw_hub(str(tmp_path))
    np.testing.assert_array_equal(train_x, expected["train"][0])
    np.testing.assert_array_equal(test_y, expected["test"][1].astype(np.uint8))
    assert train_x.dtype == np.uint8 and train_x.shape == (6, 28, 28)
