"""The PEFT track's contract: how a parameter-efficient fine-tuning method is submitted, timed and measured.

A PEFT workload hands a submission a *pretrained* model with a freshly initialised task head
(:class:`workloads.common.peft.PeftWorkload`); the method decides what to train and how, and races to the workload's
validation target under the training track's clock, protocol and scoring. Each signature is declared once, below;
``podium check`` reads the parameter lists from here.

**Two kinds of submission.**

* **A method written in Python**: ``submission.py`` defines ``adapt(model, workload, hyperparameters, rng) -> model``
  and returns the model to train. Which parameters are trainable is the method's choice (``requires_grad``); the
  workload's new head (``workload.head_modules``) should stay trainable. Optionally:

  - ``on_step(model, optimizer_state, workload, hyperparameters, global_step, rng)``, called after every update
    with the gradients still in place, for methods that change their structure while training (AdaLoRA's rank
    allocation, half fine-tuning's changing half);
  - any of the training track's functions (:mod:`harness.tracks.training`: ``get_batch_size``,
    ``init_optimizer_state``, ``update_params``, ``data_selection``, ``prepare_for_eval``) to replace the default
    update rule. Each one left out is the default's.

* **A configuration**: a folder with a Hugging Face ``peft`` ``adapter_config.json`` (and a ``search_space.json``)
  and no ``submission.py``. Podium applies it with ``peft.get_peft_model``. The search space may range over the
  config's own fields (``r``, ``lora_alpha``, ...): a hyperparameter whose name is a field of the config's class
  replaces that field; the others are training hyperparameters. The workload's head modules are added to
  ``modules_to_save``; AdaLoRA's ``total_step``, when the config leaves it out, is the workload's ``step_hint``, and
  its ``update_and_allocate`` is the per-step hook.

**The default update rule** (:func:`init_optimizer_state`, :func:`update_params`): AdamW over the parameters that
require gradients, with ``learning_rate`` (required), ``weight_decay`` (0), ``beta1`` (0.9), ``beta2`` (0.999) and a
linear warm-up over ``warmup_steps`` (0); batch size ``batch_size`` (32). Gradients are cleared at the start of an
update, so ``on_step`` sees them.

**The clock.** ``adapt``, ``on_step`` and every training function are submission time: time-to-target includes
wrapping the model. Tokenization is not: a workload tokenizes its text once when it is built, and batches arrive as
token ids; a method that wants other inputs re-derives them inside ``data_selection``, on the clock.

**Evaluation.** The model is evaluated outside the trial's process, by the harness's evaluation server, which runs
no submission code: before the timed loop the worker exports the model ``adapt`` returned with ``torch.export``
(non-strict, eval mode, batch and sequence dimensions free) and the server runs that graph of PyTorch operators with
the weights of each evaluation (:mod:`harness.runner.program`). So the model's forward pass must be exportable:
no Python branch on a tensor's value, no custom operator; a ``with torch.no_grad():`` inside it is fine. The graph
is exported again when the model's parameters change name or shape; what its forward pass computes must live in
registered parameters and buffers, not in Python attributes changed during training (those are fixed at the
export). A model that cannot be exported fails its trial with ``torch.export``'s reason (``podium check`` runs one
evaluation, so it shows there first).

**Measured per trial** (untimed, after the test evaluation; see :func:`measure`):

* ``trainable_params`` / ``total_params``: parameters with ``requires_grad`` at the end, and all parameters of the
  adapted model (shared tensors counted once).
* ``peak_memory_bytes``: the trial process's peak resident memory on CPU, the harness's evaluations (exporting,
  saving the weights) left out (:class:`harness.runner.worker.PeakMemory`); ``torch.cuda.max_memory_allocated`` on
  GPU.
* ``adapter_bytes``: the size of a safetensors file holding every tensor of the adapted model's state that is not
  bit-identical to a tensor of the base model (the pretrained model with the same seeded head). Renamed or wrapped
  base weights (``base_layer``, ``original_module``) are recognised by content, so only what differs is counted.
* ``latency_ms`` / ``base_latency_ms`` / ``latency_ratio``: median time of a forward pass (eval mode, no gradients)
  on the workload's reference batch, for the adapted model (merged first where the method allows:
  ``merge_and_unload``, and ``merged`` is 1) and for the base model.
* ``forgetting``: the workload's measure of how far the adapted model's behaviour moved from the base model's on
  its reference sample (0: unchanged; each workload defines it: embedding drift on held-out text for MiniLM,
  source-task accuracy lost for the transfer CNN).
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import inspect
import json
import math
import statistics
import time
import typing
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol, runtime_checkable

from harness.tracks import ADAPTER_CONFIG_FILE, SUBMISSION_FILE, training
from harness.tracks.training import (Hyperparameters, ModelAuxiliaryState, OptimizerState, ParameterContainer,
                                     RandomState, Workload)

TRACK = "peft"


@runtime_checkable
class PeftMethod(Protocol):
    """What a PEFT ``submission.py`` defines. Signatures are matched by parameter *name*."""

    def adapt(self, model: ParameterContainer, workload: Workload, hyperparameters: Hyperparameters,
              rng: RandomState) -> ParameterContainer:
        """Return the model to train (the same module changed in place, or a new one wrapping it). Timed."""


class OptionalHooks(Protocol):
    """Functions a PEFT submission may define."""

    def on_step(self, model: ParameterContainer, optimizer_state: OptimizerState, workload: Workload,
                hyperparameters: Hyperparameters, global_step: int, rng: RandomState) -> None:
        """After every update, with its gradients still in place (``global_step`` counts from 0). Timed."""


def _parameters(protocol: type, name: str) -> tuple[inspect.Parameter, ...]:
    return tuple(inspect.signature(getattr(protocol, name)).parameters.values())[1:]


REQUIRED_FUNCTIONS: dict[str, tuple[inspect.Parameter, ...]] = {"adapt": _parameters(PeftMethod, "adapt")}
OPTIONAL_FUNCTIONS: dict[str, tuple[inspect.Parameter, ...]] = {
    "on_step": _parameters(OptionalHooks, "on_step"), **training.REQUIRED_FUNCTIONS, **training.OPTIONAL_FUNCTIONS}
OMITTABLE_PARAMETERS = training.OMITTABLE_PARAMETERS

# --- The default update rule. ----------------------------------------------------------------------------------------

DEFAULTS = {"weight_decay": 0.0, "beta1": 0.9, "beta2": 0.999, "warmup_steps": 0, "batch_size": 32}


def _hp(hyperparameters: Hyperparameters, name: str) -> Any:
    return getattr(hyperparameters, name, DEFAULTS.get(name))


def get_batch_size(workload_name: str) -> int:
    """The default batch size: 32 (a ``batch_size`` hyperparameter overrides it; see :func:`compose`)."""
    return DEFAULTS["batch_size"]


def init_optimizer_state(workload: Workload, model_params: ParameterContainer, model_state: ModelAuxiliaryState,
                         hyperparameters: Hyperparameters, rng: RandomState) -> OptimizerState:
    """AdamW over the parameters that require gradients, with a linear warm-up (and AdaLoRA's orthogonal regulariser
    for an AdaLoRA model: :func:`adalora_orthogonality`)."""
    import torch

    if not hasattr(hyperparameters, "learning_rate"):
        raise ValueError("the default update rule needs a 'learning_rate' hyperparameter (add it to search_space.json)")
    trainable = [p for p in model_params.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("adapt returned a model with no trainable parameter")
    optimizer = torch.optim.AdamW(trainable, lr=hyperparameters.learning_rate,
                                  betas=(_hp(hyperparameters, "beta1"), _hp(hyperparameters, "beta2")),
                                  weight_decay=_hp(hyperparameters, "weight_decay"))
    warmup = max(int(_hp(hyperparameters, "warmup_steps")), 0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / (warmup + 1)))
    return {"optimizer": optimizer, "scheduler": scheduler, "orthogonality": adalora_orthogonality(model_params)}


def adalora_orthogonality(model: Any) -> tuple[float, list[tuple[str, Any]]] | None:
    """AdaLoRA's orthogonal regulariser, where ``model`` is a ``peft`` AdaLoRA model: ``(orth_reg_weight, [(kind,
    parameter)])`` for its trainable adapter's ``lora_A`` and ``lora_B`` matrices; ``None`` for any other model.

    ``peft`` adds ``orth_reg_weight x mean ||P P^T - I||_F`` (``A A^T`` for ``lora_A``, ``B^T B`` for ``lora_B``)
    inside ``AdaLoraModel.forward``, and only when the wrapped model computed its own loss from ``labels`` (and a
    ``PeftModel`` without a task type, as config-only submissions make, skips that forward altogether). The
    harness computes the loss from the logits (the same for every method), so the default update rule adds the
    same term itself (:func:`orthogonality_penalty`); without it AdaLoRA's singular vectors drift from orthogonal
    and its importance scores mean less than the paper's."""
    base = getattr(model, "base_model", None)
    configs = getattr(base, "peft_config", None)
    name = getattr(base, "trainable_adapter_name", None)
    config = configs.get(name) if isinstance(configs, dict) and name else None
    if config is None or str(getattr(config.peft_type, "value", config.peft_type)).upper() != "ADALORA":
        return None
    matrices = [("A" if "lora_A" in n else "B", p) for n, p in base.model.named_parameters()
                if ("lora_A" in n or "lora_B" in n) and name in n]
    return float(config.orth_reg_weight), matrices


def orthogonality_penalty(orthogonality: tuple[float, list[tuple[str, Any]]]) -> Any:
    """The term :func:`adalora_orthogonality` describes, as a scalar tensor (0.0 when there is nothing to regularise)."""
    import torch

    weight, matrices = orthogonality
    terms = []
    for kind, p in matrices:
        if p.numel() == 0:
            continue
        cov = p @ p.T if kind == "A" else p.T @ p
        terms.append(torch.linalg.matrix_norm(cov - torch.eye(*cov.shape, dtype=cov.dtype, device=cov.device)))
    return weight * torch.stack(terms).mean() if terms else 0.0


def update_params(workload: Workload, current_param_container: ParameterContainer, current_params_types: Any,
                  model_state: ModelAuxiliaryState, hyperparameters: Hyperparameters, batch: dict, loss_type: Any,
                  optimizer_state: OptimizerState, eval_results: Any, global_step: int,
                  rng: RandomState) -> training.UpdateReturn:
    """One AdamW step on the mean cross-entropy (plus AdaLoRA's orthogonal regulariser, where it applies); gradients
    are cleared first, so the per-step hook sees them."""
    model, optimizer = current_param_container, optimizer_state["optimizer"]
    optimizer.zero_grad(set_to_none=True)
    logits, model_state = workload.model_fn(params=model, augmented_and_preprocessed_input_batch=batch,
                                            model_state=model_state, mode=training.ForwardPassMode.TRAIN, rng=rng,
                                            update_batch_norm=True)
    loss = workload.loss_fn(label_batch=batch["targets"], logits_batch=logits)
    objective = loss["summed"] / loss["n_valid_examples"]
    if optimizer_state.get("orthogonality") is not None:
        objective = objective + orthogonality_penalty(optimizer_state["orthogonality"])
    objective.backward()
    optimizer.step()
    optimizer_state["scheduler"].step()
    return optimizer_state, model, model_state


def data_selection(workload: Workload, input_queue: Any, optimizer_state: OptimizerState,
                   current_param_container: ParameterContainer, model_state: ModelAuxiliaryState,
                   hyperparameters: Hyperparameters, global_step: int, rng: RandomState) -> dict:
    return next(input_queue)


# --- Config-only submissions. ----------------------------------------------------------------------------------------


class AdapterConfigError(ValueError):
    """An ``adapter_config.json`` that ``peft`` cannot apply; ``problems`` lists every reason, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def config_class(peft_type: Any) -> type:
    """The ``peft`` config class of a ``peft_type`` (``"LORA"``, ``"IA3"``...), or an error naming the known ones."""
    from peft.mapping import PEFT_TYPE_TO_CONFIG_MAPPING

    known = {str(getattr(k, "value", k)): v for k, v in PEFT_TYPE_TO_CONFIG_MAPPING.items()}
    if not isinstance(peft_type, str) or peft_type.upper() not in known:
        close = difflib.get_close_matches(str(peft_type).upper(), known, n=2)
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        raise AdapterConfigError([f"unknown peft_type {peft_type!r}{hint}; peft {_peft_version()} knows: "
                                  f"{', '.join(sorted(known))}"])
    return known[peft_type.upper()]


def _peft_version() -> str:
    import peft

    return peft.__version__


def _field_types(cls: type) -> dict[str, Any]:
    import dataclasses

    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # noqa: BLE001 - an annotation peft cannot resolve here: fall back to no type checks
        hints = {}
    return {f.name: hints.get(f.name) for f in dataclasses.fields(cls)}


def config_problems(values: Mapping[str, Any]) -> list[str]:
    """Everything wrong with a config's fields: an unknown ``peft_type``, unknown fields, values of the wrong type."""
    from pydantic import TypeAdapter, ValidationError

    try:
        cls = config_class(values.get("peft_type"))
    except AdapterConfigError as error:
        return error.problems
    fields, problems = _field_types(cls), []
    for name, value in values.items():
        if name not in fields:
            close = difflib.get_close_matches(name, fields, n=1)
            problems.append(f"unknown field {name!r} for {cls.__name__}" + (f" (did you mean {close[0]!r}?)"
                                                                             if close else ""))
            continue
        hint = fields[name]
        if hint is None or name in ("peft_type", "task_type") or value is None:
            continue
        try:
            TypeAdapter(hint).validate_python(value, strict=True)
        except ValidationError:
            problems.append(f"field {name!r} is {value!r} ({type(value).__name__}); {cls.__name__} expects "
                            f"{_type_name(hint)}")
        except Exception:  # noqa: BLE001 - a type pydantic cannot build a validator for: not checked
            continue
    return problems


def _type_name(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")


def read_adapter_config(folder: Path) -> dict[str, Any]:
    """``adapter_config.json`` as a dict, or :class:`AdapterConfigError` saying why it cannot be read."""
    path = folder / ADAPTER_CONFIG_FILE
    try:
        values = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise AdapterConfigError([f"not valid JSON: {error}"]) from None
    if not isinstance(values, dict):
        raise AdapterConfigError([f"must be a JSON object of config fields, not a {type(values).__name__}"])
    if "peft_type" not in values:
        raise AdapterConfigError(["no 'peft_type' field (e.g. \"LORA\"); peft writes it in every saved config"])
    return values


#: hyperparameters of the default update rule: in a config-only submission's search space they always mean the
#: optimizer's; a config field of the same name (AdaLoRA's ``beta1``/``beta2``, its importance EMAs) is searched
#: as ``peft.<field>``
TRAINING_HYPERPARAMETERS = ("learning_rate", *DEFAULTS)
CONFIG_PREFIX = "peft."


def config_overrides(hyperparameters: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """The config fields a hyperparameter point sets: ``peft.<field>`` always, a bare ``<field>`` unless it is one
    of :data:`TRAINING_HYPERPARAMETERS`.

    >>> config_overrides({"r": 8, "beta1": 0.9, "peft.beta1": 0.85, "learning_rate": 1e-3},
    ...                  {"r": int, "beta1": float, "peft_type": str})
    {'r': 8, 'beta1': 0.85}
    """
    overrides = {}
    for name, value in hyperparameters.items():
        field = name.removeprefix(CONFIG_PREFIX) if name.startswith(CONFIG_PREFIX) else (
            None if name in TRAINING_HYPERPARAMETERS else name)
        if field in fields and field not in ("peft_type", "task_type"):
            overrides[field] = value
    return overrides


def make_config(values: Mapping[str, Any], hyperparameters: Mapping[str, Any], workload: Workload) -> Any:
    """The ``peft`` config: the file's fields, the hyperparameters that name a field of its class
    (:func:`config_overrides`), and the workload's head in ``modules_to_save`` (AdaLoRA: ``total_step`` defaults to the workload's ``step_hint``).
    ``inference_mode`` is always false: ``PeftModel.save_pretrained`` writes ``true`` into the config of a trained
    adapter, and a config copied from one would otherwise freeze every adapter weight."""
    cls = config_class(values["peft_type"])
    fields = _field_types(cls)
    merged = {k: v for k, v in values.items() if k in fields}
    merged.update(config_overrides(hyperparameters, fields))
    for name in ("r", "target_r", "init_r", "total_step", "tinit", "tfinal", "deltaT"):  # a search space's floats
        if isinstance(merged.get(name), float) and float(merged[name]).is_integer():
            merged[name] = int(merged[name])
    head = list(getattr(workload, "head_modules", ()))
    if head and "modules_to_save" in fields:
        merged["modules_to_save"] = list(dict.fromkeys([*(merged.get("modules_to_save") or []), *head]))
    if cls.__name__ == "AdaLoraConfig" and not merged.get("total_step"):
        merged["total_step"] = int(workload.step_hint)
    if "inference_mode" in fields:  # a trained adapter's saved config says true: the adapter would never train
        merged["inference_mode"] = False
    merged.pop("peft_type", None)
    return cls(**merged)


def config_submission(folder: Path) -> SimpleNamespace:
    """The functions of a config-only submission: ``adapt`` through ``peft.get_peft_model``, and the hook AdaLoRA
    needs. ``peft`` (and with it ``transformers``) is imported here, at start-up like a Python submission's own
    imports, not in ``adapt``, whose time counts as submission time."""
    import peft  # noqa: F401 - several seconds on a cold start

    values = read_adapter_config(folder)

    def adapt(model: Any, workload: Workload, hyperparameters: Hyperparameters, rng: RandomState) -> Any:
        import peft

        config = make_config(values, vars(hyperparameters), workload)
        try:
            return peft.get_peft_model(model, config)
        except ValueError as error:  # e.g. "Target modules {...} not found in the base model"
            names = sorted({n for n, m in model.named_modules() if n and not list(m.children())})
            raise AdapterConfigError([f"peft.get_peft_model: {str(error)[:300]} (target_modules "
                                      f"{getattr(config, 'target_modules', None)!r}; {workload.name}'s layers are: "
                                      f"{', '.join(names[:16])}{' ...' if len(names) > 16 else ''})"]) from None

    functions = SimpleNamespace(adapt=adapt)
    if str(values["peft_type"]).upper() == "ADALORA":
        def on_step(model: Any, optimizer_state: Any, workload: Workload, hyperparameters: Hyperparameters,
                    global_step: int, rng: RandomState) -> None:
            model.base_model.update_and_allocate(global_step)

        functions.on_step = on_step
    return functions


# --- Putting a PEFT submission into the training loop. ---------------------------------------------------------------

TRAINING_FUNCTIONS = (*training.REQUIRED_FUNCTIONS, *training.OPTIONAL_FUNCTIONS)


def compose(functions: Any, hyperparameters: Mapping[str, Any]) -> SimpleNamespace:
    """A training-track submission made of a PEFT submission's functions and the defaults for the ones it lacks.

    The worker runs it like any training submission; ``adapt`` is called by the worker once the model exists
    (:func:`harness.runner.worker.initialise`), and ``on_step`` runs inside the timed ``update_params``.
    """
    own = {name: getattr(functions, name) for name in (*TRAINING_FUNCTIONS, "adapt", "on_step")
           if callable(getattr(functions, name, None))}
    composed = SimpleNamespace(**{**{name: globals()[name] for name in training.REQUIRED_FUNCTIONS}, **own})
    if "get_batch_size" not in own and "batch_size" in hyperparameters:
        size = hyperparameters["batch_size"]
        composed.get_batch_size = lambda workload_name: int(size)
    hook = own.get("on_step")
    if hook is not None:
        update = composed.update_params
        declares_train_state = "train_state" in inspect.signature(update).parameters

        def update_params(**kwargs: Any) -> Any:
            if not declares_train_state:
                kwargs.pop("train_state", None)
            returned = update(**kwargs)
            optimizer_state, model = (returned[0], returned[1]) if isinstance(returned, tuple) else (None, None)
            hook(model=model, optimizer_state=optimizer_state, workload=kwargs["workload"],
                 hyperparameters=kwargs["hyperparameters"], global_step=kwargs["global_step"], rng=kwargs["rng"])
            return returned

        update_params.__signature__ = inspect.signature(update).replace(  # type: ignore[attr-defined]
            parameters=[*inspect.signature(training.TrainingAlgorithm.update_params).parameters.values()][1:])
        composed.update_params = update_params
    return composed


# --- Which track a folder belongs to. --------------------------------------------------------------------------------


# --- Measurements. ---------------------------------------------------------------------------------------------------


def _tensor_key(tensor: Any) -> tuple:
    import torch

    data = tensor.detach().to("cpu").contiguous()
    raw = data.view(torch.uint8) if data.numel() else data
    return (tuple(data.shape), str(data.dtype), hashlib.blake2b(raw.numpy().tobytes(), digest_size=16).digest())


def adapter_tensors(base: Any, adapted: Any) -> dict[str, Any]:
    """Every tensor of ``adapted``'s state that is not bit-identical to some tensor of ``base``'s state."""
    seen = {_tensor_key(t) for t in base.state_dict().values()}
    return {name: t.detach().to("cpu").contiguous().clone() for name, t in adapted.state_dict().items()
            if _tensor_key(t) not in seen}


def adapter_bytes(base: Any, adapted: Any) -> int:
    """Size of the safetensors file of :func:`adapter_tensors` (header included)."""
    from safetensors.torch import save

    return len(save(adapter_tensors(base, adapted)))


def count_parameters(model: Any) -> tuple[int, int]:
    """``(trainable, total)`` over unique parameter tensors."""
    trainable = total = 0
    for p in {id(p): p for p in model.parameters()}.values():
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    return trainable, total


def forward_latency_ms(model: Any, inputs: Any, repeats: int = 7) -> float:
    """Median milliseconds of one forward pass in eval mode without gradients (after one warm-up pass)."""
    import torch

    from workloads.common.peft import forward

    was_training = model.training
    model.eval()
    times = []
    try:
        with torch.no_grad():
            for i in range(repeats + 1):
                started = time.perf_counter()
                forward(model, inputs)
                if i:
                    times.append(time.perf_counter() - started)
    finally:
        model.train(was_training)
    return 1000.0 * statistics.median(times)


def merged_copy(model: Any) -> tuple[Any, bool]:
    """A merged copy of a ``peft`` model where the method allows it (``merge_and_unload``); else the model itself."""
    merge = getattr(model, "merge_and_unload", None)
    if merge is None:
        return model, False
    try:
        return copy.deepcopy(model).merge_and_unload(), True
    except Exception:  # noqa: BLE001 - methods that cannot merge (prompt tuning...) are timed as they are
        return model, False


def measure(workload: Any, adapted: Any, base: Any, peak_rss_bytes: int, device: str) -> dict[str, float]:
    """The PEFT track's per-trial measurements (see the module docstring). ``base`` is the pretrained model with the
    head the trial started from (the workload's ``init_model_fn`` with the trial's seed)."""
    import torch

    trainable, total = count_parameters(adapted)
    reference = _reference_batch(workload)
    fast, merged = merged_copy(adapted)
    latency, base_latency = forward_latency_ms(fast, reference), forward_latency_ms(base, reference)
    peak = torch.cuda.max_memory_allocated() if device.startswith("cuda") else peak_rss_bytes
    out = dict(trainable_params=float(trainable), total_params=float(total), peak_memory_bytes=float(peak),
               adapter_bytes=float(adapter_bytes(base, adapted)), latency_ms=latency, base_latency_ms=base_latency,
               latency_ratio=latency / base_latency if base_latency > 0 else math.nan, merged=float(merged),
               forgetting=float(workload.forgetting(base, adapted)))
    return out


def _reference_batch(workload: Any, rows: int = 32) -> Any:
    from workloads.common.peft import take

    return take(workload.reference, slice(0, rows))


#: the columns :func:`measure` fills, in the order tables show them, and the worker's ``adapt_s`` (the submission
#: seconds ``adapt`` took: part of the trial's time, shown apart so an expensive initialisation is visible)
MEASUREMENTS = ("trainable_params", "total_params", "peak_memory_bytes", "adapter_bytes", "latency_ms",
                "base_latency_ms", "latency_ratio", "merged", "forgetting", "adapt_s")
