"""Static checks of a training submission folder: the first half of ``podium check``.

A submission is a folder holding ``submission.py`` and ``README.md``, and optionally ``search_space.json`` (external
tuning) and ``requirements.txt``. :func:`check_submission` imports ``submission.py`` and compares its functions with
the contract in :mod:`harness.tracks.training`, reading the expected parameter lists from there, so the checker and
the contract cannot drift apart. It collects *every* problem, each with a ``file:line`` when one is known, so an author
fixes a submission in one round. Nothing trains here: running a few real steps is the dynamic half of the check.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import importlib.util
import inspect
import itertools
import sys
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from harness.tracks.training import OMITTABLE_PARAMETERS, OPTIONAL_FUNCTIONS, REQUIRED_FUNCTIONS
from harness.tuning.search_space import SearchSpace, SearchSpaceError, load_search_space

SUBMISSION_FILE = "submission.py"
README_FILE = "README.md"
SEARCH_SPACE_FILE = "search_space.json"

# Module names must be unique per import, so that two submissions (or two checks of one) never share a module.
_import_counter = itertools.count()


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a submission.

    Attributes:
        where: ``file:line`` relative to the submission folder when known, else the file or the folder.
        message: what is wrong, in one line.
    """

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True)
class CheckReport:
    """The outcome of :func:`check_submission`.

    Attributes:
        path: the submission folder, as given.
        problems: every problem found, in the order checked; empty when the submission passes.
        module: the imported ``submission.py`` when the submission passes, else None.
        search_space: the loaded ``search_space.json``; None when the folder has none or it is invalid.
    """

    path: Path
    problems: list[Problem] = field(default_factory=list)
    module: ModuleType | None = None
    search_space: SearchSpace | None = None

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems


def check_submission(path: str | Path) -> CheckReport:
    """Validate a training submission folder without training anything.

    Checks the folder layout, ``search_space.json`` when present, that ``submission.py`` imports, and that it
    defines every function of the training contract with parameters the harness can pass by keyword.

    Args:
        path: the submission folder.

    Returns:
        A report listing every problem; ``report.module`` is the imported submission when there is none.
    """
    folder = Path(path)
    problems = _layout_problems(folder)
    if not folder.is_dir():
        return CheckReport(folder, problems)
    search_space, space_problems = _check_search_space(folder)
    problems += space_problems
    module = None
    if (folder / SUBMISSION_FILE).is_file():
        module, import_problems = _import_submission(folder)
        problems += import_problems
        if module is not None:
            problems += _function_problems(module, folder)
    return CheckReport(folder, problems, module if not problems else None, search_space)


def format_report(report: CheckReport) -> str:
    """Render a report for a terminal: a summary line, then one line per problem.

    Example:
        >>> report = CheckReport(Path("sgd"), [Problem("submission.py", "missing function get_batch_size")])
        >>> print(format_report(report))
        sgd: 1 problem
          submission.py: missing function get_batch_size
        >>> print(format_report(CheckReport(Path("sgd"))))
        sgd: OK (static checks passed)
    """
    if report.ok:
        return f"{report.path}: OK (static checks passed)"
    count = len(report.problems)
    lines = [f"{report.path}: {count} problem{'s' if count > 1 else ''}"]
    return "\n".join(lines + [f"  {problem}" for problem in report.problems])


# --- Folder layout and search space. -----------------------------------------------------------------------------


def _layout_problems(folder: Path) -> list[Problem]:
    if not folder.exists():
        return [Problem(str(folder), "no such folder")]
    if not folder.is_dir():
        hint = f"; pass its folder, {folder.parent}" if folder.name == SUBMISSION_FILE else ""
        return [Problem(str(folder), f"not a folder (a submission is a folder with {SUBMISSION_FILE}){hint}")]
    problems = []
    for name, why in ((SUBMISSION_FILE, "it defines the training functions"), (README_FILE, "describe the method")):
        if not (folder / name).is_file():
            near = [p.name for p in folder.iterdir() if p.name.lower() == name.lower()]
            hint = f"found {near[0]}: rename it" if near else why
            problems.append(Problem(name, f"missing {name} ({hint})"))
    return problems


def _check_search_space(folder: Path) -> tuple[SearchSpace | None, list[Problem]]:
    file = folder / SEARCH_SPACE_FILE
    if not file.exists():
        return None, []  # optional: a submission for the self-tuning ruleset has no hyperparameters
    try:
        return load_search_space(file), []
    except SearchSpaceError as error:
        return None, [Problem(SEARCH_SPACE_FILE, problem) for problem in error.problems]


# --- Importing submission.py. --------------------------------------------------------------------------------------


def _where(filename: str | None, line: int | None, folder: Path) -> str:
    """``file:line``, with the file relative to the submission folder when it lies inside it."""
    shown = str(filename or SUBMISSION_FILE)
    with contextlib.suppress(ValueError, OSError):
        shown = str(Path(shown).resolve().relative_to(folder.resolve()))
    return f"{shown}:{line}" if line else shown


def _is_inside(filename: str, folder: Path) -> bool:
    try:
        return Path(filename).resolve().is_relative_to(folder.resolve())
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def _importable_from(folder: Path, keep: str) -> Iterator[None]:
    """Let ``submission.py`` import its sibling modules while it loads, then undo every trace of that.

    Siblings are dropped from ``sys.modules`` afterwards so that another submission's ``helpers.py`` is not mistaken
    for this one's; the module named ``keep`` (the submission itself) stays importable by name.
    """
    before = set(sys.modules)
    writes_bytecode = sys.dont_write_bytecode
    sys.dont_write_bytecode = True  # a check should not write __pycache__ into the folder it checks
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):  # the submission may have edited sys.path itself
            sys.path.remove(str(folder))
        sys.dont_write_bytecode = writes_bytecode
        for name in set(sys.modules) - before - {keep}:
            if _is_inside(getattr(sys.modules[name], "__file__", None) or "", folder):
                del sys.modules[name]


def _import_submission(folder: Path) -> tuple[ModuleType | None, list[Problem]]:
    file = folder / SUBMISSION_FILE
    digest = hashlib.sha256(str(file.resolve()).encode()).hexdigest()[:12]
    name = f"podium_submission_{digest}_{next(_import_counter)}"
    spec = importlib.util.spec_from_file_location(name, file)
    assert spec is not None and spec.loader is not None  # a .py file always gets a source loader
    module = importlib.util.module_from_spec(spec)
    with _importable_from(folder, keep=name):
        sys.modules[name] = module  # dataclasses and pickle look a class's module up by name
        try:
            spec.loader.exec_module(module)
        except SyntaxError as error:
            del sys.modules[name]
            where = _where(error.filename, error.lineno, folder)
            return None, [Problem(where, f"{type(error).__name__}: {error.msg}")]
        except (Exception, SystemExit) as error:  # sys.exit() at import is a broken submission, not our exit
            del sys.modules[name]
            return None, [_import_problem(error, folder)]
    return module, []


def _import_problem(error: BaseException, folder: Path) -> Problem:
    """The exception, located at the deepest frame inside the submission folder (the author's own code)."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if _is_inside(f.filename, folder)]
    where = _where(frames[-1].filename, frames[-1].lineno, folder) if frames else SUBMISSION_FILE
    hint = ""
    if isinstance(error, ModuleNotFoundError):
        hint = " (if it is a pip package, list it in requirements.txt)"
    return Problem(where, f"import failed: {type(error).__name__}: {error}{hint}")


# --- Functions and signatures. -------------------------------------------------------------------------------------


def _location(function: Any, folder: Path) -> str:
    """Where ``function`` is defined, as ``file:line``; just ``submission.py`` for objects without code."""
    try:
        code = getattr(inspect.unwrap(function), "__code__", None)
    except ValueError:  # a __wrapped__ cycle
        code = None
    return _where(code.co_filename, code.co_firstlineno, folder) if code else SUBMISSION_FILE


def _function_problems(module: ModuleType, folder: Path) -> list[Problem]:
    """Every required function present and callable with the contract's parameters; optional ones when defined."""
    contract_names = set(REQUIRED_FUNCTIONS) | set(OPTIONAL_FUNCTIONS)
    others = [n for n, v in vars(module).items() if callable(v) and not n.startswith("__") and n not in contract_names]
    problems = []
    for name, contract in REQUIRED_FUNCTIONS.items():
        if not hasattr(module, name):
            close = difflib.get_close_matches(name, others, n=1)
            if close:
                where = _location(getattr(module, close[0]), folder)
                problems.append(Problem(where, f"missing function {name} (found {close[0]}: a typo?)"))
            else:
                problems.append(Problem(SUBMISSION_FILE, f"missing function {name}"))
            continue
        problems += _signature_problems(name, getattr(module, name), contract, folder)
    for name, contract in OPTIONAL_FUNCTIONS.items():
        if hasattr(module, name):
            problems += _signature_problems(name, getattr(module, name), contract, folder)
    return problems


def _signature_problems(
    name: str, function: Any, contract: tuple[inspect.Parameter, ...], folder: Path
) -> list[Problem]:
    """Compare a submission function's parameters with the contract's, by name (the harness calls by keyword)."""
    if not callable(function):
        return [Problem(SUBMISSION_FILE, f"{name} is not a function (it is a {type(function).__name__})")]
    where = _location(function, folder)
    try:
        given = inspect.signature(function).parameters
    except (TypeError, ValueError) as error:
        return [Problem(where, f"{name}: cannot read its signature ({error})")]
    messages = _parameter_messages(given, [p.name for p in contract])
    return [Problem(where, f"{name}: {message}") for message in messages]


def _parameter_messages(given: Mapping[str, inspect.Parameter], expected: list[str]) -> list[str]:
    """What is wrong with parameters ``given`` when the harness passes ``expected`` by keyword."""
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    takes_any_keyword = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in given.values())
    unknown = [p.name for p in given.values() if p.name not in expected and p.kind not in variadic]
    messages, typos = [], set()
    for parameter in expected:
        if parameter in given and given[parameter].kind is inspect.Parameter.POSITIONAL_ONLY:
            messages.append(f"parameter {parameter!r} is positional-only; the harness passes arguments by keyword")
        elif parameter not in given and not takes_any_keyword and parameter not in OMITTABLE_PARAMETERS:
            close = difflib.get_close_matches(parameter, unknown, n=1)
            typos.update(close)
            hint = f" (found {close[0]!r}: a typo?)" if close else ""
            messages.append(f"missing parameter {parameter!r}{hint}")
    for parameter in unknown:
        if given[parameter].default is inspect.Parameter.empty and parameter not in typos:
            messages.append(f"extra parameter {parameter!r} has no default; the harness will not pass it")
    return messages
