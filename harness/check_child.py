"""The child process of ``podium check``: imports ``submission.py`` and compares its functions with the contract.

Started by :func:`harness.check.check_submission` as ``python -m harness.check_child FOLDER REPORT.json``, in its
own process group with a trial's start-up limits, because importing a submission runs its module-level code: code
that may hang, crash, exit, or replace ``time.monotonic`` - the very function a supervisor polls its limits with. So
no harness process ever imports a submission; this throwaway process does, and sends back only data: a JSON object
``{"problems": [{"where": ..., "message": ...}, ...]}`` written to REPORT.json.

The report is advisory. A submission could forge it (it runs in this process), but that only lets it past the check:
its trials still run in isolated workers, where the same misbehaviour becomes a failed trial with a reason.

The expected parameter lists are read from the track's contract (:mod:`harness.tracks.training`,
:mod:`harness.tracks.peft`), so the checker and the contract cannot
drift apart. Every problem is collected, each with a ``file:line`` when one is known, so an author fixes a
submission in one round.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib.util
import inspect
import json
import os
import sys
import traceback
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from harness.tracks.training import OMITTABLE_PARAMETERS, OPTIONAL_FUNCTIONS, REQUIRED_FUNCTIONS

SUBMISSION_FILE = "submission.py"
MODULE_NAME = "podium_submission"  # the worker's name for it too: one submission per process, no clash possible


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


def contract(track: str) -> tuple[dict[str, tuple[inspect.Parameter, ...]], dict[str, tuple[inspect.Parameter, ...]]]:
    """``(required, optional)`` functions of a track's contract."""
    if track == "peft":
        from harness.tracks import peft

        return peft.REQUIRED_FUNCTIONS, peft.OPTIONAL_FUNCTIONS
    if track == "compression":
        from harness.tracks import compression

        return compression.REQUIRED_FUNCTIONS, compression.OPTIONAL_FUNCTIONS
    return REQUIRED_FUNCTIONS, OPTIONAL_FUNCTIONS


def inspect_submission(folder: Path, track: str = "training") -> list[Problem]:
    """Import ``folder/submission.py`` into this process and list what is wrong with its functions.

    Only ever called in a throwaway process (see the module docstring): the import runs submission code.
    """
    module, problems = _import_submission(folder)
    return problems if module is None else _function_problems(module, folder, *contract(track))


def main(argv: list[str]) -> None:
    folder, report = Path(argv[0]), Path(argv[1])
    problems = inspect_submission(folder, argv[2] if len(argv) > 2 else "training")
    report.write_text(json.dumps({"problems": [asdict(problem) for problem in problems]}))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip interpreter teardown: a submission's atexit hooks and threads must not run or block


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


def _import_submission(folder: Path) -> tuple[ModuleType | None, list[Problem]]:
    spec = importlib.util.spec_from_file_location(MODULE_NAME, folder / SUBMISSION_FILE)
    assert spec is not None and spec.loader is not None  # a .py file always gets a source loader
    module = importlib.util.module_from_spec(spec)
    sys.dont_write_bytecode = True  # a check should not write __pycache__ into the folder it checks
    sys.path.insert(0, str(folder))  # so that submission.py can import its sibling modules
    sys.modules[MODULE_NAME] = module  # dataclasses and pickle look a class's module up by name
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        return None, [Problem(_where(error.filename, error.lineno, folder), f"{type(error).__name__}: {error.msg}")]
    except (Exception, SystemExit) as error:  # sys.exit() at import is a broken submission, not our exit
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


def _function_problems(module: ModuleType, folder: Path, required: dict[str, tuple[inspect.Parameter, ...]],
                       optional: dict[str, tuple[inspect.Parameter, ...]]) -> list[Problem]:
    """Every required function present and callable with the contract's parameters; optional ones when defined."""
    contract_names = set(required) | set(optional)
    others = [n for n, v in vars(module).items() if callable(v) and not n.startswith("__") and n not in contract_names]
    problems = []
    for name, contract in required.items():
        if not hasattr(module, name):
            close = difflib.get_close_matches(name, others, n=1)
            if close:
                where = _location(getattr(module, close[0]), folder)
                problems.append(Problem(where, f"missing function {name} (found {close[0]}: a typo?)"))
            else:
                problems.append(Problem(SUBMISSION_FILE, f"missing function {name}"))
            continue
        problems += _signature_problems(name, getattr(module, name), contract, folder)
    for name, contract in optional.items():
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


if __name__ == "__main__":
    main(sys.argv[1:])
