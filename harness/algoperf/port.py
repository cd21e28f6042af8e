"""Port an AlgoPerf submission (PyTorch or JAX), file or folder, to a Podium submission folder
(``podium port-algoperf``). A ported JAX submission trains the workloads' Flax twins (``podium workloads`` lists
the frameworks each workload offers).

What is brought along:

* the submission file, as ``submission.py``, with its imports rewritten (:mod:`harness.algoperf.imports`) and a
  ``get_batch_size`` wrapper appended for Podium's workload names;
* every Python module and package of its folder that it imports, directly or through other modules (helper
  modules, packages such as Distributed Shampoo's ``optimizers/``), imports rewritten the same way;
* when the submission is a folder (or a ``submission.py``, AlgoPerf's name for a folder's entry point), every other
  file of the folder: data files, the original README (as ``README.algoperf.md``), ``requirements*.txt``...;
  Python files that nothing imports (tests, examples) are listed in the README, not copied;
* ``tuning_search_space.json``, from the folder or, in AlgoPerf's ``<method>/pytorch/submission.py`` layout, from
  ``<method>/``, as ``search_space.json``. An AlgoPerf method folder holds ``pytorch/`` and ``jax/``: the
  ``framework`` argument picks one (PyTorch when not given, as before JAX was offered).

Anything that cannot be ported mechanically is one :class:`PortError` listing every ``file:line`` and why; then
nothing is written.
"""

from __future__ import annotations

import ast
import hashlib
import json
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.algoperf.imports import Folder, PortedFile, PortError, Problem, port_algoperf_source, port_file

__all__ = ["DEFAULT_BATCH_SIZES", "PortError", "batch_size_table", "port_algoperf", "port_algoperf_source"]

#: Batch sizes for Podium workloads, by family (every workload of the family, variants included) or by name.
DEFAULT_BATCH_SIZES: dict[str, int] = {"digits": 64, "fashion_mnist": 128, "tiny_lm": 32, "rotten_tomatoes": 32,
                                       "cifar10": 256, "wikitext": 64, "imagenette": 256}

SUBMISSION_FILE = "submission.py"
SEARCH_SPACE_SOURCE = "tuning_search_space.json"
#: Top-level names a ported module must not take: the trial process imports Podium's own packages under them.
PODIUM_NAMES = frozenset({"harness", "workloads", "submissions", "leaderboard", "podium_submission"})
_SKIPPED_DIRS = frozenset({"__pycache__", ".git", ".ipynb_checkpoints"})


@dataclass(frozen=True)
class Source:
    """What is being ported: the entry file, the folder its imports resolve in, and whether the folder is the
    submission (so its data files come along) or only holds it beside other things."""

    entry: Path
    folder: Path
    whole_folder: bool


FRAMEWORK_FOLDERS = ("pytorch", "jax")


def locate_source(src: Path, framework: str | None = None) -> Source:
    """The entry file of a submission given as a file, a folder with ``submission.py``, or an AlgoPerf method
    folder with ``pytorch/submission.py`` and ``jax/submission.py`` (``framework`` picks; PyTorch by default)."""
    src = Path(src)
    if framework is not None and framework not in FRAMEWORK_FOLDERS:
        raise PortError(f"unknown framework {framework!r}: use one of {', '.join(FRAMEWORK_FOLDERS)}")
    if src.is_file():
        return Source(src, src.parent, src.name == SUBMISSION_FILE)
    for entry in (src / SUBMISSION_FILE, src / (framework or "pytorch") / SUBMISSION_FILE):
        if entry.is_file():
            return Source(entry, entry.parent, True)
    others = [f for f in FRAMEWORK_FOLDERS if (src / f / SUBMISSION_FILE).is_file()]
    hint = f"; it has {', '.join(f'{f}/{SUBMISSION_FILE}' for f in others)} (pass --framework)" if others else ""
    raise PortError(f"{src}: no such file, and no {SUBMISSION_FILE} or {framework or 'pytorch'}/{SUBMISSION_FILE} "
                    f"in it{hint}")


def port_algoperf(src: Path, dest: Path, workload_batch_sizes: Mapping[str, int] | None = None,
                  framework: str | None = None) -> Path:
    """Write a Podium submission folder from an AlgoPerf PyTorch submission (see the module docstring).

    Args:
        src: the AlgoPerf submission: its ``submission.py`` (or other entry file), or its folder.
        dest: the submission folder to write (created if needed; files already there are overwritten).
        workload_batch_sizes: batch sizes by Podium family or workload name; :data:`DEFAULT_BATCH_SIZES` if None.
        framework: of an AlgoPerf method folder (``pytorch/``, ``jax/``), the one to port; PyTorch if None.

    Returns:
        ``dest``; run ``podium check`` on it next.

    Raises:
        PortError: every import that cannot be ported (with its file and line), a helper whose name would
            shadow a standard or Podium module, or an entry file without a top-level ``get_batch_size``.
    """
    source = locate_source(src, framework)
    ported = _port_closure(source)
    problems = [problem for file in ported.values() for problem in file.problems] + _shadowing(ported)
    if not problems and not _defines_get_batch_size(ported[SUBMISSION_FILE].text):
        problems.append(Problem(SUBMISSION_FILE, "", "defines no top-level get_batch_size to extend"))
    if problems:
        raise PortError(f"{source.entry} cannot be ported mechanically:\n" + "\n".join(f"  {p}" for p in problems))
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    table = batch_size_table(workload_batch_sizes)
    for rel, file in ported.items():
        text = file.text
        if rel == SUBMISSION_FILE:
            text = text.rstrip("\n") + "\n" + _BATCH_SIZE_WRAPPER.format(table=json.dumps(table, indent=4))
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text(text, encoding="utf-8")
    data, left_out = _other_files(source, set(ported))
    for rel, path in data.items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest / rel)
    _declare_framework(dest, source, framework)
    search_space = _find_search_space(source.entry)
    if search_space is not None:
        shutil.copyfile(search_space, dest / "search_space.json")
    readme = _readme(source, ported, sorted(data), left_out, search_space, table)
    (dest / "README.md").write_text(readme, encoding="utf-8")
    return dest


def _declare_framework(dest: Path, source: Source, framework: str | None) -> None:
    """A ported folder that imports both PyTorch and JAX libraries (AlgoPerf's PyTorch ``momentum`` takes its
    schedule from optax) gets ``FRAMEWORK = ...`` appended to its ``submission.py``, so that Podium can tell its
    framework: the one asked for, else the one its AlgoPerf folder is named after, else PyTorch (AlgoPerf's JAX
    submissions do not import torch)."""
    from harness.tracks.training import FrameworkError, framework_of

    try:
        framework_of(dest)
    except FrameworkError:
        chosen = framework or (source.entry.parent.name if source.entry.parent.name in FRAMEWORK_FOLDERS
                               else "pytorch")
        with (dest / SUBMISSION_FILE).open("a", encoding="utf-8") as f:
            f.write(f"\n\n# podium port-algoperf: this submission imports both PyTorch and JAX libraries; it runs in "
                    f"{chosen}.\nFRAMEWORK = \"{chosen}\"\n")


def _defines_get_batch_size(text: str) -> bool:
    return any(isinstance(node, ast.FunctionDef) and node.name == "get_batch_size" for node in ast.parse(text).body)


def _port_closure(source: Source) -> dict[str, PortedFile]:
    """Port the entry file and every module of the folder it imports, transitively; keyed by destination path."""
    folder = Folder(source.folder)
    entry_rel = source.entry.relative_to(source.folder).as_posix()
    ported: dict[str, PortedFile] = {}
    queue, seen = [entry_rel], {entry_rel}
    while queue:
        rel = queue.pop(0)
        path = source.folder / rel
        package = tuple(Path(rel).parent.parts)
        file = port_file(path.read_text(encoding="utf-8"), rel, folder, package)
        ported[SUBMISSION_FILE if rel == entry_rel else rel] = file
        for module in file.local_imports:
            for needed in _files_of(folder, module):
                needed_rel = needed.relative_to(source.folder).as_posix()
                if needed_rel not in seen:
                    seen.add(needed_rel)
                    queue.append(needed_rel)
    return ported


def _files_of(folder: Folder, module: tuple[str, ...]) -> list[Path]:
    """The files that ``import a.b.c`` runs: each package's ``__init__.py`` on the way, and the module itself."""
    files = [folder.module(module[:i]) for i in range(1, len(module) + 1)]
    return [path for path in files if path is not None and path.is_file()]


def _shadowing(ported: Mapping[str, PortedFile]) -> list[Problem]:
    """A module at the root of the ported folder named like a standard or Podium module would replace it."""
    tops = {Path(rel).parts[0].removesuffix(".py") for rel in ported if rel != SUBMISSION_FILE}
    clashes = sorted(top for top in tops if top in sys.stdlib_module_names or top in PODIUM_NAMES)
    return [Problem(top, "", "its name is also a standard-library or Podium module, which it would "
                    "shadow in the trial process; rename it") for top in clashes]


def _other_files(source: Source, ported: set[str]) -> tuple[dict[str, Path], list[str]]:
    """Files to copy as they are (destination -> source), and the Python files left out (nothing imports them)."""
    if not source.whole_folder:
        return {}, []
    entry_rel = source.entry.relative_to(source.folder).as_posix()
    data: dict[str, Path] = {}
    left_out = []
    for path in sorted(source.folder.rglob("*")):
        rel_parts = path.relative_to(source.folder).parts
        if not path.is_file() or any(part in _SKIPPED_DIRS for part in rel_parts) or path.suffix == ".pyc":
            continue
        rel = "/".join(rel_parts)
        if rel == entry_rel or rel in ported or rel == SEARCH_SPACE_SOURCE:
            continue
        if path.suffix == ".py":
            left_out.append(rel)
        else:
            data["README.algoperf.md" if rel == "README.md" else rel] = path
    return data, left_out


def _find_search_space(entry: Path) -> Path | None:
    folders = [entry.parent]
    if entry.parent.name in FRAMEWORK_FOLDERS:  # AlgoPerf's layout: <method>/tuning_search_space.json, <method>/jax/
        folders.append(entry.parent.parent)
    return next((f / SEARCH_SPACE_SOURCE for f in folders if (f / SEARCH_SPACE_SOURCE).is_file()), None)


def batch_size_table(sizes: Mapping[str, int] | None = None) -> dict[str, int]:
    """Batch size per Podium workload name, from sizes given by family or by workload name.

    Every registered workload whose name or family is a key gets a size (a name beats its family); a key that is
    neither is kept as a workload name, so a workload registered later can still be listed.

    Args:
        sizes: family or workload name -> batch size; :data:`DEFAULT_BATCH_SIZES` when None.
    """
    from workloads import WORKLOADS  # here, not at the top: reading the port table needs no workload

    sizes = dict(DEFAULT_BATCH_SIZES if sizes is None else sizes)
    specs = {name: WORKLOADS.get(name) for name in WORKLOADS.names()}
    families = {spec.family for spec in specs.values()}
    table = {name: sizes.get(name, sizes.get(spec.family)) for name, spec in specs.items()}
    table = {name: size for name, size in table.items() if size is not None}
    table.update({key: size for key, size in sizes.items() if key not in families})
    return dict(sorted(table.items()))


_BATCH_SIZE_WRAPPER = '''

# --- Appended by Podium's port_algoperf (harness/algoperf/port.py). ------------------------------------------------
# AlgoPerf's get_batch_size above knows only AlgoPerf's workload names: it is asked first, and when it raises
# ValueError (or KeyError, from a lookup table) the batch size comes from this table of Podium workload names.
_PODIUM_BATCH_SIZES = {table}
_algoperf_get_batch_size = get_batch_size


def get_batch_size(workload_name):
    try:
        return _algoperf_get_batch_size(workload_name)
    except (ValueError, KeyError):
        if workload_name in _PODIUM_BATCH_SIZES:
            return _PODIUM_BATCH_SIZES[workload_name]
        raise
'''


def _readme(source: Source, ported: Mapping[str, PortedFile], data: list[str], left_out: list[str],
            search_space: Path | None, table: dict[str, int]) -> str:
    """The README stub: provenance, what was copied and rewritten, and what the author still has to write."""
    entry = source.entry
    # AlgoPerf's layout is <method>/pytorch/submission.py: the method's name is the folder above ``pytorch``.
    name = entry.parent.parent.name if entry.parent.name == "pytorch" else entry.parent.name
    digest = hashlib.sha256(entry.read_bytes()).hexdigest()
    rewrites = []
    for rel, file in ported.items():
        for rewrite in file.rewrites:
            new = rewrite.new.replace("\n", "\n     ")
            rewrites.append(f"{rel}:{rewrite.line}: {rewrite.old}\n  -> {new}")
    helpers = sorted(rel for rel in ported if rel != SUBMISSION_FILE)
    copied = (f"`search_space.json` is a copy of `{search_space}`." if search_space else
              "No `tuning_search_space.json` was found: write `search_space.json` for the external-tuning ruleset.")
    sizes = ", ".join(f"{workload}: {size}" for workload, size in table.items())
    listed = lambda items: "\n".join(f"- `{item}`" for item in items) or "(none)"  # noqa: E731
    return (f"# {name} (ported from AlgoPerf)\n\n"
            f"Ported mechanically by `podium port-algoperf` from `{entry}` (sha256 `{digest}`) into "
            "`submission.py`.\n\n"
            f"Modules of its folder that it imports, brought along:\n\n{listed(helpers)}\n\n"
            f"Other files of the folder, copied as they are:\n\n{listed(data)}\n\n"
            f"Python files of the folder that nothing imports, not copied:\n\n{listed(left_out)}\n\n"
            f"Only these imports were rewritten:\n\n```\n{chr(10).join(rewrites) or '(none)'}\n```\n\n"
            f"A wrapper appended to `submission.py` extends `get_batch_size` to Podium's workloads ({sizes}).\n"
            f"{copied}\n\n"
            "TODO for the author: describe the method, its hyperparameters and references, and the original "
            "code's licence.\n")
