"""WikiText-103 as token blocks for a GPT-2-sized language model, through Hugging Face ``datasets``.

**The data.** The hub dataset ``Salesforce/wikitext``, config ``wikitext-103-raw-v1`` (raw: the words as written, no
``<unk>``): one string column ``text``, one row a line of the original files, and three splits, train (103 M words
of Wikipedia articles), validation and test (about 217 k and 245 k words, whole articles none of which is in train).
A non-empty row is a paragraph or a heading (`` = = Gameplay = = ``) and ends with its newline; an empty row stands
for a blank line of the original files (the line between paragraphs). Where the data is looked for
(:func:`workloads.common.hub.load_hub`): ``$PODIUM_WIKITEXT_DIR``, a folder of the hub dataset's parquet files
(``wikitext-103-raw-v1/train-0000*-of-00002.parquet``, ``validation-...``, ``test-...``, as ``hf download`` writes
them); else the hub, or with ``HF_HUB_OFFLINE=1`` the ``datasets`` cache.

**A split's text** is its rows in order, an empty row counting as ``"\\n"`` (so paragraphs stay separated by a blank
line, as in the original files). :data:`TEXT_SHA256`, once recorded, checks the three texts (:func:`text_hash`).

**Tokenizer.** GPT-2's own byte-level BPE (50,257 tokens) is not available offline: no installed package ships its
merges. So the workload trains its own: byte-level BPE (Hugging Face ``tokenizers``; GPT-2's pre-tokenization, no
special tokens) with :data:`VOCAB_SIZE` = 32,768 tokens, on the training split alone, the first time the data is
loaded on a machine (:func:`train_tokenizer`); it is kept in Podium's cache
(:func:`workloads.common.data.cache_root`, ``wikitext/bpe32768-<hash of the training text>.json``) and reused.
Byte-level, so every text round-trips exactly. A test builds it with a vocabulary of a few hundred on a few lines.

**Token streams.** Each split's text encoded as one stream of token ids (uint16), cached beside the tokenizer (keyed
by the texts and the tokenizer), so only a machine's first load tokenizes. Encoding is parallel over pieces of the
text cut before rows that begin with a space and a non-space character (every paragraph and heading row): the
pre-tokenizer's patterns cannot match across such a cut (the space starts the next word; the whitespace before it
ends at the newline), so the pieces' ids, concatenated, are the ids of the whole text (a test checks it).
:data:`TOKENS_SHA256`, once recorded, checks the three streams at :data:`VOCAB_SIZE`.

**Blocks**: each stream cut into consecutive, non-overlapping blocks of ``context + 1`` tokens (as
:func:`workloads.tiny_lm.data.blocks`; the inputs are a block's first ``context`` tokens, the targets its last
``context``). Every block of every split is kept: validation and test are whole splits, evaluated in full.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from workloads.common.data import (
    ChecksumMismatchError, DatasetMissingError, Splits, cache_root, content_hash, on_withhold, sha256_file,
    verify_content,
)
from workloads.common.hub import check_features, load_hub, require_splits, values
from workloads.tiny_lm.data import blocks

HUB_DATASET, HUB_CONFIG = "Salesforce/wikitext", "wikitext-103-raw-v1"
ENV_DIR = "PODIUM_WIKITEXT_DIR"
SPLITS = ("train", "validation", "test")
VOCAB_SIZE = 32_768
#: :func:`text_hash` of the three splits' texts; None until recorded with the gpu-h100 targets
TEXT_SHA256: str | None = None
#: :func:`workloads.common.data.content_hash` of the train, validation and test token streams at VOCAB_SIZE; None
#: until recorded with the gpu-h100 targets
TOKENS_SHA256: str | None = None
#: characters a piece of text holds at least when encoding in parallel (the last piece may hold fewer)
PIECE_CHARS = 1 << 16
#: pieces encoded at a time (:func:`encode`): an encoding keeps each token's string and offsets besides its id, so
#: encoding the half-gigabyte training text at once would hold all of them together
ENCODE_BATCH = 128
#: where a piece may start: a row that begins with a space and a non-space character
_CUT = re.compile(r" \S")

MISSING_MESSAGE = (
    f"WikiText-103 (hub dataset {HUB_DATASET}, config {HUB_CONFIG}) was not found. Get it one of these ways:\n"
    "  * online: unset HF_HUB_OFFLINE and run `python -m workloads.wikitext.data`: it loads the dataset through\n"
    "    `datasets` (whose cache later runs read, offline too), trains the tokenizer and tokenizes the splits\n"
    f"  * any machine: hf download {HUB_DATASET} --repo-type dataset --include '{HUB_CONFIG}/*' --local-dir DIR\n"
    f"    (wherever the hub is reachable; then copy DIR here) and set {ENV_DIR}=DIR"
)


def cache_dir() -> Path:
    return cache_root() / "wikitext"


def read_rows() -> dict[str, list[str]]:
    """Each split's rows, an empty row as ``"\\n"`` (see the module docstring), checked against
    :data:`TEXT_SHA256` when it is recorded."""
    import datasets

    loaded = load_hub(HUB_DATASET, HUB_CONFIG, ENV_DIR, MISSING_MESSAGE)
    require_splits(loaded, SPLITS, "WikiText-103")
    check_features({s: loaded[s] for s in SPLITS}, {"text": datasets.Value("string")}, "WikiText-103")
    rows = {split: [row or "\n" for row in values(loaded[split], "text")] for split in SPLITS}
    if TEXT_SHA256 is not None and text_hash(rows) != TEXT_SHA256:
        raise ChecksumMismatchError(f"checksum mismatch for the WikiText-103 texts: expected {TEXT_SHA256}, got "
                                    f"{text_hash(rows)}")
    return rows


def text_hash(rows: dict[str, Sequence[str]], splits: Sequence[str] = SPLITS) -> str:
    """sha256 of each split's text (UTF-8) followed by a NUL byte, in ``splits`` order."""
    digest = hashlib.sha256()
    for split in splits:
        for row in rows[split]:
            digest.update(row.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def pieces(rows: Sequence[str], chars: int = PIECE_CHARS) -> Iterator[str]:
    """The text of ``rows`` in pieces of at least ``chars`` characters, each cut before a row that starts with a
    space and a non-space character, after a row that ends with a newline (where encoding the pieces one by one
    gives the ids of the whole text: the module docstring says why).

    >>> list(pieces([" = A = \\n", "\\n", " b c\\n", " d\\n"], chars=4))
    [' = A = \\n\\n', ' b c\\n', ' d\\n']
    """
    piece: list[str] = []
    size = 0
    for row in rows:
        if size >= chars and piece[-1].endswith("\n") and _CUT.match(row):
            yield "".join(piece)
            piece, size = [], 0
        piece.append(row)
        size += len(row)
    if piece:
        yield "".join(piece)


def train_tokenizer(rows: Sequence[str], vocab_size: int):  # -> tokenizers.Tokenizer
    """Byte-level BPE with ``vocab_size`` tokens (the 256 bytes and the merges), trained on ``rows``
    (deterministic)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(pieces(rows), trainer)
    return tokenizer


def _write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    write(part)
    os.replace(part, path)


def _savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as fh:  # a file object: np.savez would add ".npz" to a path's name
        np.savez(fh, **arrays)


def tokenizer_file(rows: dict[str, Sequence[str]], vocab_size: int) -> Path:
    """The cached tokenizer for the training rows and ``vocab_size``, trained now when the cache lacks it."""
    path = cache_dir() / f"bpe{vocab_size}-{text_hash(rows, ('train',))[:16]}.json"
    if not path.is_file():
        tokenizer = train_tokenizer(rows["train"], vocab_size)
        _write_atomically(path, lambda part: tokenizer.save(str(part)))
    return path


def load_tokenizer(path: Path):  # -> tokenizers.Tokenizer
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(path))


def encode(tokenizer, rows: Sequence[str]) -> np.ndarray:  # tokenizer: tokenizers.Tokenizer
    """The ids of the text of ``rows``, encoded piece by piece in parallel (:func:`pieces`), :data:`ENCODE_BATCH`
    pieces at a time, as uint16 (uint32 for a vocabulary over 65,536)."""
    dtype = np.uint16 if tokenizer.get_vocab_size() <= 1 << 16 else np.uint32
    encode_batch = getattr(tokenizer, "encode_batch_fast", tokenizer.encode_batch)  # no offsets (newer tokenizers)
    ids: list[np.ndarray] = []
    batch: list[str] = []
    for piece in [*pieces(rows), None]:
        if piece is not None:
            batch.append(piece)
        if batch and (piece is None or len(batch) == ENCODE_BATCH):
            ids += [np.asarray(e.ids, dtype=dtype) for e in encode_batch(batch, add_special_tokens=False)]
            batch = []
    return np.concatenate(ids) if ids else np.zeros(0, dtype=dtype)


#: this process's token streams by (source, vocabulary size) (:func:`token_streams`); emptied when the process
#: withholds held-out data
_streams: dict[tuple[str, int], dict[str, np.ndarray]] = {}


@on_withhold
def _drop_streams() -> None:
    _streams.clear()


def token_streams(vocab_size: int = VOCAB_SIZE) -> dict[str, np.ndarray]:
    """``{split: ids}`` for the three splits: from the cache when this data and tokenizer were encoded before on this
    machine, else read, tokenized (training the tokenizer first if need be) and cached. Checked against
    :data:`TOKENS_SHA256` at :data:`VOCAB_SIZE` when it is recorded."""
    key = (os.environ.get(ENV_DIR) or HUB_DATASET, vocab_size)
    if key not in _streams:
        rows = read_rows()
        tokenizer_path = tokenizer_file(rows, vocab_size)
        path = cache_dir() / f"tokens-{text_hash(rows)[:16]}-{sha256_file(tokenizer_path)[:16]}.npz"
        if not path.is_file():
            tokenizer = load_tokenizer(tokenizer_path)
            encoded = {split: encode(tokenizer, rows[split]) for split in SPLITS}
            _write_atomically(path, lambda part: _savez(part, encoded))
        with np.load(path) as z:
            streams = {split: z[split] for split in SPLITS}
        if vocab_size == VOCAB_SIZE and TOKENS_SHA256 is not None:
            verify_content("WikiText-103 token", TOKENS_SHA256, *(streams[s] for s in SPLITS))
        _streams[key] = streams
    return dict(_streams[key])


def make_splits(context: int, vocab_size: int = VOCAB_SIZE) -> Splits:
    """Train / validation / test blocks: inputs ``(N, context)`` and targets ``(N, context)``, every block of each
    split."""
    streams = token_streams(vocab_size)
    parts = []
    for split in SPLITS:
        rows = blocks(streams[split], context)
        if not len(rows):
            raise ValueError(f"WikiText-103's {split} split has {len(streams[split])} tokens, fewer than one block "
                             f"of {context + 1}")
        parts += [rows[:, :-1].copy(), rows[:, 1:].copy()]
    return Splits(*parts)


@functools.cache
def loader(context: int, vocab_size: int = VOCAB_SIZE) -> Callable[[], Splits]:
    """The splits loader for a context length and vocabulary: one function each, named for them (a fork server
    preloads it, a container reads its exported training split by that name:
    :func:`workloads.common.data.loader_key`)."""

    def load() -> Splits:
        return make_splits(context, vocab_size)

    load.__qualname__ = load.__name__ = f"load_splits_context_{context}_vocab_{vocab_size}"
    return load


def _main() -> int:
    """``python -m workloads.wikitext.data``: load (and, online, fetch) WikiText-103, train the tokenizer and
    tokenize the splits if this machine has not yet; print the sizes and hashes to record."""
    try:
        rows = read_rows()
        streams = token_streams()
    except (DatasetMissingError, ChecksumMismatchError) as exc:
        print(exc, file=sys.stderr)
        return 1
    print(json.dumps({"dataset": f"{HUB_DATASET}/{HUB_CONFIG}", "text_sha256": text_hash(rows),
                      "tokenizer": str(tokenizer_file(rows, VOCAB_SIZE)),
                      "tokens": {s: len(v) for s, v in streams.items()},
                      "tokens_sha256": content_hash(*(streams[s] for s in SPLITS))}))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
