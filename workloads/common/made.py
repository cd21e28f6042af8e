"""Models Podium makes itself (the transfer family's pretrained CNNs, the compression track's dense models): their
deterministic recipe, and the on-disk cache of their weights, trusted by one recorded sha256 each.

* :func:`deterministic_cpu`: one thread, deterministic algorithms, the global RNG left as it was; every setting
  restored afterwards. A recipe run inside it reproduces bit for bit with the same torch build on the same kind of CPU.
* :func:`verified_weights`: the weights file under ``$PODIUM_CACHE_DIR/pretrained/`` when its sha256 is the recorded
  one; otherwise made again by the recipe (a :class:`MadeCacheWarning` says a cached file was rejected), and a
  rebuild whose hash is not the recorded one raises :class:`MadeMismatchError` and leaves no file. Writes are atomic
  (a temporary file in the same folder, then ``os.replace``), and an exclusive ``fcntl`` lock per file makes
  concurrent trials wait for one build instead of running several. A JSON sidecar beside the weights records the
  recipe, the hash and the build's report.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workloads.common.data import cache_root


class MadeMismatchError(RuntimeError):
    """A recipe did not reproduce its recorded weights bit for bit."""


class MadeCacheWarning(UserWarning):
    """A cached weights file was rejected (its hash is not the recorded one) and is being made again."""


def cache_dir() -> Path:
    """``$PODIUM_CACHE_DIR/pretrained`` (default ``~/.cache/podium/pretrained``), absolute."""
    return cache_root() / "pretrained"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextlib.contextmanager
def deterministic_cpu() -> Iterator[None]:
    """One thread, deterministic algorithms, the global RNG untouched; every setting restored afterwards."""
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        with torch.random.fork_rng(devices=[]):
            yield
    finally:
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        torch.set_num_threads(threads)


def atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o644)  # mkstemp's 0600 would hide a shared cache from other users
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def read_file(path: Path) -> tuple[bytes | None, str | None]:
    """A file's bytes and sha256; ``(None, None)`` when it does not exist."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, None
    return data, sha256_bytes(data)


def arrays(data: bytes) -> dict[str, np.ndarray]:
    """A safetensors file's tensors as writable numpy arrays."""
    from safetensors.numpy import load

    return {k: np.array(v) for k, v in load(data).items()}


#: one recorded hash, or the hashes a recipe is recorded to produce on each CPU kernel family it was made on (torch's
#: CPU kernels round differently with AVX-512 than with AVX2, and MKL by vendor; each machine still reproduces its own
#: bit for bit)
Hashes = str | tuple[str, ...]


def _accepted(expected: Hashes) -> tuple[str, ...]:
    return (expected,) if isinstance(expected, str) else tuple(expected)


def cached(path: Path, expected_sha256: Hashes) -> dict[str, np.ndarray] | None:
    """The weights at ``path`` when the file has an expected hash, else None. Builds nothing, warns of nothing."""
    data, actual = read_file(path)
    return arrays(data) if actual in _accepted(expected_sha256) else None


def verified_weights(path: Path, expected_sha256: Hashes, make: Callable[[], tuple[bytes, dict[str, Any]]],
                     sidecar: dict[str, Any], what: str, mismatch: type[Exception] = MadeMismatchError,
                     warning: type[Warning] = MadeCacheWarning) -> dict[str, np.ndarray]:
    """The weights at ``path``, verified against ``expected_sha256``; made by ``make()`` (the safetensors bytes and a
    report for the sidecar) and cached first when the cache lacks them or holds a file with another hash.

    Raises:
        ``mismatch``: the rebuild did not reproduce the expected hash (no file is left behind).
    """
    accepted = _accepted(expected_sha256)
    recorded = " or ".join(accepted)
    data, actual = read_file(path)
    if actual in accepted:
        return arrays(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    with locked(path.with_suffix(".lock")):
        data, actual = read_file(path)  # another process may have built it while we waited
        if actual in accepted:
            return arrays(data)
        if data is not None:
            warnings.warn(f"rejected the cached {what} {path}: sha256 {actual} is not the recorded "
                          f"{recorded} (corrupted or stale); making it again", warning, stacklevel=3)
        data, report = make()
        actual = sha256_bytes(data)
        if actual not in accepted:
            raise mismatch(
                f"making {path.stem} produced weights with sha256 {actual}, not the recorded {recorded}. The "
                f"recipe does not reproduce bit for bit on this machine (torch {torch.__version__}, "
                f"{platform.machine()} {platform.processor() or ''}; the hash was recorded with torch 2.13 CPU on "
                f"x86-64): a different torch, BLAS or CPU instruction set rounds differently. Copy {path.name} from a "
                f"machine where it reproduces into {path.parent}, or, if the recipe or torch changed on purpose, "
                "record the new hash beside the recipe.")
        atomic_write(path, data)
        record = dict(**sidecar, weights_file=path.name, weights_sha256=actual, **report,
                      torch=torch.__version__, machine=platform.machine(), python=platform.python_version(),
                      created=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        atomic_write(path.with_suffix(".json"), (json.dumps(record, indent=2) + "\n").encode())
    return arrays(data)


def made_in_child(find: Callable[[], dict[str, np.ndarray] | None], module: str, args: tuple[str, ...], what: str,
                  timeout_s: float) -> dict[str, np.ndarray]:
    """``find()``'s verified weights; when the cache lacks them, made first by ``python -m module *args`` in a child
    process (so that the held-out splits a recipe's report reads stay out of the calling process, and no torch
    operation runs in a fork server), then found again.

    Raises:
        MadeMismatchError: the child left no verified weights (the error names its exit code and last lines).
    """
    import subprocess
    import sys

    weights = find()
    if weights is not None:
        return weights
    command = [sys.executable, "-m", module, *args]
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout_s,
                              check=False)
        outcome = f"exit {done.returncode}: " + " / ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
    except subprocess.TimeoutExpired:
        outcome = f"stopped after {timeout_s:.0f} s"
    weights = find()
    if weights is None:
        writable = os.access(cache_dir(), os.W_OK) if cache_dir().is_dir() else os.access(cache_root(), os.W_OK)
        hint = "" if writable else (f"; {cache_dir()} is not writable here (a sealed container mounts it read-only: "
                                    f"make the model on the host first with `python -m {' '.join([module, *args])}`)")
        raise MadeMismatchError(f"making the {what} left no verified weights in {cache_dir()} ({outcome}){hint}")
    return weights
