"""Porting AlgoPerf submissions: each supported import is rewritten, everything else is left alone, and an import
Podium does not offer is refused with its line. The source below is written for these tests in AlgoPerf's style."""

from __future__ import annotations

import importlib.util
import json
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from harness.check import check_submission
from harness.port import PortError, batch_size_table, port_algoperf, port_algoperf_source

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
    "from algoperf import spec, param_utils",
])
def test_an_import_podium_does_not_offer_is_refused_with_its_line(line: str) -> None:
    with pytest.raises(PortError, match=rf"line 3: {line}"):
        port_algoperf_source(f"import torch\n\n{line}\n")


def test_an_import_sharing_its_line_is_refused() -> None:
    with pytest.raises(PortError, match="line 1: the import shares its line"):
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
