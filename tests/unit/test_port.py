"""Porting AlgoPerf submissions: each supported import is rewritten, everything else is left alone, and an import
Podium does not offer is refused with its file and line. A folder comes with the modules, packages and data files
its submission uses, and paths through the AlgoPerf repositories are rewritten to the ported folder. The sources
below are written for these tests in AlgoPerf's style."""

from __future__ import annotations

import importlib.util
import json
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from harness.check import check_submission
from harness.algoperf.imports import Folder, port_file
from harness.algoperf.port import PortError, batch_size_table, port_algoperf, port_algoperf_source

ALGOPERF_STYLE = textwrap.dedent('''\
    """A toy AlgoPerf-style submission: plain SGD."""

    from absl import logging
    import torch

    from algoperf import spec
    from algoperf.pytorch_utils import pytorch_setup

    USE_PYTORCH_DDP = pytorch_setup()[0]


    def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
      del model_state, rng
      return {'optimizer': torch.optim.SGD(model_params.parameters(), lr=hyperparameters.learning_rate)}


    def update_params(workload, current_param_container, current_params_types, model_state, hyperparameters,
                      batch, loss_type, optimizer_state, eval_results, global_step, rng):
      optimizer_state['optimizer'].zero_grad()
      logits, new_model_state = workload.model_fn(current_param_container, batch, model_state,
                                                  spec.ForwardPassMode.TRAIN, rng, True)
      loss = workload.loss_fn(batch['targets'], logits)['summed'] / len(batch['targets'])
      loss.backward()
      optimizer_state['optimizer'].step()
      logging.info('%d) loss = %0.3f', global_step, loss.item())
      return optimizer_state, current_param_container, new_model_state


    def get_batch_size(workload_name):
      if workload_name == 'mnist':
        return 16
      raise ValueError(f'Unsupported workload name: {workload_name}.')


    def data_selection(workload, input_queue, optimizer_state, current_param_container, model_state,
                       hyperparameters, global_step, rng):
      return next(input_queue)
    ''')


def test_rewrites_the_supported_imports_and_nothing_else() -> None:
    ported = port_algoperf_source(ALGOPERF_STYLE)
    assert "import logging\n" in ported
    assert "from harness.algoperf import spec\n" in ported
    assert "from harness.algoperf.pytorch_utils import pytorch_setup\n" in ported
    assert "algoperf import" not in ported.replace("harness.algoperf", "")
    assert "absl" not in ported
    untouched = [line for line in ALGOPERF_STYLE.splitlines() if "import" not in line]
    assert [line for line in ported.splitlines() if "import" not in line] == untouched


@pytest.mark.parametrize("package", ["algoperf", "algorithmic_efficiency"])
def test_both_package_names_aliases_and_indented_imports(package: str) -> None:
    source = (f"from {package} import spec as s\n"
              f"def f():\n    from {package}.pytorch_utils import pytorch_setup  # lazily\n    return pytorch_setup\n")
    assert port_algoperf_source(source) == (
        "from harness.algoperf import spec as s\n"
        "def f():\n    from harness.algoperf.pytorch_utils import pytorch_setup  # lazily\n    return pytorch_setup\n")


def test_absl_logging_is_split_from_other_absl_names() -> None:
    assert port_algoperf_source("from absl import flags, logging\n") == "import logging\nfrom absl import flags\n"
    assert port_algoperf_source("from absl import logging") == "import logging"  # no final newline: none added
    assert port_algoperf_source("from absl import flags\n") == "from absl import flags\n"


def test_a_parenthesised_import_spanning_lines_is_rewritten_whole() -> None:
    source = "x = 1\nfrom algoperf import (\n    spec,\n)\ny = 2\n"
    assert port_algoperf_source(source) == "x = 1\nfrom harness.algoperf import spec\ny = 2\n"


@pytest.mark.parametrize("line", [
    "from algoperf import random_utils as prng",
    "from algorithmic_efficiency.workloads.mnist import workload",
    "import algoperf.spec",
    "from algoperf import spec, random_utils",
    "from algoperf.pytorch_utils import not_a_name",
])
def test_an_import_podium_does_not_offer_is_refused_with_its_line(line: str) -> None:
    with pytest.raises(PortError, match=rf"line 3: {line}"):
        port_algoperf_source(f"import torch\n\n{line}\n")


def test_an_import_sharing_its_line_is_refused() -> None:
    with pytest.raises(PortError, match="line 1: import torch; from algoperf import spec: the import shares its line"):
        port_algoperf_source("import torch; from algoperf import spec\n")


def test_unparseable_source_is_a_port_error() -> None:
    with pytest.raises(PortError, match="line 1: cannot parse"):
        port_algoperf_source("def (:\n")


def test_batch_size_table_expands_families_to_every_workload() -> None:
    table = batch_size_table()
    assert table["digits_mlp"] == table["digits_mlp_tanh"] == 64
    assert table["fashion_mnist_cnn_batchnorm"] == 128
    assert batch_size_table({"digits": 32, "digits_mlp_tanh": 8, "later_workload": 4}) == {
        "digits_mlp": 32, "digits_mlp_tanh": 8, "later_workload": 4}


def test_port_writes_a_folder_that_passes_check(tmp_path: Path) -> None:
    source_dir = tmp_path / "algoperf" / "sgd" / "pytorch"
    source_dir.mkdir(parents=True)
    (source_dir / "submission.py").write_text(ALGOPERF_STYLE)
    space = {"learning_rate": {"min": 1e-3, "max": 1.0, "scaling": "log"}}
    (source_dir.parent / "tuning_search_space.json").write_text(json.dumps(space))  # AlgoPerf's layout
    dest = port_algoperf(source_dir / "submission.py", tmp_path / "ported")
    assert json.loads((dest / "search_space.json").read_text()) == space
    assert "sgd (ported from AlgoPerf)" in (dest / "README.md").read_text()
    report = check_submission(dest)
    assert report.ok, report.problems
    ported = import_file(dest / "submission.py")  # the check imports it in a child process; this test looks inside
    assert ported.get_batch_size("mnist") == 16  # AlgoPerf's own answer comes first
    assert ported.get_batch_size("fashion_mnist_mlp_xavier") == 128
    with pytest.raises(ValueError, match="Unsupported workload name"):
        ported.get_batch_size("imagenet_vit")


def import_file(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"ported_{path.parent.name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_port_without_get_batch_size_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "submission.py"
    source.write_text(ALGOPERF_STYLE.replace("def get_batch_size(", "def batch_size("))
    with pytest.raises(PortError, match="no top-level get_batch_size"):
        port_algoperf(source, tmp_path / "ported")
    assert not (tmp_path / "ported").exists()


def test_the_algoperf_api_imports_map_to_harness_algoperf() -> None:
    source = ("from algoperf.spec import TrainingCompleteError\n"
              "from algorithmic_efficiency import param_utils, pytorch_utils as pu\n"
              "from algoperf.pytorch_utils import sync_ddp_time, update_batch_norm_fn\n"
              "import algoperf.spec as aspec\n")
    assert port_algoperf_source(source) == (
        "from harness.algoperf.spec import TrainingCompleteError\n"
        "from harness.algoperf import param_utils, pytorch_utils as pu\n"
        "from harness.algoperf.pytorch_utils import sync_ddp_time, update_batch_norm_fn\n"
        "import harness.algoperf.spec as aspec\n")


# --- Folders: an imitation of a submission in the submissions_algorithms repository. -------------------------------

REPOSITORY_PATH = "submissions.team_x.external_tuning.sgd_folder"

FOLDER_SUBMISSION = ALGOPERF_STYLE.replace("from algoperf.pytorch_utils import pytorch_setup\n", f"""\
from algoperf.pytorch_utils import pytorch_setup
from {REPOSITORY_PATH}.helpers import learning_rate
from {REPOSITORY_PATH}.optim.sgd import make_sgd
from .constants import MOMENTUM
""").replace("torch.optim.SGD(model_params.parameters(), lr=hyperparameters.learning_rate)",
             "make_sgd(model_params, learning_rate(hyperparameters), MOMENTUM)")

FOLDER_FILES = {
    "submission.py": FOLDER_SUBMISSION,
    "__init__.py": "",
    "constants.py": "MOMENTUM = 0.0\n",
    "helpers.py": textwrap.dedent('''\
        import json
        from pathlib import Path

        from algoperf import spec  # unused here, but helpers import AlgoPerf too

        SCALE = json.loads((Path(__file__).parent / "schedule.json").read_text())["scale"]


        def learning_rate(hyperparameters):
          return SCALE * hyperparameters.learning_rate
        '''),
    "schedule.json": '{"scale": 1.0}',
    "optim/__init__.py": "",
    "optim/base.py": "def params_of(model):\n  return list(model.parameters())\n",
    "optim/sgd.py": textwrap.dedent(f'''\
        import torch

        from {REPOSITORY_PATH}.optim.base import params_of
        from . import base


        def make_sgd(model, lr, momentum):
          assert base.params_of is params_of
          return torch.optim.SGD(params_of(model), lr=lr, momentum=momentum)
        '''),
    "optim/tests/test_sgd.py": "from algorithms.somewhere_else import fixture  # never imported by the submission\n",
    "README.md": "# The authors' README\n",
    "tuning_search_space.json": json.dumps([{"learning_rate": 0.1}]),
}


def write_folder(root: Path, files: dict[str, str]) -> Path:
    folder = root.joinpath(*REPOSITORY_PATH.split("."))
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    return folder


def test_folder_port_brings_helper_modules_packages_and_data_files(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "checkout", FOLDER_FILES)
    dest = port_algoperf(folder, tmp_path / "ported")
    copied = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert copied == ["README.algoperf.md", "README.md", "constants.py", "helpers.py", "optim/__init__.py",
                      "optim/base.py", "optim/sgd.py", "schedule.json", "search_space.json", "submission.py"]
    readme = (dest / "README.md").read_text()
    assert "`optim/tests/test_sgd.py`" in readme and "not copied" in readme  # nothing imports it: left out
    assert json.loads((dest / "search_space.json").read_text()) == [{"learning_rate": 0.1}]
    report = check_submission(dest)  # imports submission.py and its helpers in a child process
    assert report.ok, report.problems


def test_repository_paths_are_rewritten_to_the_ported_folder(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "checkout", FOLDER_FILES)
    dest = port_algoperf(folder, tmp_path / "ported")
    submission = (dest / "submission.py").read_text()
    assert "from helpers import learning_rate\n" in submission
    assert "from optim.sgd import make_sgd\n" in submission
    assert "from constants import MOMENTUM\n" in submission  # relative at the root: the root is no package
    sgd = (dest / "optim" / "sgd.py").read_text()
    assert "from optim.base import params_of\n" in sgd
    assert "from . import base\n" in sgd  # inside a package that stays a package: left as it is
    assert "submissions." not in submission + sgd + (dest / "helpers.py").read_text()


@pytest.mark.parametrize(("statement", "ported"), [
    (f"import {REPOSITORY_PATH}.helpers as h", "import helpers as h"),
    (f"from {REPOSITORY_PATH} import helpers, constants as c", "import helpers\nimport constants as c"),
    ("from algorithms.archived.other_name.optim.sgd import make_sgd", "from optim.sgd import make_sgd"),
    ("from sgd import make_sgd", "from optim.sgd import make_sgd"),  # a sibling through sys.path
    ("import base", "import optim.base as base"),
    ("import torch.distributed as dist", "import torch.distributed as dist"),
])
def test_each_form_of_a_folder_import(tmp_path: Path, statement: str, ported: str) -> None:
    folder = write_folder(tmp_path / "checkout", FOLDER_FILES)
    result = port_file(statement + "\n", "optim/sgd.py", Folder(folder), ("optim",))
    assert not result.problems
    assert result.text == ported + "\n"


def test_what_cannot_be_ported_is_one_error_naming_every_file_and_line(tmp_path: Path) -> None:
    files = dict(FOLDER_FILES)
    files["submission.py"] = FOLDER_SUBMISSION.replace(
        "from .constants import MOMENTUM\n",
        "from .constants import MOMENTUM\nfrom algorithms.target_setting_algorithms.base import warmup\n")
    files["helpers.py"] += f"import {REPOSITORY_PATH}.constants\n"
    files["optim/base.py"] += "from algoperf import random_utils\n"
    folder = write_folder(tmp_path / "checkout", files)
    with pytest.raises(PortError) as error:
        port_algoperf(folder, tmp_path / "ported")
    message = str(error.value)
    line = FOLDER_SUBMISSION.splitlines().index("from .constants import MOMENTUM") + 2
    assert f"submission.py:{line}: from algorithms.target_setting_algorithms.base import warmup: " in message
    assert "outside the submission's folder" in message
    helpers_line = len(FOLDER_FILES["helpers.py"].splitlines()) + 1
    assert f"helpers.py:{helpers_line}: " in message and "binds the name 'a'" in message
    assert "optim/base.py:3: from algoperf import random_utils: Podium does not offer" in message
    assert "test_sgd.py" not in message  # a file nothing imports cannot stop a port
    assert not (tmp_path / "ported").exists()


def test_a_helper_that_would_shadow_a_standard_module_is_refused(tmp_path: Path) -> None:
    files = dict(FOLDER_FILES)
    files["submission.py"] = FOLDER_SUBMISSION.replace("from .constants import MOMENTUM\n",
                                                       "from .constants import MOMENTUM\nimport queue\n")
    files["queue.py"] = "X = 1\n"
    folder = write_folder(tmp_path / "checkout", files)
    with pytest.raises(PortError, match="queue: .*standard-library or Podium module"):
        port_algoperf(folder, tmp_path / "ported")


def test_a_lone_file_beside_other_submissions_brings_only_what_it_imports(tmp_path: Path) -> None:
    folder = tmp_path / "baselines" / "external_tuning"
    folder.mkdir(parents=True)
    (folder / "pytorch_sgd.py").write_text(ALGOPERF_STYLE)
    (folder / "jax_sgd.py").write_text("import jax\n")
    (folder / "notes.txt").write_text("not the submission's\n")
    (folder / "tuning_search_space.json").write_text(json.dumps({"learning_rate": {"feasible_points": [0.1]}}))
    dest = port_algoperf(folder / "pytorch_sgd.py", tmp_path / "ported")
    assert sorted(p.name for p in dest.iterdir()) == ["README.md", "search_space.json", "submission.py"]


def test_a_pytorch_submission_that_also_imports_optax_is_declared_pytorch(tmp_path: Path) -> None:
    """AlgoPerf's archived PyTorch momentum and nesterov take their learning-rate schedule from optax: the ported
    folder imports both frameworks' libraries, so the port declares the one it came from."""
    from harness.tracks.training import framework_of

    source_dir = tmp_path / "momentum" / "pytorch"
    source_dir.mkdir(parents=True)
    (source_dir / "submission.py").write_text("import optax\n" + ALGOPERF_STYLE)
    dest = port_algoperf(source_dir / "submission.py", tmp_path / "ported")
    assert framework_of(dest) == "pytorch"
    assert (dest / "submission.py").read_text().rstrip().endswith('FRAMEWORK = "pytorch"')
    (source_dir / "submission.py").write_text(ALGOPERF_STYLE)  # one framework's imports: nothing is added
    dest = port_algoperf(source_dir / "submission.py", tmp_path / "ported_plain")
    assert "FRAMEWORK" not in (dest / "submission.py").read_text() and framework_of(dest) == "pytorch"
