"""Jane Austen's six novels as token blocks for a small language model, from the Debian package
``r-cran-janeaustenr``.

**The corpus.** The R package janeaustenr (Julia Silge, MIT licence; the texts are Project Gutenberg's, public domain)
holds the six completed novels as character vectors of lines, in R's lazy-load database ``data/Rdata.rdb`` (indexed
by ``data/Rdata.rdx``). Debian ships it as ``r-cran-janeaustenr`` (1.0.0-1, 1.6 MB ``.deb``); Podium needs neither R
nor the package installed: ``make data`` (``python -m workloads.tiny_lm.data``) runs ``apt-get download
r-cran-janeaustenr`` (no root needed), unpacks it with ``dpkg-deb -x`` and keeps the two data files under
``$PODIUM_CACHE_DIR/corpora/janeaustenr/``. They are read with the ``rdata`` package (a reader of R's serialization
format, no R) and verified by their sha256 (:data:`RDB_SHA256`, :data:`RDX_SHA256`); the decoded texts by
:data:`TEXT_SHA256`. Where the files are looked for: ``$PODIUM_AUSTEN_DIR`` (a folder holding ``Rdata.rdb`` and
``Rdata.rdx``), the cache, then an installed package's ``/usr/lib/R/site-library/janeaustenr/data``.

**A novel's text** is its lines joined by newlines (4.03 M characters in all, from 433 k for *Northanger Abbey* to
883 k for *Mansfield Park*).

**Splits by whole novels**, so that no held-out passage shares a chapter, a scene or a character list's context with
training text: train = *Sense and Sensibility*, *Pride and Prejudice*, *Mansfield Park* and *Emma* (3.12 M
characters), validation = *Northanger Abbey*, test = *Persuasion*.

**Tokenizer**: byte-level BPE (Hugging Face ``tokenizers``), :data:`VOCAB_SIZE` tokens including the one special
token ``<|endoftext|>``, trained once on the four training novels (:func:`train_tokenizer`, deterministic) and
committed as ``tokenizer.json`` beside this file (:data:`TOKENIZER_SHA256`; a test retrains it and compares the
vocabulary and merges). Byte-level, so every text round-trips exactly; 3.3 characters a token on these novels.
The held-out novels never shaped it.

**Blocks**: each split's novels are encoded one by one and joined with ``<|endoftext|>`` into one token stream
(train: 940,729 tokens; validation 135,168; test 148,584), cut into consecutive, non-overlapping blocks of
``context + 1`` tokens (the inputs are a block's first ``context``, the targets its last ``context``). The
training split keeps every block. Validation and test keep :data:`EVAL_TOKENS` targets each: ``EVAL_TOKENS //
context`` blocks at evenly spaced positions through the novel (an evaluation of the whole novel costs ~2 s here, an
evaluation every few seconds would double a trial's wall time; 16,384 tokens cost ~0.3 s). The token streams are
verified against :data:`TOKENS_SHA256`.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from workloads.common.data import (
    ChecksumMismatchError, DatasetMissingError, Splits, cache_root, content_hash, on_withhold, verify_content,
    verify_file,
)

ENV_DIR = "PODIUM_AUSTEN_DIR"
PACKAGE = "r-cran-janeaustenr"
PACKAGE_DATA = Path("usr/lib/R/site-library/janeaustenr/data")
DEBIAN_DIR = Path("/") / PACKAGE_DATA
FILES = ("Rdata.rdb", "Rdata.rdx")
#: sha256 of janeaustenr 1.0.0's ``data/Rdata.rdb`` and ``data/Rdata.rdx`` (Debian r-cran-janeaustenr 1.0.0-1)
RDB_SHA256 = "8fb5198960d0da724b1562f96e4221e5c1b41ff455000280b02c55980c3d8f21"
RDX_SHA256 = "cab8cbe4ce965d3b42b35c03383bafccc0eb78151f70e4748ead45270470c22f"
#: sha256 of the six decoded texts (:data:`NOVELS` order), each UTF-8 encoded and followed by a NUL byte
TEXT_SHA256 = "b08c300317f8b189386b71d8bb795d6959caa1194ca9afed2de16d13e9ad2c0a"

#: the package's variable names, in publication order
NOVELS = ("sensesensibility", "prideprejudice", "mansfieldpark", "emma", "northangerabbey", "persuasion")
SPLIT_NOVELS = {"train": ("sensesensibility", "prideprejudice", "mansfieldpark", "emma"),
                "validation": ("northangerabbey",), "test": ("persuasion",)}

TOKENIZER_FILE = Path(__file__).with_name("tokenizer.json")
TOKENIZER_SHA256 = "ec086db9fe29a2dc074da42fd53343fbc979387f6a5016538e831b003040c566"
VOCAB_SIZE = 2048
END_OF_TEXT = "<|endoftext|>"
#: :func:`workloads.common.data.content_hash` of the train, validation and test token streams (uint16)
TOKENS_SHA256 = "bbf90f49d7f96045a2e4b6da2ca5fcd5eef5a74a6fb1e1cf4b276b9a061a1e14"
#: targets a held-out split keeps: ``EVAL_TOKENS // context`` evenly spaced blocks
EVAL_TOKENS = 16_384

MISSING_MESSAGE = (
    "The Jane Austen corpus (Debian package r-cran-janeaustenr's data files) was not found. Get it one of these ways:\n"
    "  * make data   (or: python -m workloads.tiny_lm.data): apt-get download r-cran-janeaustenr, unpacked into the\n"
    "    Podium cache; needs no root, only apt's package lists (run `apt-get update` as root once if it says the\n"
    "    package is unknown)\n"
    "  * apt-get install r-cran-janeaustenr   (pulls R; the files land in /usr/lib/R/site-library/janeaustenr/data)\n"
    f"  * any machine: put janeaustenr's data/Rdata.rdb and data/Rdata.rdx in a folder and set {ENV_DIR} to it"
)


def cache_dir() -> Path:
    return cache_root() / "corpora" / "janeaustenr"


def data_dir() -> Path:
    """The first folder holding both data files: ``$PODIUM_AUSTEN_DIR``, the cache, the installed package."""
    explicit = os.environ.get(ENV_DIR)
    if explicit:
        folder = Path(explicit).expanduser()
        if not all((folder / f).is_file() for f in FILES):
            raise DatasetMissingError(f"{ENV_DIR}={explicit} does not hold {' and '.join(FILES)}\n{MISSING_MESSAGE}")
        return folder
    for folder in (cache_dir(), DEBIAN_DIR):
        if all((folder / f).is_file() for f in FILES):
            return folder
    raise DatasetMissingError(MISSING_MESSAGE)


def fetch(dest: Path | None = None) -> Path:
    """Download Debian's ``r-cran-janeaustenr`` with ``apt-get download``, unpack it and keep its two data files in
    ``dest`` (default: the cache); verified before they are moved in. Returns ``dest``."""
    dest = dest or cache_dir()
    if all((dest / f).is_file() for f in FILES):
        verify_files(dest)
        return dest
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise DatasetMissingError(f"{tool} is not on this machine (not Debian?)\n{MISSING_MESSAGE}")
    with tempfile.TemporaryDirectory(prefix="podium-austen-") as tmp:
        work = Path(tmp)
        # apt warns when its _apt user cannot write the folder and downloads as the caller: harmless
        done = subprocess.run(["apt-get", "download", PACKAGE], cwd=work, capture_output=True, text=True)
        debs = sorted(work.glob(f"{PACKAGE}_*.deb"))
        if done.returncode != 0 or not debs:
            raise DatasetMissingError(f"`apt-get download {PACKAGE}` failed: {done.stderr.strip()}\n{MISSING_MESSAGE}")
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(work / "x")], check=True)
        verify_files(work / "x" / PACKAGE_DATA)
        dest.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            shutil.copyfile(work / "x" / PACKAGE_DATA / name, dest / f".{name}.part")
            os.replace(dest / f".{name}.part", dest / name)
    return dest


def verify_files(folder: Path) -> None:
    verify_file(folder / "Rdata.rdb", RDB_SHA256)
    verify_file(folder / "Rdata.rdx", RDX_SHA256)


def _unserialize(data: bytes) -> object:
    import rdata

    with warnings.catch_warnings():  # a lazy-load entry has no RDS header; rdata says so and reads it right
        warnings.simplefilter("ignore", UserWarning)
        return rdata.conversion.convert(rdata.parser.parse_data(data))


def read_novels(folder: Path | None = None) -> dict[str, str]:
    """The six novels' texts, by the package's variable names, verified (files and decoded texts).

    ``Rdata.rdx`` is a gzip-compressed serialized R list whose ``variables`` map each name to ``(offset, length)`` in
    ``Rdata.rdb``; each entry there is a 4-byte big-endian length and a zlib stream of the serialized object (a
    character vector of lines)."""
    folder = folder or data_dir()
    verify_files(folder)
    index = _unserialize(gzip.decompress((folder / "Rdata.rdx").read_bytes()))
    database = (folder / "Rdata.rdb").read_bytes()
    novels = {}
    for name in NOVELS:
        offset, length = (int(v) for v in index["variables"][name])
        lines = _unserialize(zlib.decompress(database[offset + 4:offset + length]))
        novels[name] = "\n".join(str(line) for line in lines)
    actual = text_hash(novels)
    if actual != TEXT_SHA256:
        raise ChecksumMismatchError(f"checksum mismatch for the decoded Austen texts in {folder}: expected "
                                    f"{TEXT_SHA256}, got {actual}")
    return novels


def text_hash(novels: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for name in NOVELS:
        digest.update(novels[name].encode("utf-8") + b"\0")
    return digest.hexdigest()


def train_tokenizer(novels: dict[str, str]):  # -> tokenizers.Tokenizer
    """Byte-level BPE with :data:`VOCAB_SIZE` tokens, trained on the training novels alone (deterministic)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=[END_OF_TEXT], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator([novels[name] for name in SPLIT_NOVELS["train"]], trainer)
    return tokenizer


def load_tokenizer():  # -> tokenizers.Tokenizer
    """The committed tokenizer, verified by its sha256."""
    from tokenizers import Tokenizer

    verify_file(TOKENIZER_FILE, TOKENIZER_SHA256)
    return Tokenizer.from_file(str(TOKENIZER_FILE))


#: the token streams of this process (:func:`token_streams`); emptied when the process withholds held-out data
_streams: dict[str, np.ndarray] = {}


@on_withhold
def _drop_streams() -> None:
    _streams.clear()


def token_streams() -> dict[str, np.ndarray]:
    """Each split's novels encoded and joined by ``<|endoftext|>``: ``{split: uint16 array}``, verified."""
    if not _streams:
        novels, tokenizer = read_novels(), load_tokenizer()
        eot = tokenizer.token_to_id(END_OF_TEXT)
        encoded = dict(zip(NOVELS, tokenizer.encode_batch([novels[n] for n in NOVELS])))
        streams = {split: np.array([i for k, name in enumerate(names) for i in ([eot] if k else []) + encoded[name].ids],
                                   dtype=np.uint16)
                   for split, names in SPLIT_NOVELS.items()}
        verify_content("Austen token", TOKENS_SHA256, *(streams[s] for s in ("train", "validation", "test")))
        _streams.update(streams)
    return dict(_streams)


def blocks(stream: np.ndarray, context: int) -> np.ndarray:
    """Consecutive, non-overlapping blocks of ``context + 1`` tokens, ``(N, context + 1)`` (the tail is dropped).

    >>> blocks(np.arange(10), 3).tolist()
    [[0, 1, 2, 3], [4, 5, 6, 7]]
    """
    n = len(stream) // (context + 1)
    return np.asarray(stream[:n * (context + 1)]).reshape(n, context + 1)


def evenly_spaced(rows: np.ndarray, count: int) -> np.ndarray:
    """``count`` rows of ``rows`` at evenly spaced positions (all of them when there are no more).

    >>> evenly_spaced(np.arange(10)[:, None], 4).ravel().tolist()
    [0, 3, 6, 9]
    """
    if count >= len(rows):
        return rows
    return rows[np.linspace(0, len(rows) - 1, count).round().astype(int)]


def make_splits(context: int) -> Splits:
    """Train / validation / test blocks for a context length: inputs ``(N, context)``, targets ``(N, context)``."""
    streams = token_streams()
    parts = []
    for split in ("train", "validation", "test"):
        rows = blocks(streams[split], context)
        if split != "train":
            rows = evenly_spaced(rows, EVAL_TOKENS // context)
        parts += [rows[:, :-1].copy(), rows[:, 1:].copy()]
    return Splits(*parts)


@functools.cache
def loader(context: int) -> Callable[[], Splits]:
    """The splits loader for a context length: one function per length, named for it (a fork server preloads it,
    a container reads its exported training split by that name: :func:`workloads.common.data.loader_key`)."""

    def load() -> Splits:
        return make_splits(context)

    load.__qualname__ = load.__name__ = f"load_splits_context_{context}"
    return load


def _main(argv: list[str]) -> int:
    """``python -m workloads.tiny_lm.data [--retrain-tokenizer]``: fetch and verify the corpus (what ``make data``
    runs); ``--retrain-tokenizer`` writes a freshly trained ``tokenizer.json`` (only when preparing a new release)."""
    try:
        folder = fetch()
        novels = read_novels(folder)
    except (DatasetMissingError, ChecksumMismatchError) as exc:
        print(exc, file=sys.stderr)
        return 1
    if "--retrain-tokenizer" in argv:
        train_tokenizer(novels).save(str(TOKENIZER_FILE))
        print(f"wrote {TOKENIZER_FILE}")
    print(json.dumps({"corpus": str(folder), "characters": {n: len(t) for n, t in novels.items()}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
