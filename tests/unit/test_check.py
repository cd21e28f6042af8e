"""Static submission checks: every kind of broken folder gives its own located message; a good one passes.

``submission.py`` is imported in a child process: whatever its module-level code does (hang, crash, exit, replace
``time.monotonic``) stays there and comes back as one problem.
"""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness.check import CheckReport, Problem, check_submission, format_report
from harness.runner.messages import TrialLimits

GOOD = """\
import helpers


def get_batch_size(workload_name):
    return helpers.BATCH_SIZE


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
    return {"step": 0}


def update_params(
    workload, current_param_container, current_params_types, model_state, hyperparameters, batch,
    loss_type, optimizer_state, eval_results, global_step, rng,
):
    return optimizer_state, current_param_container, model_state


def data_selection(
    workload, input_queue, optimizer_state, current_param_container, model_state, hyperparameters, global_step, rng
):
    return next(input_queue)
"""

SEARCH_SPACE = '{"learning_rate": {"min": 1e-4, "max": 1e-1, "scaling": "log"}}'


def make_submission(root: Path, source: str = GOOD, **files: str | None) -> Path:
    """A submission folder with ``submission.py``, a README and ``helpers.py``, plus ``files`` (None: left out)."""
    folder = root / "submission"
    folder.mkdir(parents=True)
    contents = {"submission.py": source, "README.md": "# SGD\n", "helpers.py": "BATCH_SIZE = 128\n"}
    contents.update({name.replace("__", "."): text for name, text in files.items()})
    for name, text in contents.items():
        if text is not None:
            (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def line_of(source: str, snippet: str) -> int:
    """1-based line of the first line of ``source`` containing ``snippet``."""
    return next(number for number, line in enumerate(source.splitlines(), 1) if snippet in line)


def messages(report: CheckReport) -> list[str]:
    return [str(problem) for problem in report.problems]


def test_good_submission_passes(tmp_path: Path) -> None:
    folder = make_submission(tmp_path, search_space__json=SEARCH_SPACE, requirements__txt="numpy\n")
    report = check_submission(folder)
    assert report.ok, format_report(report)
    assert report.search_space is not None and report.search_space.names == ("learning_rate",)
    assert format_report(report) == f"{folder}: OK (static checks passed)"


def test_check_leaves_no_trace(tmp_path: Path) -> None:
    path_before = list(sys.path)
    folder = make_submission(tmp_path)
    check_submission(folder)
    assert sys.path == path_before
    assert "helpers" not in sys.modules  # another submission's helpers.py must not be mistaken for this one's
    assert not (folder / "__pycache__").exists()


def test_keyword_order_kwargs_train_state_and_optional_hook_are_accepted(tmp_path: Path) -> None:
    source = """\
    def get_batch_size(workload_name, verbose=False):
        return 32

    def init_optimizer_state(**kwargs):
        return None

    def update_params(rng, global_step, eval_results, optimizer_state, loss_type, batch, hyperparameters,
                      model_state, current_params_types, current_param_container, workload, train_state=None):
        return optimizer_state, current_param_container, model_state

    def data_selection(workload, input_queue, *args, **kwargs):
        return next(input_queue)

    def prepare_for_eval(workload, current_param_container, current_params_types, model_state, hyperparameters,
                         loss_type, optimizer_state, eval_results, global_step, rng):
        return optimizer_state, current_param_container, model_state
    """
    report = check_submission(make_submission(tmp_path, source))
    assert report.ok, format_report(report)


def test_missing_function(tmp_path: Path) -> None:
    source = GOOD.replace("def get_batch_size(workload_name):\n    return helpers.BATCH_SIZE\n", "")
    assert messages(check_submission(make_submission(tmp_path, source))) == [
        "submission.py: missing function get_batch_size"
    ]


def test_misnamed_function_gets_a_suggestion(tmp_path: Path) -> None:
    source = GOOD.replace("def update_params(", "def update_param(")
    report = check_submission(make_submission(tmp_path, source))
    line = line_of(source, "def update_param(")
    assert messages(report) == [f"submission.py:{line}: missing function update_params (found update_param: a typo?)"]


def test_wrong_signature_names_the_function_line_and_parameter(tmp_path: Path) -> None:
    source = GOOD.replace("eval_results, global_step, rng,", "eval_results, rng, lr,")
    report = check_submission(make_submission(tmp_path, source))
    line = line_of(source, "def update_params(")
    assert messages(report) == [
        f"submission.py:{line}: update_params: missing parameter 'global_step'",
        f"submission.py:{line}: update_params: extra parameter 'lr' has no default; the harness will not pass it",
    ]


def test_misnamed_parameter_gets_a_suggestion(tmp_path: Path) -> None:
    source = GOOD.replace("def get_batch_size(workload_name):", "def get_batch_size(workload_nam):")
    assert messages(check_submission(make_submission(tmp_path, source))) == [
        "submission.py:4: get_batch_size: missing parameter 'workload_name' (found 'workload_nam': a typo?)"
    ]


def test_positional_only_and_non_callable(tmp_path: Path) -> None:
    source = GOOD.replace("def get_batch_size(workload_name):", "def get_batch_size(workload_name, /):")
    source += "\nprepare_for_eval = 3\n"
    assert messages(check_submission(make_submission(tmp_path, source))) == [
        "submission.py:4: get_batch_size: parameter 'workload_name' is positional-only; "
        "the harness passes arguments by keyword",
        "submission.py: prepare_for_eval is not a function (it is a int)",
    ]


def test_optional_hook_is_checked_when_present(tmp_path: Path) -> None:
    source = GOOD + "\n\ndef prepare_for_eval(workload, current_param_container):\n    pass\n"
    problems = messages(check_submission(make_submission(tmp_path, source)))
    line = line_of(source, "def prepare_for_eval(")
    assert problems[0] == f"submission.py:{line}: prepare_for_eval: missing parameter 'current_params_types'"
    assert len(problems) == 8  # every contract parameter but the two given


def test_import_error_is_located_in_the_submission(tmp_path: Path) -> None:
    source = GOOD.replace("import helpers\n", "import helpers\nSCALE = 1 / 0\n")
    report = check_submission(make_submission(tmp_path, source))
    assert messages(report) == ["submission.py:2: import failed: ZeroDivisionError: division by zero"]


def test_import_error_in_a_sibling_module_points_at_its_deepest_frame(tmp_path: Path) -> None:
    helpers = "def size():\n    raise RuntimeError('no GPU')\n\nBATCH_SIZE = size()\n"
    report = check_submission(make_submission(tmp_path, helpers__py=helpers))
    assert messages(report) == ["helpers.py:2: import failed: RuntimeError: no GPU"]


def test_missing_dependency_suggests_requirements(tmp_path: Path) -> None:
    source = GOOD.replace("import helpers\n", "import helpers\nimport podium_no_such_package\n")
    assert messages(check_submission(make_submission(tmp_path, source))) == [
        "submission.py:2: import failed: ModuleNotFoundError: No module named 'podium_no_such_package' "
        "(if it is a pip package, list it in requirements.txt)"
    ]


def test_sys_exit_at_import_is_a_problem_not_an_exit(tmp_path: Path) -> None:
    source = GOOD.replace("import helpers\n", "import helpers, sys\nsys.exit(3)\n")
    assert messages(check_submission(make_submission(tmp_path, source))) == [
        "submission.py:2: import failed: SystemExit: 3"
    ]


def test_syntax_error_gives_its_line(tmp_path: Path) -> None:
    source = GOOD.replace("return {\"step\": 0}", "return {\"step\": 0")
    report = check_submission(make_submission(tmp_path, source))
    assert messages(report) == [f"submission.py:{line_of(source, 'step')}: SyntaxError: '{{' was never closed"]


def test_missing_readme(tmp_path: Path) -> None:
    assert messages(check_submission(make_submission(tmp_path, README__md=None))) == [
        "README.md: missing README.md (describe the method)"
    ]


def test_readme_with_the_wrong_case(tmp_path: Path) -> None:
    folder = make_submission(tmp_path, README__md=None, readme__md="# SGD\n")
    assert messages(check_submission(folder)) == ["README.md: missing README.md (found readme.md: rename it)"]


def test_bad_search_space_problems_are_reported_with_the_others(tmp_path: Path) -> None:
    space = '{"learning_rate": {"min": 0.1, "max": 0.01, "scaling": "log"}, "dropout": {"feasible_points": []}}'
    source = GOOD.replace("def update_params(", "def update_param(")
    report = check_submission(make_submission(tmp_path, source, README__md=None, search_space__json=space))
    assert messages(report) == [
        "README.md: missing README.md (describe the method)",
        "search_space.json: learning_rate: min (0.1) > max (0.01)",
        "search_space.json: dropout: feasible_points is empty",
        f"submission.py:{line_of(source, 'def update_param(')}: missing function update_params "
        "(found update_param: a typo?)",
    ]
    assert report.search_space is None
    assert format_report(report).splitlines()[0] == f"{tmp_path / 'submission'}: 4 problems"


def test_invalid_search_space_json(tmp_path: Path) -> None:
    report = check_submission(make_submission(tmp_path, search_space__json='{"lr": {"min": 1,}}'))
    assert messages(report) == [
        "search_space.json: not valid JSON: Expecting property name enclosed in double quotes (line 1, column 18)"
    ]


def test_folder_without_submission_py(tmp_path: Path) -> None:
    report = check_submission(make_submission(tmp_path, submission__py=None))
    assert messages(report) == ["submission.py: missing submission.py (it defines the training functions, a PEFT method's "
                                "adapt() or a compressor's compress(); a PEFT config gives adapter_config.json "
                                "instead)"]


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_path_that_is_not_a_folder(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "submission.py"
    if kind == "file":
        path.write_text(GOOD)
        expected = (f"not a folder (a submission is a folder with submission.py, or a PEFT method's "
                    f"adapter_config.json); pass its folder, {tmp_path}")
    else:
        expected = "no such folder"
    assert check_submission(path).problems == [Problem(str(path), expected)]


def test_two_submissions_with_the_same_helper_name_do_not_mix(tmp_path: Path) -> None:
    first = make_submission(tmp_path / "a")
    second = make_submission(tmp_path / "b", helpers__py="raise RuntimeError('the second helpers.py')\n")
    assert check_submission(first).ok
    assert messages(check_submission(second)) == [
        "helpers.py:1: import failed: RuntimeError: the second helpers.py"]
    assert check_submission(first).ok  # each check imports in a fresh process: nothing of the second is left


def test_tampering_with_time_at_import_does_not_reach_the_harness(tmp_path: Path) -> None:
    """The bug this guards against: a check in the harness process let a submission stop the supervisor's clock."""
    originals = (time.monotonic, time.perf_counter, time.time)
    source = "import time\ntime.monotonic = time.perf_counter = time.time = lambda: 0.0\n" + GOOD
    assert check_submission(make_submission(tmp_path, source)).ok
    assert (time.monotonic, time.perf_counter, time.time) == originals
    assert "podium_submission" not in sys.modules


def test_hang_at_import_is_killed_at_the_startup_limit(tmp_path: Path) -> None:
    source = "import time\ntime.sleep(600)\n" + GOOD
    report = check_submission(make_submission(tmp_path, source), TrialLimits(startup_s=1.0))
    assert messages(report) == ["submission.py: importing submission.py took over 1s (a hang at import?); killed"]


@pytest.mark.parametrize(("code", "reason"), [
    ("import os, signal\nprint('about to crash', flush=True)\nos.kill(os.getpid(), signal.SIGSEGV)\n",
     "importing submission.py crashed the check process with SIGSEGV | last output: about to crash"),
    ("import os\nos._exit(7)\n", "the check process exited with code 7 while importing submission.py "
                                  "(os._exit at import?)"),
], ids=["segfault", "os_exit"])
def test_crash_or_exit_at_import_is_one_problem(tmp_path: Path, code: str, reason: str) -> None:
    assert messages(check_submission(make_submission(tmp_path, code + GOOD))) == [f"submission.py: {reason}"]


def test_output_flood_at_import_is_killed(tmp_path: Path) -> None:
    source = "while True:\n    print('x' * 1000)\n" + GOOD
    report = check_submission(make_submission(tmp_path, source), TrialLimits(output_bytes=2**20))
    [problem] = messages(report)
    assert problem.startswith("submission.py: importing submission.py wrote ")
    assert problem.endswith("MiB to stdout/stderr, over the 1 MiB cap; killed")
