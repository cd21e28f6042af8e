"""Reading release bundles (the layout :mod:`harness.publish` writes). No Streamlit here.

A :class:`BundleRef` names one bundle on disk by its folder, release and the sha256 of its ``manifest.json``. The
manifest holds the sha256 of every table, so its own hash changes whenever any table changes: it is the cache key of
everything the leaderboard computes from the bundle.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: ``podium board`` passes the bundles after ``--``; tests and other callers may set this instead (os.pathsep list).
BUNDLES_ENV = "PODIUM_BOARD_BUNDLES"
#: Tables every bundle has (``harness.publish.TABLES``; repeated so the app does not import the harness).
TABLES = ("submissions", "runs", "trials", "evals", "workload_times", "scores", "profiles")


class BundleNotFoundError(FileNotFoundError):
    """A folder given as a bundle is missing or is not a release bundle."""


@dataclass(frozen=True)
class BundleRef:
    """One bundle: where it is, which release it holds, and the hash that keys every cache."""

    path: str
    release: str
    manifest_hash: str

    def manifest(self) -> dict[str, Any]:
        return json.loads((Path(self.path) / "manifest.json").read_text())


def open_bundle(folder: Path) -> BundleRef:
    """Check that ``folder`` is a bundle and name it.

    Raises:
        BundleNotFoundError: no folder, or no ``manifest.json`` in it (with what to run to make one).
    """
    manifest = Path(folder) / "manifest.json"
    if not manifest.is_file():
        raise BundleNotFoundError(f"{folder}: not a release bundle (no manifest.json); write one with "
                                  f"`podium publish` or pass --bundle DIR")
    raw = manifest.read_bytes()
    return BundleRef(path=str(Path(folder).resolve()), release=json.loads(raw)["release"],
                     manifest_hash=hashlib.sha256(raw).hexdigest())


def read_table(ref: BundleRef, name: str, columns: list[str] | None = None):
    """One table as a DataFrame (only ``columns``, those of them it has, when given: Parquet reads just those). An
    empty table (written as a single ``empty`` column) reads as no columns."""
    import pandas as pd
    import pyarrow.parquet as pq

    path = Path(ref.path) / ref.manifest()["tables"][name]["file"]
    if columns is not None:
        present = set(pq.read_schema(path).names)
        columns = [c for c in columns if c in present]
        if not columns:
            return pd.DataFrame()
    frame = pd.read_parquet(path, columns=columns)
    return pd.DataFrame() if list(frame.columns) == ["empty"] else frame


def default_bundle_dir(root: Path = Path("podium-results/bundles")) -> Path:
    """``podium-results/bundles/<current release>``: where ``podium publish`` writes by default."""
    from harness.runner.run import BENCHMARK_RELEASE

    return root / BENCHMARK_RELEASE


def bundle_args(argv: Sequence[str]) -> tuple[list[Path], str | None]:
    """Bundle folders and the served URL from the script's arguments, else ``$PODIUM_BOARD_BUNDLES``, else the
    default bundle of the current release."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--bundle", action="append", type=Path, default=[])
    parser.add_argument("--url", default=None)
    args, _ = parser.parse_known_args(list(argv))
    folders = args.bundle or [Path(p) for p in os.environ.get(BUNDLES_ENV, "").split(os.pathsep) if p]
    return folders or [default_bundle_dir()], args.url


def release_labels(refs: list[BundleRef]) -> dict[str, BundleRef]:
    """Selector label -> bundle. Two bundles of one release are told apart by their manifest's hash, not their
    folder: the label goes into permalinks, which must not carry a path of the serving machine.

    >>> refs = [BundleRef("/a/r1", "r1", "5e1f0a9c77"), BundleRef("/b/r1", "r1", "0b2c4d6e88"),
    ...         BundleRef("/c/r2", "r2", "z")]
    >>> list(release_labels(refs))
    ['r1 (manifest 5e1f0a9c)', 'r1 (manifest 0b2c4d6e)', 'r2']
    """
    counts: dict[str, int] = {}
    for ref in refs:
        counts[ref.release] = counts.get(ref.release, 0) + 1
    return {(ref.release if counts[ref.release] == 1 else f"{ref.release} (manifest {ref.manifest_hash[:8]})"): ref
            for ref in refs}


def bundle_zip(folder: Path | str) -> bytes:
    """Every file of the bundle (Parquet tables and ``manifest.json``), byte for byte, in one zip."""
    import io
    import zipfile

    folder = Path(folder)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for path in sorted(folder.iterdir()):
            if path.is_file():
                archive.write(path, arcname=f"{folder.name}/{path.name}")
    return buffer.getvalue()
