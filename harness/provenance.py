"""Where a number came from: package versions, commit, machine, and content hashes of submissions."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import harness

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("torch", "numpy", "scikit-learn", "pydantic", "podium")


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@functools.cache
def git_commit(root: Path = REPO_ROOT) -> str:
    """The harness checkout's commit, with ``-dirty`` when it has uncommitted changes; ``unknown`` outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@functools.cache
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_capability() -> str:
    """The CPU kernels torch dispatches to here (``AVX512``, ``AVX2``, ``DEFAULT``...): machines with the same CPU
    model name can differ in it, and torch's CPU kernels round differently on each, so a made model's bytes and a
    compressed model's ratios can move between them."""
    import torch

    return torch.backends.cpu.get_cpu_capability()


def environment(threads: int | None = None) -> dict[str, Any]:
    """Machine and software facts stored with every trial."""
    import torch

    return {
        "harness_version": harness.__version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "packages": package_versions(),
        "cpu_model": cpu_model(),
        "cpu_capability": cpu_capability(),
        "cpu_count": os.cpu_count(),
        "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "threads": threads if threads is not None else torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "platform": platform.platform(),
    }


def hash_tree(folder: Path) -> str:
    """blake2b over the relative paths and bytes of every file in ``folder`` (caches and hidden files skipped).

    Results are keyed by this hash, so a result computed from an older version of a submission is recognisable.
    """
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder)
        if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            continue
        digest.update(str(rel).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()
