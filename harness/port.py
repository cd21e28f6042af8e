"""Port an AlgoPerf PyTorch submission to Podium by rewriting its imports: mechanical, and nothing more.

Podium's training contract keeps AlgoPerf's names (see :mod:`harness.tracks.training`), so a PyTorch submission
written for AlgoPerf needs only these rewrites:

==========================================================  ======================================================
AlgoPerf                                                    Podium
==========================================================  ======================================================
``from algoperf import spec``                               ``from harness.algoperf import spec``
``from algoperf.pytorch_utils import pytorch_setup``        ``from harness.algoperf.pytorch_utils import pytorch_setup``
``from absl import logging``                                ``import logging`` (same ``logging.info(fmt, *args)``)
==========================================================  ======================================================

``algorithmic_efficiency`` (AlgoPerf's earlier package name) is treated like ``algoperf``. Any other import from
either package (``random_utils``, a workload module...) is something Podium does not offer: :class:`PortError` names
the line, rather than producing a submission that fails later. Everything else in the file is left byte for byte
(a comment after a rewritten import stays on its line).

AlgoPerf's ``get_batch_size`` knows only AlgoPerf's workload names, so :func:`port_algoperf` appends a wrapper that
asks the original first and, when it raises ``ValueError``, answers from a table of Podium workload names.
"""

from __future__ import annotations

import ast
import hashlib
import json
import shutil
from collections.abc import Mapping
from pathlib import Path

ALGOPERF_PACKAGES = ("algoperf", "algorithmic_efficiency")

#: ``(module, name)`` imported from an AlgoPerf package (module relative to it) -> the Podium module offering it.
SUPPORTED_IMPORTS: dict[tuple[str, str], str] = {
    ("", "spec"): "harness.algoperf",
    ("pytorch_utils", "pytorch_setup"): "harness.algoperf.pytorch_utils",
}

#: Batch sizes for Podium workloads, by family (every workload of the family, variants included) or by name.
DEFAULT_BATCH_SIZES: dict[str, int] = {"digits": 64, "fashion_mnist": 128}

SEARCH_SPACE_SOURCE = "tuning_search_space.json"


class PortError(ValueError):
    """The source cannot be ported mechanically; the message names the line and says why."""


def port_algoperf_source(text: str) -> str:
    """Rewrite an AlgoPerf PyTorch submission's imports to Podium's (the table in the module docstring).

    Args:
        text: the source of an AlgoPerf ``submission.py``.

    Returns:
        The same source with only the import statements that needed it rewritten.

    Raises:
        PortError: the source does not parse, or imports something from AlgoPerf that Podium does not offer.

    Example:
        >>> print(port_algoperf_source("from algoperf import spec\\nfrom absl import logging\\n"), end="")
        from harness.algoperf import spec
        import logging
    """
    return _port(text)[0]


def _port(text: str) -> tuple[str, list[tuple[str, str]]]:
    """The ported source, and each rewrite as ``(old statement, new statements)`` in source order."""
    try:
        tree = ast.parse(text)
    except SyntaxError as error:
        raise PortError(f"line {error.lineno}: cannot parse the source: {error.msg}") from None
    lines = text.splitlines(keepends=True)
    edits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            replacement = _rewrite_import(node, lines[node.lineno - 1])
            if replacement is not None:
                _check_alone_on_its_lines(node, lines)
                edits.append((node, replacement))
    edits.sort(key=lambda edit: edit[0].lineno)
    rewrites = [(ast.get_source_segment(text, node) or "", "\n".join(new)) for node, new in edits]
    # Bottom-up, so that earlier line numbers stay valid while later lines change.
    for node, replacement in reversed(edits):
        indent = lines[node.lineno - 1][: node.col_offset]
        tail = lines[node.end_lineno - 1][node.end_col_offset :]  # a trailing comment, and the line ending
        new = "\n".join(f"{indent}{statement}" for statement in replacement) + tail
        lines[node.lineno - 1 : node.end_lineno] = [new]
    return "".join(lines), rewrites


def _rewrite_import(node: ast.Import | ast.ImportFrom, line: str) -> list[str] | None:
    """The statements that replace ``node``, or None when it imports nothing from AlgoPerf or absl.logging."""
    where = f"line {node.lineno}: {line.strip()}"
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.split(".")[0] in ALGOPERF_PACKAGES:
                raise PortError(f"{where}: Podium offers AlgoPerf names only through 'from algoperf import spec' "
                                f"and 'from algoperf.pytorch_utils import pytorch_setup'")
        return None
    module = node.module or ""
    package, _, submodule = module.partition(".")
    if node.level == 0 and package in ALGOPERF_PACKAGES:
        return [_podium_import(submodule, alias, where) for alias in node.names]
    if node.level == 0 and module == "absl" and any(alias.name == "logging" for alias in node.names):
        # absl's logging.info(fmt, *args) has the standard library's signature; Podium does not need absl.
        others = [_alias_text(a) for a in node.names if a.name != "logging"]
        logging = next(a for a in node.names if a.name == "logging")
        return [f"import {_alias_text(logging)}"] + ([f"from absl import {', '.join(others)}"] if others else [])
    return None


def _podium_import(submodule: str, alias: ast.alias, where: str) -> str:
    podium_module = SUPPORTED_IMPORTS.get((submodule, alias.name))
    if podium_module is None:
        offered = ", ".join(f"{m or 'the package'}.{n}" for m, n in SUPPORTED_IMPORTS)
        raise PortError(f"{where}: Podium does not offer {alias.name!r} from AlgoPerf (it offers: {offered})")
    return f"from {podium_module} import {_alias_text(alias)}"


def _alias_text(alias: ast.alias) -> str:
    return f"{alias.name} as {alias.asname}" if alias.asname else alias.name


def _check_alone_on_its_lines(node: ast.stmt, lines: list[str]) -> None:
    """Refuse ``x = 1; from algoperf import spec``: rewriting whole lines would lose the other statement."""
    first, last = lines[node.lineno - 1], lines[node.end_lineno - 1]
    before, after = first[: node.col_offset], last[node.end_col_offset :]
    if before.strip() or (after.strip() and not after.strip().startswith("#")):
        raise PortError(f"line {node.lineno}: the import shares its line with other code; put it on its own line")


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

# --- Appended by Podium's port_algoperf (harness/port.py). ---------------------------------------------------------
# AlgoPerf's get_batch_size above knows only AlgoPerf's workload names: it is asked first, and when it raises
# ValueError the batch size comes from this table of Podium workload names.
_PODIUM_BATCH_SIZES = {table}
_algoperf_get_batch_size = get_batch_size


def get_batch_size(workload_name):
    try:
        return _algoperf_get_batch_size(workload_name)
    except ValueError:
        if workload_name in _PODIUM_BATCH_SIZES:
            return _PODIUM_BATCH_SIZES[workload_name]
        raise
'''


def port_algoperf(src_file: Path, dest_dir: Path, workload_batch_sizes: Mapping[str, int] | None = None) -> Path:
    """Write a Podium submission folder from an AlgoPerf PyTorch ``submission.py``.

    ``dest_dir`` gets ``submission.py`` (imports rewritten by :func:`port_algoperf_source`, plus a
    ``get_batch_size`` wrapper for Podium's workload names), a ``README.md`` stub saying where it came from, and
    ``search_space.json`` copied from the source's ``tuning_search_space.json`` when there is one. AlgoPerf keeps
    that file beside the framework folders (``adamw/tuning_search_space.json`` for ``adamw/pytorch/submission.py``),
    so the source's folder is searched first, then, when it is named ``pytorch``, its parent. Files already in
    ``dest_dir`` are overwritten.

    Args:
        src_file: the AlgoPerf ``submission.py``.
        dest_dir: the submission folder to write (created if needed).
        workload_batch_sizes: batch sizes by Podium family or workload name; :data:`DEFAULT_BATCH_SIZES` if None.

    Returns:
        ``dest_dir``; run ``podium check`` on it next.

    Raises:
        PortError: as :func:`port_algoperf_source`, or the source defines no top-level ``get_batch_size``.
    """
    src_file, dest_dir = Path(src_file), Path(dest_dir)
    source = src_file.read_text(encoding="utf-8")
    ported, rewrites = _port(source)
    if not any(isinstance(n, ast.FunctionDef) and n.name == "get_batch_size" for n in ast.parse(source).body):
        raise PortError(f"{src_file}: defines no top-level get_batch_size to extend")
    table = batch_size_table(workload_batch_sizes)
    dest_dir.mkdir(parents=True, exist_ok=True)
    wrapper = _BATCH_SIZE_WRAPPER.format(table=json.dumps(table, indent=4))
    (dest_dir / "submission.py").write_text(ported.rstrip("\n") + "\n" + wrapper, encoding="utf-8")
    search_space = _find_search_space(src_file)
    if search_space is not None:
        shutil.copyfile(search_space, dest_dir / "search_space.json")
    (dest_dir / "README.md").write_text(_readme(src_file, source, rewrites, search_space, table), encoding="utf-8")
    return dest_dir


def _find_search_space(src_file: Path) -> Path | None:
    folders = [src_file.parent]
    if src_file.parent.name == "pytorch":  # AlgoPerf's layout: <method>/tuning_search_space.json, <method>/pytorch/
        folders.append(src_file.parent.parent)
    for folder in folders:
        if (folder / SEARCH_SPACE_SOURCE).is_file():
            return folder / SEARCH_SPACE_SOURCE
    return None


def _readme(src_file: Path, source: str, rewrites: list[tuple[str, str]], search_space: Path | None,
            table: dict[str, int]) -> str:
    """The README stub: provenance, the exact rewrites, and what the author still has to write."""
    # AlgoPerf's layout is <method>/pytorch/submission.py: the method's name is the folder above ``pytorch``.
    name = src_file.parent.parent.name if src_file.parent.name == "pytorch" else src_file.parent.name
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()
    shown = "\n".join(f"{old}\n  -> {new.replace(chr(10), chr(10) + '     ')}" for old, new in rewrites)
    copied = (f"`search_space.json` is a copy of `{search_space}`." if search_space else
              "No `tuning_search_space.json` was found: write `search_space.json` for the external-tuning ruleset.")
    sizes = ", ".join(f"{workload}: {size}" for workload, size in table.items())
    return (f"# {name} (ported from AlgoPerf)\n\n"
            f"Ported mechanically by `harness.port.port_algoperf` from `{src_file}` (sha256 `{digest}`).\n"
            f"Only these imports were rewritten:\n\n```\n{shown or '(none)'}\n```\n\n"
            f"A wrapper appended to `submission.py` extends `get_batch_size` to Podium's workloads ({sizes}).\n"
            f"{copied}\n\n"
            "TODO for the author: describe the method, its hyperparameters and references, and the original "
            "code's licence.\n")
