"""Rewriting the imports of one AlgoPerf source file for Podium: mechanical, and nothing more.

Every other byte of a file is left as it was (a comment after a rewritten import stays on its line). The rewrites:

==============================================================  ====================================================
AlgoPerf                                                        Podium
==============================================================  ====================================================
``from algoperf import spec`` (or ``pytorch_utils``,            ``from harness.algoperf import spec``
``param_utils``, ``jax_sharding_utils``)
``from algoperf.pytorch_utils import pytorch_setup`` (any       ``from harness.algoperf.pytorch_utils import
name :mod:`harness.algoperf` offers)                            pytorch_setup``
``import algoperf.spec as spec``                                ``import harness.algoperf.spec as spec``
``from absl import logging``                                    ``import logging`` (same ``logging.info(fmt, *args)``)
``from submissions.x.y.my_folder.helpers.muon import Muon``     ``from helpers.muon import Muon``: a path through the
(``algorithms.``, ``previous_leaderboards.``...)                AlgoPerf repositories, to the module in the folder
``from .muon import Muon`` in a module at the folder's root     ``from muon import Muon``
``from shampoo_types import X`` in ``optimizers/shampoo/a.py``  ``from optimizers.shampoo.shampoo_types import X``
(a sibling module reached through ``sys.path``)
==============================================================  ====================================================

The ported folder is put on ``sys.path`` by the trial worker, so its root is where every absolute import starts.
``algorithmic_efficiency`` (AlgoPerf's earlier package name) is treated like ``algoperf``. What cannot be rewritten
mechanically (an AlgoPerf module Podium does not offer, a repository path to a file outside the folder, ``import
a.b.c`` without ``as``, which binds ``a``) is a :class:`Problem` naming the file and line.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

ALGOPERF_PACKAGES = ("algoperf", "algorithmic_efficiency")
#: Top-level folders of the AlgoPerf repositories (algorithmic-efficiency and submissions_algorithms, past and
#: present layouts); an absolute import through one of them names a file by its place in a repository checkout.
REPOSITORY_ROOTS = ("submissions", "submissions_algorithms", "algorithms", "previous_leaderboards",
                    "reference_algorithms", "prize_qualification_baselines")
#: AlgoPerf modules that :mod:`harness.algoperf` offers under the same name.
OFFERED_MODULES = ("spec", "pytorch_utils", "param_utils", "jax_sharding_utils")
_PODIUM_PACKAGE = "harness.algoperf"


class PortError(ValueError):
    """The source cannot be ported mechanically; the message names each file and line, and says why."""


@dataclass(frozen=True)
class Problem:
    """One import that cannot be ported: where (``file:line``, or ``line N``), the statement, and why."""

    where: str
    statement: str
    why: str

    def __str__(self) -> str:
        return f"{self.where}: {self.statement}: {self.why}" if self.statement else f"{self.where}: {self.why}"


@dataclass(frozen=True)
class Rewrite:
    line: int
    old: str
    new: str


@dataclass
class PortedFile:
    """One file after porting.

    Attributes:
        text: the ported source.
        rewrites: each rewritten statement, in source order.
        local_imports: dotted names (as parts, from the folder's root) of modules in the folder this file imports,
            or may import (``from pkg import name`` lists ``pkg.name`` too): what the port must bring along.
        problems: imports that cannot be ported.
    """

    text: str
    rewrites: list[Rewrite] = field(default_factory=list)
    local_imports: list[tuple[str, ...]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


class Folder:
    """The submission's folder, seen as the root of an import path. ``None``: an empty folder (a lone source)."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def module(self, parts: tuple[str, ...]) -> Path | None:
        """The file (``a/b.py``, ``a/b/__init__.py``) or namespace folder that ``import a.b`` finds here."""
        if self.root is None or not parts:
            return None
        base = self.root.joinpath(*parts)
        for candidate in (base.with_name(base.name + ".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
        return base if base.is_dir() else None

    def locate(self, parts: tuple[str, ...]) -> tuple[str, ...] | None:
        """The dotted name, from this folder's root, of a module named by its path in an AlgoPerf repository.

        The path is cut after the last part that names this folder (``...external_tuning.shampoo_submission.
        optimizers.x`` -> ``optimizers.x``); failing that, the longest tail that is a module here wins. ``()``
        means the folder itself; None, nothing in the folder.
        """
        if self.root is None:
            return None
        if self.root.name in parts:
            cut = len(parts) - parts[::-1].index(self.root.name)
            if cut == len(parts) or self.module(parts[cut:]) is not None:
                return parts[cut:]
        return next((parts[i:] for i in range(1, len(parts)) if self.module(parts[i:]) is not None), None)


def port_algoperf_source(text: str) -> str:
    """Rewrite the AlgoPerf imports of a lone source (no folder around it; see :func:`port_file`).

    Raises:
        PortError: the source does not parse, or has an import that cannot be ported.

    Example:
        >>> print(port_algoperf_source("from algoperf import spec\\nfrom absl import logging\\n"), end="")
        from harness.algoperf import spec
        import logging
    """
    ported = port_file(text, "", Folder(None), ())
    if ported.problems:
        raise PortError("\n".join(str(problem) for problem in ported.problems))
    return ported.text


def port_file(text: str, name: str, folder: Folder, package: tuple[str, ...]) -> PortedFile:
    """Rewrite one file's imports (the table in the module docstring).

    Args:
        text: the file's source.
        name: the file's path relative to the folder, for messages ("" for a lone source: ``line N``).
        folder: the submission's folder.
        package: the file's package, from the folder's root (``()`` for a module at the root).
    """
    try:
        tree = ast.parse(text)
    except SyntaxError as error:
        return PortedFile(text, problems=[Problem(_where(name, error.lineno), "",
                                                  f"cannot parse the source: {error.msg}")])
    lines = text.splitlines(keepends=True)
    result = PortedFile(text)
    edits = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        context = _Statement(node, lines, name, folder, package, result)
        replacement = context.rewrite()
        if replacement is not None and context.alone_on_its_lines():
            edits.append((node, replacement))
    edits.sort(key=lambda edit: edit[0].lineno)
    result.rewrites = [Rewrite(node.lineno, ast.get_source_segment(text, node) or "", "\n".join(new))
                       for node, new in edits]
    for node, replacement in reversed(edits):  # bottom-up: earlier line numbers stay valid
        indent = lines[node.lineno - 1][: node.col_offset]
        tail = lines[node.end_lineno - 1][node.end_col_offset :]  # a trailing comment, and the line ending
        lines[node.lineno - 1 : node.end_lineno] = ["\n".join(f"{indent}{s}" for s in replacement) + tail]
    result.text = "".join(lines)
    return result


def _where(name: str, line: int | None) -> str:
    return f"{name}:{line}" if name else f"line {line}"


def _alias(name: str, asname: str | None) -> str:
    return f"{name} as {asname}" if asname else name


def _from(module: str, aliases: list[ast.alias]) -> str:
    """``from module import a, b as c``, one name a line in parentheses when that would be long."""
    names = [_alias(a.name, a.asname) for a in aliases]
    one_line = f"from {module} import {', '.join(names)}"
    if len(one_line) <= 100 or names == ["*"]:
        return one_line
    return f"from {module} import (\n" + "".join(f"    {name},\n" for name in names) + ")"


class _Statement:
    """One import statement being ported; problems and local imports go into ``result``."""

    def __init__(self, node: ast.Import | ast.ImportFrom, lines: list[str], name: str, folder: Folder,
                 package: tuple[str, ...], result: PortedFile) -> None:
        self.node, self.lines, self.name, self.folder, self.package = node, lines, name, folder, package
        self.result = result

    def problem(self, why: str) -> None:
        statement = self.lines[self.node.lineno - 1].strip()
        self.result.problems.append(Problem(_where(self.name, self.node.lineno), statement, why))

    def alone_on_its_lines(self) -> bool:
        """Refuse ``x = 1; from algoperf import spec``: rewriting whole lines would lose the other statement."""
        node = self.node
        before = self.lines[node.lineno - 1][: node.col_offset]
        after = self.lines[node.end_lineno - 1][node.end_col_offset :].strip()
        if before.strip() or (after and not after.startswith("#")):
            self.problem("the import shares its line with other code; put it on its own line")
            return False
        return True

    def rewrite(self) -> list[str] | None:
        """The statements that replace this one, or None when it stays as it is."""
        if isinstance(self.node, ast.Import):
            new = [self.rewrite_import(alias) for alias in self.node.names]
            if all(statement is None for statement in new):
                return None
            return [s if s is not None else f"import {_alias(a.name, a.asname)}"
                    for s, a in zip(new, self.node.names)]
        return self.rewrite_from()

    # --- import a.b.c [as x] -------------------------------------------------------------------------------------
    def rewrite_import(self, alias: ast.alias) -> str | None:
        parts = tuple(alias.name.split("."))
        if parts[0] in ALGOPERF_PACKAGES:
            if len(parts) == 2 and parts[1] in OFFERED_MODULES and alias.asname:
                return f"import {_PODIUM_PACKAGE}.{parts[1]} as {alias.asname}"
            self.problem(f"Podium offers AlgoPerf's {', '.join(OFFERED_MODULES)} as 'from algoperf import spec' "
                         "or 'import algoperf.spec as spec'")
            return None
        if self.folder.module(parts) is not None:
            self.result.local_imports.append(parts)
            return None
        target = self.moved(parts)
        if target is None:
            return None
        if not target:
            self.problem("imports the submission's folder itself as a package; import its modules instead")
            return None
        if len(parts) > 1 and not alias.asname:
            self.problem("'import a.b.c' binds the name 'a', and the code then spells out the whole path; "
                         "write 'from a.b import c' (or add 'as c') and the port can rewrite it")
            return None
        self.result.local_imports.append(target)
        return f"import {'.'.join(target)} as {alias.asname or parts[-1]}"

    def moved(self, parts: tuple[str, ...]) -> tuple[str, ...] | None:
        """Where a non-local absolute import lands in the ported folder: a repository path's module in the folder,
        or a sibling module reached through ``sys.path``; None when it is a third-party or standard module."""
        if parts[0] in REPOSITORY_ROOTS:
            located = self.folder.locate(parts)
            if located is None:
                self.problem(f"{'.'.join(parts)} is a path in an AlgoPerf repository to a module outside the "
                             f"submission's folder ({self.folder.root}); Podium ports one folder: move the "
                             "module into it")
            return located
        if self.package and self.folder.module(self.package + parts) is not None:
            return self.package + parts
        return None

    # --- from a.b import c [as x] --------------------------------------------------------------------------------
    def rewrite_from(self) -> list[str] | None:
        node = self.node
        assert isinstance(node, ast.ImportFrom)
        parts = tuple(node.module.split(".")) if node.module else ()
        if node.level:
            return self.rewrite_relative(parts)
        if parts[0] in ALGOPERF_PACKAGES:
            return self.rewrite_algoperf(parts[1:])
        if parts == ("absl",) and any(alias.name == "logging" for alias in node.names):
            # absl's logging.info(fmt, *args) has the standard library's signature; Podium does not need absl.
            logging = next(a for a in node.names if a.name == "logging")
            others = [_alias(a.name, a.asname) for a in node.names if a.name != "logging"]
            return [f"import {_alias('logging', logging.asname)}"] + (
                [f"from absl import {', '.join(others)}"] if others else [])
        if self.folder.module(parts) is not None:
            self.note_local(parts)
            return None
        target = self.moved(parts)
        return None if target is None else self.from_target(target)

    def rewrite_relative(self, parts: tuple[str, ...]) -> list[str] | None:
        up = self.node.level - 1
        if up > len(self.package):
            self.problem("the relative import goes above the submission's folder")
            return None
        base = self.package[: len(self.package) - up]
        if base:  # inside a top-level package of the folder, which stays a package: it works as it is
            self.note_local(base + parts)
            return None
        return self.from_target(parts)  # the folder's root is no package in Podium: make it absolute

    def from_target(self, target: tuple[str, ...]) -> list[str] | None:
        """``from <target> import ...`` as an absolute import from the folder's root."""
        names = self.node.names
        if target:
            self.note_local(target)
            return [_from(".".join(target), names)]
        # ``from <the folder> import x``: the folder's root is no package in Podium, so each name must be a module.
        not_modules = [a.name for a in names if self.folder.module((a.name,)) is None]
        if not_modules:
            self.problem(f"imports {', '.join(not_modules)} from the folder's own __init__.py, which Podium does not "
                         "import (the folder is not a package there); import them from their module")
            return None
        self.result.local_imports.extend((a.name,) for a in names)
        return [f"import {_alias(a.name, a.asname)}" for a in names]

    def note_local(self, module: tuple[str, ...]) -> None:
        self.result.local_imports.append(module)
        self.result.local_imports.extend(module + (a.name,) for a in self.node.names if a.name != "*")

    def rewrite_algoperf(self, submodule: tuple[str, ...]) -> list[str] | None:
        names = self.node.names
        if not submodule:
            missing = [a.name for a in names if a.name not in OFFERED_MODULES]
            offered = ", ".join(OFFERED_MODULES)
            where = _PODIUM_PACKAGE
        elif len(submodule) == 1 and submodule[0] in OFFERED_MODULES:
            available = offered_names(submodule[0])
            missing = [a.name for a in names if a.name not in available]
            offered = ", ".join(sorted(available))
            where = f"{_PODIUM_PACKAGE}.{submodule[0]}"
        else:
            self.problem(f"Podium does not offer AlgoPerf's {'.'.join(submodule)} (it offers "
                         f"{', '.join(OFFERED_MODULES)}; the README says why the rest is left out)")
            return None
        if missing:
            self.problem(f"Podium does not offer {', '.join(repr(m) for m in missing)} from AlgoPerf here "
                         f"(it offers: {offered})")
            return None
        return [_from(where, names)]


def offered_names(module: str) -> frozenset[str]:
    """The ``__all__`` of ``harness.algoperf.<module>``, read from its source (no framework is imported)."""
    source = (Path(__file__).parent / f"{module}.py").read_text(encoding="utf-8")
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return frozenset(ast.literal_eval(node.value))
    raise RuntimeError(f"harness/algoperf/{module}.py has no __all__")
