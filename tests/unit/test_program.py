"""A PEFT model as an exported program (harness/runner/program.py): what the evaluation server runs is the model's
own computation, and a saved program that would run anything else - a Python function, code in a shape
expression, a pickled object - is refused before any of it runs."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import peft
import pytest
import torch
from torch import nn

from harness.runner import program
from workloads.fashion_transfer.pytorch.models import TransferCNN

CPU = torch.device("cpu")


def lora_cnn() -> nn.Module:
    torch.manual_seed(0)
    config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["body.1", "body.3"], modules_to_save=["head"])
    return peft.get_peft_model(TransferCNN(5), config)


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[nn.Module, Path]:
    model = lora_cnn()
    folder = program.write(program.export(model, program.example_of(torch.randn(8, 1, 28, 28))),
                           tmp_path_factory.mktemp("program") / "p")
    return model, folder


def tampered(saved: Path, tmp_path: Path, change) -> Path:
    folder = tmp_path / "tampered"
    shutil.copytree(saved, folder)
    graph = json.loads((folder / program.GRAPH).read_text())
    change(graph)
    (folder / program.GRAPH).write_text(json.dumps(graph))
    return folder


def nodes(graph: dict) -> list[dict]:
    return graph["graph_module"]["graph"]["nodes"]


@torch.no_grad()
def test_the_rebuilt_program_computes_what_the_model_does(saved: tuple[nn.Module, Path]) -> None:
    model, folder = saved
    rebuilt = program.load(folder, CPU)
    x = torch.randn(37, 1, 28, 28)  # another batch size than the example's

    assert torch.allclose(rebuilt(x), model.eval()(x), atol=1e-6)
    assert torch.allclose(rebuilt(x[:1]), model(x[:1]), atol=1e-6)  # a batch of one row, run as two


@torch.no_grad()
def test_new_weights_load_into_the_same_program(saved: tuple[nn.Module, Path]) -> None:
    model, folder = saved
    rebuilt = program.load(folder, CPU)
    changed = lora_cnn()
    for param in changed.parameters():
        param.add_(0.05)

    rebuilt.load_weights(program.Logits(changed).state_dict())

    x = torch.randn(9, 1, 28, 28)
    assert torch.allclose(rebuilt(x), changed.eval()(x), atol=1e-6)
    assert not torch.allclose(rebuilt(x), model.eval()(x), atol=1e-3)
    with pytest.raises(program.ProgramError, match="do not fit"):
        rebuilt.load_weights({"model.head.weight": torch.zeros(1)})


def test_the_server_rebuilds_a_new_program_written_in_the_same_folder(tmp_path: Path) -> None:
    """A retried trial starts from an empty scratch folder and writes its program under the same name."""
    programs, folder, x = program.Programs(), tmp_path / "program-1", torch.randn(5, 1, 28, 28)
    first, second = lora_cnn(), TransferCNN(5)
    program.write(program.export(first, x), folder)
    before = programs.get(str(folder), CPU)
    shutil.rmtree(folder)
    program.write(program.export(second, x), folder)
    after = programs.get(str(folder), CPU)

    with torch.no_grad():
        assert torch.allclose(before(x), first.eval()(x), atol=1e-6)
        assert torch.allclose(after(x), second.eval()(x), atol=1e-6)


def test_a_text_model_exports_with_free_batch_and_sequence_dimensions() -> None:
    class Bag(nn.Module):  # a dict of token ids and a mask in, logits out: the shape of a Hugging Face classifier
        def __init__(self) -> None:
            super().__init__()
            self.embed, self.head = nn.Embedding(50, 8), nn.Linear(8, 2)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            mask = attention_mask.unsqueeze(-1).float()
            return self.head((self.embed(input_ids) * mask).sum(1) / mask.sum(1).clamp(min=1))

    model = Bag()
    example = {"input_ids": torch.randint(0, 50, (4, 12)), "attention_mask": torch.ones(4, 12, dtype=torch.long)}
    rebuilt = program.Program(program.export(model, example).module())
    batch = {"input_ids": torch.randint(0, 50, (3, 5)), "attention_mask": torch.ones(3, 5, dtype=torch.long)}

    with torch.no_grad():
        assert torch.allclose(rebuilt(**batch), model(**batch), atol=1e-6)


def test_a_forward_pass_that_cannot_be_traced_is_a_clear_error() -> None:
    class Branchy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.sum() > 0:  # Python control flow on a tensor's value
                return self.linear(x)
            return -self.linear(x)

    with pytest.raises(program.ProgramError, match="could not be exported with torch.export"):
        program.export(Branchy(), torch.randn(4, 4))


@pytest.mark.parametrize("target", ["torch.os.system", "builtins.exec", "torch.ops.mylib.custom.default",
                                    "#some_extension", "torch.ops.aten.no_such_op.default"])
def test_a_graph_that_calls_anything_but_aten_is_refused(saved: tuple[nn.Module, Path], tmp_path: Path,
                                                         target: str) -> None:
    folder = tampered(saved[1], tmp_path, lambda g: nodes(g)[0].update(target=target))

    with pytest.raises(program.ProgramError, match="runs only PyTorch's ATen operators"):
        program.load(folder, CPU)


@pytest.mark.parametrize("target", ["torch.ops.aten.from_file.default", "torch.ops.aten.save.default"])
def test_an_aten_operator_that_reaches_files_is_refused(saved: tuple[nn.Module, Path], tmp_path: Path,
                                                        target: str) -> None:
    """``from_file`` would read the server's dataset files (the held-out labels) into the model's answers."""
    folder = tampered(saved[1], tmp_path, lambda g: nodes(g)[0].update(target=target))

    with pytest.raises(program.ProgramError, match="names a file"):
        program.load(folder, CPU)


def test_code_in_a_shape_expression_never_runs(saved: tuple[nn.Module, Path], tmp_path: Path) -> None:
    witness = tmp_path / "ran"
    folder = tmp_path / "tampered"
    shutil.copytree(saved[1], folder)
    text = (folder / program.GRAPH).read_text()
    assert "Symbol('s" in text  # the batch dimension's symbol: sympy reads these with eval
    (folder / program.GRAPH).write_text(text.replace(
        "Symbol('s", f"__import__('os').system('touch {witness}') or Symbol('s", 1))

    with pytest.raises(program.ProgramError, match="shape expression"):
        program.load(folder, CPU)
    assert not witness.exists()


class _Payload:
    def __reduce__(self):
        return (os.system, (f"touch {_Payload.witness}",))


def test_a_pickled_object_among_the_tensors_is_refused_unopened(saved: tuple[nn.Module, Path], tmp_path: Path) -> None:
    folder = tmp_path / "tampered"
    shutil.copytree(saved[1], folder)
    _Payload.witness = tmp_path / "ran"
    torch.save({"model.head.weight": _Payload()}, folder / program.CONSTANTS, pickle_protocol=pickle.HIGHEST_PROTOCOL)

    with pytest.raises(program.ProgramError, match="could not be read as tensors"):
        program.load(folder, CPU)
    assert not _Payload.witness.exists()


def test_node_metadata_is_dropped_before_the_graph_is_read(saved: tuple[nn.Module, Path], tmp_path: Path) -> None:
    """The deserializer resolves names written in a node's metadata (its source function); they are not needed to
    run the graph, so the check empties them."""
    folder = tampered(saved[1], tmp_path, lambda g: [n.update(metadata={"source_fn_stack": "x,torch.os.system"})
                                                      for n in nodes(g)])
    graph = json.loads((folder / program.GRAPH).read_text())

    program.check_graph(graph)

    assert all(n["metadata"] == {} for n in nodes(graph))
    program.load(folder, CPU)  # and the graph still rebuilds


PEFT_METHODS = {  # peft's methods for a BERT classifier, as their docs configure them
    "dora": lambda: peft.LoraConfig(r=8, target_modules=["query", "value"], use_dora=True, task_type="SEQ_CLS"),
    "loha": lambda: peft.LoHaConfig(r=8, target_modules=["query", "value"], task_type="SEQ_CLS"),
    "lokr": lambda: peft.LoKrConfig(r=8, target_modules=["query", "value"], task_type="SEQ_CLS"),
    "vera": lambda: peft.VeraConfig(r=8, target_modules=["query", "value"], task_type="SEQ_CLS"),
    "oft": lambda: peft.OFTConfig(oft_block_size=32, target_modules=["query", "value"], task_type="SEQ_CLS"),
    "boft": lambda: peft.BOFTConfig(boft_block_size=4, target_modules=["query", "value"], task_type="SEQ_CLS"),
    "fourierft": lambda: peft.FourierFTConfig(n_frequency=100, target_modules=["query", "value"], task_type="SEQ_CLS"),
    "prompt_tuning": lambda: peft.PromptTuningConfig(num_virtual_tokens=8, task_type="SEQ_CLS"),
    "p_tuning": lambda: peft.PromptEncoderConfig(num_virtual_tokens=8, encoder_hidden_size=64, task_type="SEQ_CLS"),
}


@pytest.mark.slow  # MiniLM-L6 loaded and exported once per method (4-16 s each here)
@pytest.mark.parametrize("method", sorted(PEFT_METHODS))
def test_peft_methods_on_minilm_export_and_compute_the_same_logits(method: str, tmp_path: Path) -> None:
    from workloads.rotten_tomatoes.pytorch.models import encode, load_model

    model = peft.get_peft_model(load_model(), PEFT_METHODS[method]()).eval()
    texts = ["a fine movie", "terrible, awful acting and a dull plot overall", "x y z", "yy"]
    example = {k: torch.from_numpy(v)[:, :24] for k, v in encode(texts).items()}
    rebuilt = program.load(program.write(program.export(model, example), tmp_path / method), CPU)
    batch = {k: v[:3, :9] for k, v in example.items()}  # fewer rows, a shorter trim

    with torch.no_grad():
        assert torch.allclose(rebuilt(**batch), model(**batch).logits, atol=1e-5)
