"""One contract file per track. Each states what a submission defines, receives, and may not touch.

A submission folder's track is read from what it holds (:func:`submission_track`), never from a flag: a run, a check
and a port all agree on it without being told.
"""

from __future__ import annotations

import ast
from pathlib import Path

#: the function whose presence at a ``submission.py``'s top level makes it a submission of that track; a folder
#: with none of them is a training submission (an update rule).
ENTRY_POINTS = {"adapt": "peft", "compress": "compression"}
ADAPTER_CONFIG_FILE = "adapter_config.json"  # a config-only PEFT submission (Hugging Face peft's own file)
SUBMISSION_FILE = "submission.py"

#: what each track's submission is, for messages that say a folder is the wrong kind
WHAT = {"training": "a training algorithm (submission.py defining neither adapt() nor compress())",
        "peft": "a PEFT method (adapter_config.json, or adapt() in submission.py)",
        "compression": "a compressor (compress() in submission.py)"}


class TrackError(ValueError):
    """A submission folder whose track cannot be told (or is told two ways)."""


def top_level_names(source: str) -> set[str]:
    """Names a module's source defines or imports at its top level (no code runs)."""
    tree = ast.parse(source)
    names = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    names |= {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
              if isinstance(t, ast.Name)}
    names |= {a.asname or a.name for node in tree.body if isinstance(node, ast.ImportFrom) for a in node.names}
    return names


def submission_track(folder: Path) -> str:
    """``training``, ``peft`` or ``compression``, from what the folder holds; an error when it is ambiguous.

    A folder with ``adapter_config.json`` is a config-only PEFT submission (it may not also hold ``submission.py``);
    a ``submission.py`` that defines ``adapt`` at module level is a PEFT method, one that defines ``compress`` a
    compressor (both at once is an error); any other ``submission.py`` is a training submission. The test reads the
    source (``def adapt`` / ``adapt =`` / ``from x import adapt``), so no submission code runs here.
    """
    has_config, source = (folder / ADAPTER_CONFIG_FILE).is_file(), folder / SUBMISSION_FILE
    if has_config and source.is_file():
        raise TrackError(f"{folder} holds both {ADAPTER_CONFIG_FILE} (a config-only PEFT submission) and "
                         f"{SUBMISSION_FILE}; keep one: a PEFT method in Python builds its config inside adapt()")
    if has_config:
        return "peft"
    if not source.is_file():
        return "training"
    try:
        names = top_level_names(source.read_text(errors="replace"))
    except SyntaxError:
        return "training"  # the checker reports the syntax error with its line
    found = sorted(name for name in ENTRY_POINTS if name in names)
    if len(found) > 1:
        raise TrackError(f"{source} defines both {' and '.join(f'{n}()' for n in found)}: adapt() makes a PEFT "
                         "method, compress() a compressor; a submission is one of them (split it into two folders)")
    return ENTRY_POINTS[found[0]] if found else "training"
