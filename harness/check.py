"""Static checks of a training submission folder: the first half of ``podium check``.

A submission is a folder holding ``submission.py`` and ``README.md``, and optionally ``search_space.json`` (external
tuning) and ``requirements.txt``. :func:`check_submission` checks the layout and the search space here (they are
data), and has a child process (:mod:`harness.check_child`) import ``submission.py`` and compare its functions with
the contract: importing runs the submission's module-level code, which must never run in a harness process (it could
replace ``time.monotonic`` and so blind the supervisor to a hang). The child runs in its own process group under a
trial's start-up limits (time, memory, output), and its problems come back as JSON. Every problem is collected, each
with a ``file:line`` when one is known, so an author fixes a submission in one round. Nothing trains here: running a
few real steps is the dynamic half of the check.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


from harness.check_child import SUBMISSION_FILE, Problem
from harness.runner.messages import TrialLimits
from harness.runner.clock import tree_rss
from harness.runner.supervisor import POLL_S, ExitWait, ProcessGroup, child_env, child_setup
from harness.tracks import ADAPTER_CONFIG_FILE, TrackError, submission_track
from harness.tuning.search_space import SearchSpace, SearchSpaceError, load_search_space

README_FILE = "README.md"
SEARCH_SPACE_FILE = "search_space.json"

__all__ = ["CheckReport", "Problem", "check_submission", "format_report"]


@dataclass(frozen=True)
class CheckReport:
    """The outcome of :func:`check_submission`: data only (the submission was imported in another process).

    Attributes:
        path: the submission folder, as given.
        problems: every problem found, in the order checked; empty when the submission passes.
        search_space: the loaded ``search_space.json``; None when the folder has none or it is invalid.
    """

    path: Path
    problems: list[Problem] = field(default_factory=list)
    search_space: SearchSpace | None = None
    track: str = "training"

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems


def check_submission(path: str | Path, limits: TrialLimits | None = None) -> CheckReport:
    """Validate a training submission folder without training anything, and without importing it here.

    Checks the folder layout, ``search_space.json`` when present, that ``submission.py`` imports, and that it
    defines every function of the training contract with parameters the harness can pass by keyword. The import and
    the signature checks run in a child process; a child that hangs, crashes, exits, or goes over a limit is one
    problem with a one-line reason.

    Args:
        path: the submission folder.
        limits: the child's limits: ``startup_s`` (the time a trial gets for start-up, importing the submission
            included), ``memory_bytes`` and ``output_bytes``. Default: a trial's defaults.

    Returns:
        A report listing every problem.
    """
    folder = Path(path)
    try:
        track = submission_track(folder) if folder.is_dir() else "training"
    except TrackError as error:
        return CheckReport(folder, [Problem(str(folder), str(error))])
    config_only = (folder / ADAPTER_CONFIG_FILE).is_file()
    problems = _layout_problems(folder, config_only)
    if not folder.is_dir():
        return CheckReport(folder, problems)
    search_space, space_problems = _check_search_space(folder)
    problems += space_problems
    if config_only:
        problems += _adapter_config_problems(folder, search_space)
    elif (folder / SUBMISSION_FILE).is_file():
        problems += _check_in_child(folder, limits or TrialLimits(), track)
    return CheckReport(folder, problems, search_space, track)


def _adapter_config_problems(folder: Path, space: SearchSpace | None) -> list[Problem]:
    """A config-only PEFT submission: ``adapter_config.json`` as ``peft`` reads it, with every value the search
    space may put into it (data only: nothing of the submission runs here)."""
    from harness.tracks.peft import AdapterConfigError, config_problems, read_adapter_config

    try:
        values = read_adapter_config(folder)
    except AdapterConfigError as error:
        return [Problem(ADAPTER_CONFIG_FILE, p) for p in error.problems]
    problems = [Problem(ADAPTER_CONFIG_FILE, p) for p in config_problems(values)]
    if not problems and space is not None and not space.is_empty:
        from harness.tracks.peft import _field_types, config_class, config_overrides

        fields = _field_types(config_class(values["peft_type"]))
        # every fixed point (a list may hold fewer than 4), or a few points drawn from the ranges
        points = [dict(p) for p in space.fixed_points] if space.fixed_points is not None else space.sample(4, 0)
        for point in points:
            overrides = config_overrides(point, fields)
            if overrides:
                problems += [Problem(SEARCH_SPACE_FILE, f"{p} (a value of the search space)")
                             for p in config_problems({**values, **overrides})]
        problems = list(dict.fromkeys(problems))
    return problems


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


def _layout_problems(folder: Path, config_only: bool = False) -> list[Problem]:
    if not folder.exists():
        return [Problem(str(folder), "no such folder")]
    if not folder.is_dir():
        hint = f"; pass its folder, {folder.parent}" if folder.name in (SUBMISSION_FILE, ADAPTER_CONFIG_FILE) else ""
        return [Problem(str(folder), f"not a folder (a submission is a folder with {SUBMISSION_FILE}, or a PEFT "
                                     f"method's {ADAPTER_CONFIG_FILE}){hint}")]
    if config_only:
        return []  # adapter_config.json (+ search_space.json) is a whole submission, as peft saves it
    problems = []
    for name, why in ((SUBMISSION_FILE, f"it defines the training functions, a PEFT method's adapt() or a "
                                        f"compressor's compress(); a PEFT config gives {ADAPTER_CONFIG_FILE} "
                                        "instead"),
                      (README_FILE, "describe the method")):
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


# --- The child that imports submission.py. ------------------------------------------------------------------------


def _check_in_child(folder: Path, limits: TrialLimits, track: str = "training") -> list[Problem]:
    """Run :mod:`harness.check_child` on ``folder`` under ``limits``; its problems, or one saying why it gave none."""
    with tempfile.TemporaryDirectory(prefix="podium-check-") as scratch:
        report, log = Path(scratch) / "report.json", Path(scratch) / "output.log"
        with open(log, "wb") as output:
            process = ProcessGroup(
                [sys.executable, "-m", "harness.check_child", str(folder.resolve()), str(report), track],
                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=child_setup(limits.scratch_bytes, None), env=child_env(threads=1), cwd=scratch)
        try:
            verdict = _watch(process, log, limits)
        finally:
            process.kill_all()  # also whatever the submission spawned at import
        if verdict is None:
            verdict = _output_flood(log, limits)
        if verdict is not None:
            return [Problem(SUBMISSION_FILE, verdict)]
        return _read_report(report, process.returncode, log)


def _watch(process: ProcessGroup, log: Path, limits: TrialLimits) -> str | None:
    """Poll the child from outside until it exits; the reason to kill it when it goes over a limit."""
    started = time.monotonic()
    with ExitWait(process.pid) as pause:
        while process.poll() is None:
            if time.monotonic() - started > limits.startup_s:
                return f"importing submission.py took over {limits.startup_s:g}s (a hang at import?); killed"
            rss = tree_rss(process.pid)
            if rss > limits.memory_bytes:
                return (f"importing submission.py used {rss / 2**30:.2f} GiB of memory, over the "
                        f"{limits.memory_bytes / 2**30:.2f} GiB a trial is allowed; killed")
            flood = _output_flood(log, limits)
            if flood is not None:
                return flood
            pause.sleep(POLL_S)
    return None


def _output_flood(log: Path, limits: TrialLimits) -> str | None:
    size = log.stat().st_size if log.exists() else 0
    if size > limits.output_bytes:
        return (f"importing submission.py wrote {size / 2**20:.1f} MiB to stdout/stderr, over the "
                f"{limits.output_bytes / 2**20:g} MiB cap; killed")
    return None


def _read_report(report: Path, returncode: int | None, log: Path) -> list[Problem]:
    """The child's problems; a crash or an exit before the report is one problem that says which."""
    try:
        payload = json.loads(report.read_text())
        return [Problem(str(p["where"]), str(p["message"])) for p in payload["problems"]]
    except FileNotFoundError:
        pass
    except (ValueError, KeyError, TypeError) as error:
        return [Problem(SUBMISSION_FILE, f"the check process sent an unreadable report ({error}){_tail(log)}")]
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:  # a real-time signal has no name
            name = f"signal {-returncode}"
        return [Problem(SUBMISSION_FILE, f"importing submission.py crashed the check process with {name}{_tail(log)}")]
    return [Problem(SUBMISSION_FILE, f"the check process exited with code {returncode} while importing "
                                     f"submission.py (os._exit at import?){_tail(log)}")]


def _tail(log: Path, lines: int = 3) -> str:
    """The last lines the child printed, on one line, for a reason that has no traceback of its own."""
    tail = log.read_text(errors="replace").strip().splitlines()[-lines:]
    return (" | last output: " + " / ".join(line.strip()[:200] for line in tail)) if tail else ""
