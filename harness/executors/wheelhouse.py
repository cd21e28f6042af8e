"""The wheelhouse: every package a scoring image installs, prepared on the host with the host's pip configuration.

An image build never reaches an index: it installs with ``pip install --no-index --find-links`` from this folder.
Layout, under ``build/wheelhouse`` (``build/wheelhouse-cuda`` for the CUDA variant)::

    deps/          the resolved dependencies as wheels, and requirements.lock (``name==version``, one per package)
    podium/        Podium's own wheel, built from a clean copy of the source
    submissions/   one folder per submission's requirements.txt (see :mod:`harness.executors.images`)

Resolution is ``pip install --dry-run --ignore-installed --report`` of Podium's wheel, constrained to the versions of
the environment running it (``pip freeze``), so the image holds the versions this checkout runs with. On the CPU
variant torch must come from the local CPU wheel (the pip configuration's find-links): a resolution that pulls
CUDA packages is refused.

Caching: the lock is reused while pyproject.toml, the constraints, the Python version and the variant are unchanged;
a wheel already in ``deps/`` is never fetched again; Podium's wheel is rebuilt only when its source changes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.executors import ExecutorError
from harness.provenance import REPO_ROOT, hash_tree

BUILD_DIR = REPO_ROOT / "build"
PACKAGES = ("harness", "workloads", "leaderboard")  # what the podium wheel holds (pyproject's packages.find)
PROJECT_FILES = ("pyproject.toml", "README.md")
LOCK = "requirements.lock"
CUDA_PACKAGES = re.compile(r"^(nvidia-|triton$|jax-cuda)")
#: what a variant installs beyond Podium's dependencies. The CUDA image's JAX: jaxlib is the same CPU-only wheel as
#: everywhere; ``jax[cuda12]`` adds the CUDA plugin (jax-cuda12-plugin, jax-cuda12-pjrt) at the version of the pinned
#: jax, with the nvidia-* wheels it needs ("with-cuda"), so no system CUDA is required (JAX's documented pip install).
VARIANT_EXTRAS = {"cuda": ("jax[cuda12]",)}

Say = Callable[[str], None]


@dataclass(frozen=True)
class Wheelhouse:
    root: Path
    variant: str
    deps: Path  # wheels + requirements.lock
    podium: Path  # the project's wheel
    lock: tuple[str, ...]  # name==version, sorted

    def inputs(self) -> str:
        """A hash of what an image's packages come from: the lock, the dependencies' wheel names and sizes, and
        Podium's wheel byte for byte (an image reused for the same inputs records the same ``pip freeze``)."""
        digest = hashlib.blake2b(digest_size=16)
        for path in sorted(self.deps.glob("*.whl")):
            digest.update(f"{path.name}\0{path.stat().st_size}\0".encode())
        digest.update(self.podium.name.encode() + b"\0" + hashlib.sha256(self.podium.read_bytes()).digest())
        digest.update("\n".join(self.lock).encode() + source_hash().encode())
        return digest.hexdigest()


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_key(filename: str) -> tuple[str, str]:
    """``(canonical name, version)`` of a wheel file name (``name-version(-build)?-py-abi-platform.whl``)."""
    name, version = filename.split("-")[:2]
    return canonical(name), version


def pip(args: list[str], say: Say, what: str, env: dict[str, str] | None = None) -> str:
    """Run this interpreter's pip (so the host's pip configuration applies); one clear error with pip's last lines."""
    say(f"  pip {what}")
    done = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True,
                          env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", **(env or {})})
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-12:])
        raise ExecutorError(f"pip failed to {what}:\n{tail}")
    return done.stdout


def source_hash() -> str:
    digest = hashlib.blake2b(digest_size=16)
    for name in PACKAGES:
        if (REPO_ROOT / name).is_dir():
            digest.update(f"{name}\0{hash_tree(REPO_ROOT / name)}\0".encode())
    for name in PROJECT_FILES:
        digest.update((REPO_ROOT / name).read_bytes())
    return digest.hexdigest()


#: the timestamp of every file in Podium's wheel (1980-01-01, the earliest a zip entry holds): the same source makes
#: the same wheel bytes, so two images built from it record the same ``pip freeze`` (its ``#sha256=`` of the wheel).
WHEEL_EPOCH = "315532800"


def build_podium_wheel(folder: Path, say: Say) -> Path:
    """Podium's wheel, from a clean copy of the source (an in-tree build would reuse stale files in build/lib):
    byte for byte the same wheel from the same source (:data:`WHEEL_EPOCH`)."""
    stamp, key = folder / "source.hash", source_hash()
    wheels = sorted(folder.glob("podium-*.whl"))
    if stamp.exists() and stamp.read_text() == key and len(wheels) == 1:
        say(f"  Podium wheel up to date ({wheels[0].name})")
        return wheels[0]
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="podium-src-") as tmp:
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
        for name in PACKAGES:
            if (REPO_ROOT / name).is_dir():
                shutil.copytree(REPO_ROOT / name, Path(tmp) / name, ignore=ignore)
        for name in PROJECT_FILES:
            shutil.copy2(REPO_ROOT / name, Path(tmp) / name)
        isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
        pip(["wheel", "--no-deps", *isolation, "--wheel-dir", str(folder), tmp], say, "build Podium's wheel",
            {"SOURCE_DATE_EPOCH": WHEEL_EPOCH})
    stamp.write_text(key)
    return next(folder.glob("podium-*.whl"))


def constraints(variant: str) -> str:
    """``pip freeze`` of this environment (Podium itself left out): the versions the image must match."""
    frozen = subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"], capture_output=True,
                            text=True, check=True).stdout.splitlines()
    lines = [line for line in frozen if "==" in line and canonical(line.split("==")[0]) != "podium"]
    if variant == "cuda":  # the CUDA build of the same torch version, from the index (not the local CPU wheel)
        lines = [re.sub(r"^(torch==[^+]+)\+cpu$", r"\1", line) for line in lines]
    return "\n".join(sorted(lines)) + "\n"


def resolve(podium_wheel: Path, work: Path, variant: str, frozen: str, say: Say) -> tuple[str, ...]:
    """Every package Podium needs, pinned, within ``frozen`` (the constraints): a dry-run install's report."""
    (work / "constraints.txt").write_text(frozen)
    env = {"PIP_FIND_LINKS": ""} if variant == "cuda" else None
    pip(["install", "--dry-run", "--ignore-installed", "--quiet", "--report", str(work / "resolve.json"),
         "-c", str(work / "constraints.txt"), str(podium_wheel), *VARIANT_EXTRAS.get(variant, ())], say,
        "resolve Podium's dependencies (host pip configuration; needs the package index once)", env)
    report = json.loads((work / "resolve.json").read_text())
    pins = {canonical(item["metadata"]["name"]): item["metadata"]["version"] for item in report["install"]}
    pins.pop("podium", None)
    if variant == "cpu":
        cuda = sorted(n for n in pins if CUDA_PACKAGES.match(n))
        if cuda or "+cpu" not in pins.get("torch", "+cpu"):
            found = ", ".join([f"torch {pins.get('torch')}", *cuda[:4]])
            raise ExecutorError(
                f"the resolution pulled CUDA packages ({found}). The CPU image installs torch only from the local "
                "CPU wheel: put torch-2.13.0+cpu-*.whl in a folder named by pip's find-links (`pip config list`) "
                "and install the same torch here")
    return tuple(f"{name}=={version}" for name, version in sorted(pins.items()))


def fetch(deps: Path, lock: tuple[str, ...], variant: str, say: Say) -> None:
    """Put a wheel for every pin in ``deps`` (fetching only the missing ones) and drop wheels the lock no longer has."""
    wanted = {canonical(pin.split("==")[0]): pin.split("==")[1] for pin in lock}
    present = {wheel_key(p.name): p for p in deps.glob("*.whl")}
    for key, path in present.items():
        if wanted.get(key[0]) != key[1]:
            path.unlink()
    missing = [f"{name}=={version}" for name, version in wanted.items() if (name, version) not in present]
    if missing:
        (deps / "missing.txt").write_text("\n".join(missing) + "\n")
        env = {"PIP_FIND_LINKS": ""} if variant == "cuda" else None
        pip(["wheel", "--no-deps", "--wheel-dir", str(deps), "-r", str(deps / "missing.txt")], say,
            f"fetch {len(missing)} wheel(s) into {deps.relative_to(REPO_ROOT)}", env)
        (deps / "missing.txt").unlink()
    still = [f"{n}=={v}" for n, v in wanted.items() if (n, v) not in {wheel_key(p.name) for p in deps.glob("*.whl")}]
    if still:
        raise ExecutorError(f"no wheel in {deps} for {', '.join(still[:5])} after fetching")


def prepare(variant: str = "cpu", say: Say = print) -> Wheelhouse:
    """The wheelhouse for one image variant (``cpu`` or ``cuda``), reusing whatever is still valid."""
    if sys.version_info[:2] != (3, 11):
        raise ExecutorError(f"the wheelhouse is made with this interpreter's pip for the image's Python 3.11; this is "
                            f"Python {sys.version_info[0]}.{sys.version_info[1]}: run podium from a 3.11 environment")
    if not (REPO_ROOT / "pyproject.toml").exists():
        raise ExecutorError(f"podium docker build needs Podium's source checkout (no pyproject.toml in {REPO_ROOT})")
    root = BUILD_DIR / ("wheelhouse" if variant == "cpu" else f"wheelhouse-{variant}")
    deps = root / "deps"
    deps.mkdir(parents=True, exist_ok=True)
    podium_wheel = build_podium_wheel(root / "podium", say)
    pins = constraints(variant)
    key = hashlib.blake2b((REPO_ROOT / "pyproject.toml").read_bytes() + pins.encode()
                          + f"{sys.version_info[:2]}{sys.platform}{variant}".encode(), digest_size=16).hexdigest()
    stamp = deps / "inputs.hash"
    if stamp.exists() and stamp.read_text() == key and (deps / LOCK).exists():
        lock = tuple((deps / LOCK).read_text().split())
        say(f"  dependency lock up to date ({len(lock)} packages)")
    else:
        lock = resolve(podium_wheel, root, variant, pins, say)
        (deps / LOCK).write_text("\n".join(lock) + "\n")
        stamp.write_text(key)
    fetch(deps, lock, variant, say)
    return Wheelhouse(root, variant, deps, podium_wheel, lock)
