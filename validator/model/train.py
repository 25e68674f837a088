"""One miner's LoRA step: a fresh adapter, the fixed recipe, the miner's data as the only input.

Lifecycle per miner (the base model is shared by all miners of a round)::

    result = train_lora(base, tokenizer, pairs, recipe)   # injects a fresh adapter
    tuned = evaluate(result.model, tokenizer, ...)        # adapter active
    base = release(result)                                # adapter removed, base as before

or ``with lora_adapter(base, tokenizer, pairs, recipe) as result: ...``. The base weights are
frozen and never written: the LoRA layers wrap them and ``release`` unwraps them
(``PeftModel.unload``), which restores the original module objects. Measured on the tiny model
(bench/bench_round_model.py): wrap + merged eval copy + unload together cost ~0.09 s per miner
against ~3 s of training, so a fresh wrap per miner is used rather than a long-lived PeftModel
with per-miner named adapters (which leaves peft state on the shared model between miners; its
cost was not measured separately).

Determinism: ``torch.manual_seed(recipe.seed)`` right before injection fixes the adapter init
(LoRA A is drawn from the global RNG, B starts at zero) and the batch order comes from the same
seed, so identical data gives bit-identical losses on the same machine.

A batch of miners (``lora_adapters``, for ``evaluate_many`` in ``validator/model/evaluate.py``):
one PeftModel over the shared base, one named adapter per miner, trained one after another.
Each adapter is injected right after ``torch.manual_seed(recipe.seed)`` and trained alone
(``set_adapter``: the others are frozen and out of the forward pass) on the same loop as
``train_lora``, so each comes out bit-identical to the adapter ``lora_adapter`` trains on the
same data (tests/validator/model/test_train.py). ``release`` unloads them all at once.
"""

from __future__ import annotations

import copy
import random
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import torch
from peft import LoraConfig, PeftModel, get_peft_model

from validator.model.evaluate import BASE_ADAPTER
from validator.model.recipe import DEFAULT_RECIPE, TokenizerLike, TrainRecipe, collate, encode_pair

ADAPTER_NAME = "miner"  # one adapter at a time; the name shows up in saved adapter keys


@dataclass
class TrainResult:
    """A trained adapter (active on ``model``) and what the training consumed."""

    model: Any  # the PeftModel wrapping the shared base, adapter active
    per_step_losses: list[float]
    tokens_used: int  # tokens of the samples admitted under the token budget
    samples_used: int
    dropped: int  # samples past the token budget, dropped in the given order
    truncated: int  # admitted samples cut at max_seq_len
    train_s: float
    base: Any = field(repr=False)  # the shared base model object that ``model`` wraps
    released: bool = field(default=False)

    def eval_model(self) -> Any:
        """The tuned model to evaluate: a merged copy on CPU, the PeftModel elsewhere.

        On CPU, greedy generation through unmerged LoRA layers is ~3x slower than through
        merged weights (measured on the tiny model), and copying a small model costs
        milliseconds. On GPU a copy of a large base would cost memory, and the unmerged
        path is cheap there, so the adapter is evaluated as is. Either way the shared base
        is never written.
        """
        if next(self.model.parameters()).device.type != "cpu":
            return self.model
        return copy.deepcopy(self.model).merge_and_unload()

    def adapter_state(self) -> dict[str, torch.Tensor]:
        """A CPU copy of the adapter's weights (for audit or saving)."""
        return {
            k: v.detach().cpu().clone() for k, v in self.model.named_parameters() if "lora_" in k
        }


def select_rows(
    tokenizer: TokenizerLike, samples: Sequence[tuple[str, str]], recipe: TrainRecipe
) -> tuple[list[tuple[list[int], int]], int, int, int]:
    """``(rows, tokens_used, dropped, truncated)``: samples admitted under the token budget.

    Samples are taken in the given order until the next one would exceed the budget; it and
    all after it are dropped (a miner controls its own order). Rows with no completion tokens
    beyond eos still count: they teach "answer nothing", which is the data's effect.
    """
    rows: list[tuple[list[int], int]] = []
    used = truncated = 0
    for i, (prompt, completion) in enumerate(samples):
        ids, n_prompt, cut = encode_pair(tokenizer, prompt, completion, recipe.max_seq_len)
        if used + len(ids) > recipe.token_budget:
            return rows, used, len(samples) - i, truncated
        if n_prompt >= len(ids):  # prompt fills max_seq_len: nothing left to learn from
            truncated += 1
            continue
        rows.append((ids, n_prompt))
        used += len(ids)
        truncated += int(cut)
    return rows, used, 0, truncated


def _batches(n_rows: int, recipe: TrainRecipe) -> list[list[int]]:
    """``recipe.steps`` batches of row indices: seeded epochs of shuffled rows, cycled."""
    rng = random.Random(recipe.seed)
    order: list[int] = []
    need = recipe.steps * recipe.batch_size
    while len(order) < need:
        epoch = list(range(n_rows))
        rng.shuffle(epoch)
        order.extend(epoch)
    return [order[s * recipe.batch_size : (s + 1) * recipe.batch_size] for s in range(recipe.steps)]


def _lora_config(recipe: TrainRecipe) -> LoraConfig:
    return LoraConfig(
        r=recipe.lora_rank,
        lora_alpha=recipe.lora_alpha,
        lora_dropout=recipe.lora_dropout,
        target_modules=list(recipe.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )


@contextmanager
def _deterministic(device: torch.device) -> Iterator[None]:
    """Deterministic kernels on CPU for the duration (CUDA would need a cuBLAS env var)."""
    previous = torch.are_deterministic_algorithms_enabled()
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)


def train_lora(
    base_model: Any,
    tokenizer: TokenizerLike,
    samples: Sequence[tuple[str, str]],
    recipe: TrainRecipe = DEFAULT_RECIPE,
) -> TrainResult:
    """Train a fresh LoRA adapter on ``(prompt_text, completion_text)`` pairs; base frozen.

    Exactly ``recipe.steps`` AdamW steps at constant ``recipe.lr`` on batches of
    ``recipe.batch_size`` rows, loss on completion tokens only. Fewer samples simply means
    fewer distinct tokens (rows repeat); no admitted samples means no steps (adapter stays at
    its zero-effect init). Call ``release`` (or use ``lora_adapter``) when done.
    """
    if isinstance(base_model, PeftModel):
        raise ValueError("base model still wraps an adapter: release() the previous result first")
    t0 = time.perf_counter()
    device = next(base_model.parameters()).device
    rows, used, dropped, truncated = select_rows(tokenizer, samples, recipe)
    with _deterministic(device):
        torch.manual_seed(recipe.seed)
        with _quiet_peft():
            model = get_peft_model(base_model, _lora_config(recipe), adapter_name=ADAPTER_NAME)
        params = [p for p in model.parameters() if p.requires_grad]
        losses = _fit(model, params, rows, tokenizer, recipe)
    return TrainResult(
        model, losses, used, len(rows), dropped, truncated, time.perf_counter() - t0, base_model
    )


@contextmanager
def _quiet_peft() -> Iterator[None]:
    with warnings.catch_warnings():
        # peft 0.21 probes a property transformers 5 deprecated; harmless, and not ours.
        warnings.filterwarnings(
            "ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning
        )
        yield


def _fit(
    model: Any,
    params: list[torch.nn.Parameter],
    rows: list[tuple[list[int], int]],
    tokenizer: TokenizerLike,
    recipe: TrainRecipe,
) -> list[float]:
    """The recipe's steps on ``rows``, updating ``params`` only; the per-step losses."""
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    opt = torch.optim.AdamW(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
    losses: list[float] = []
    model.train()
    for batch in _batches(len(rows), recipe) if rows else []:
        ids, mask, labels = collate([rows[i] for i in batch], pad, mask_prompt=True)
        loss = model(
            input_ids=ids.to(device), attention_mask=mask.to(device), labels=labels.to(device)
        ).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss.item()))
    model.eval()
    return losses


@dataclass
class AdapterTraining:
    """What one adapter of a ``TrainedAdapters`` consumed (``TrainResult``'s fields)."""

    per_step_losses: list[float]
    tokens_used: int
    samples_used: int
    dropped: int
    truncated: int
    train_s: float


@dataclass
class TrainedAdapters:
    """Several adapters, one per name, side by side on one PeftModel over the shared base."""

    model: Any  # the PeftModel wrapping the shared base; no adapter merged
    trained: dict[str, AdapterTraining]  # by adapter name, in training order
    base: Any = field(repr=False)
    released: bool = field(default=False)

    @property
    def names(self) -> list[str]:
        """The adapter names, in training order (what ``evaluate_many`` takes)."""
        return list(self.trained)

    def adapter_state(self, name: str) -> dict[str, torch.Tensor]:
        """A CPU copy of adapter ``name``'s weights, keyed by parameter name."""
        return {k: p.detach().cpu().clone() for k, p in _adapter_params(self.model, name).items()}


def _adapter_params(model: Any, name: str) -> dict[str, torch.nn.Parameter]:
    """Adapter ``name``'s LoRA parameters (``...lora_A.<name>.weight``), by full name."""
    out = {}
    for key, param in model.named_parameters():
        parts = key.split(".")
        if any(a.startswith("lora_") and b == name for a, b in pairwise(parts)):
            out[key] = param
    return out


def _check_names(names: Sequence[str]) -> None:
    if not names:
        raise ValueError("no adapters to train")
    for name in names:
        # PEFT keeps adapters in ModuleDicts (no "." in a key), reserves BASE_ADAPTER, and
        # warns on a name inside its parameter prefix "lora_" (ambiguous when loading).
        if not name or "." in name or name == BASE_ADAPTER or name in "lora_":
            raise ValueError(f"unusable adapter name {name!r}")


def train_loras(
    base_model: Any,
    tokenizer: TokenizerLike,
    samples: Mapping[str, Sequence[tuple[str, str]]],
    recipe: TrainRecipe = DEFAULT_RECIPE,
) -> TrainedAdapters:
    """One fresh adapter per name of ``samples``, each exactly as ``train_lora`` trains it.

    Adapters are trained one after another, each reseeded with ``recipe.seed`` before its
    injection and trained alone, so an adapter does not depend on its neighbours or its
    place in the order. Call ``release`` (or use ``lora_adapters``) when done.
    """
    if isinstance(base_model, PeftModel):
        raise ValueError("base model still wraps an adapter: release() the previous result first")
    _check_names(list(samples))
    device = next(base_model.parameters()).device
    model: Any = None
    trained: dict[str, AdapterTraining] = {}
    try:
        for name, pairs in samples.items():
            t0 = time.perf_counter()
            rows, used, dropped, truncated = select_rows(tokenizer, pairs, recipe)
            with _deterministic(device):
                torch.manual_seed(recipe.seed)
                with _quiet_peft():
                    if model is None:
                        model = get_peft_model(base_model, _lora_config(recipe), adapter_name=name)
                    else:
                        model.add_adapter(name, _lora_config(recipe))
                model.set_adapter(name)  # only this adapter trains and takes part
                params = list(_adapter_params(model, name).values())
                losses = _fit(model, params, rows, tokenizer, recipe)
            trained[name] = AdapterTraining(
                losses, used, len(rows), dropped, truncated, time.perf_counter() - t0
            )
    except BaseException:
        if model is not None:
            release(TrainedAdapters(model, trained, base_model))
        raise
    return TrainedAdapters(model, trained, base_model)


def release(result: TrainResult | TrainedAdapters) -> Any:
    """Remove the adapter(s) and return the bare base model, exactly as it was before training."""
    if not result.released:
        result.model.unload()
        result.released = True
        if hasattr(result.base, "peft_config"):
            del result.base.peft_config  # the next get_peft_model starts clean, without a warning
    return result.base


@contextmanager
def lora_adapter(
    base_model: Any,
    tokenizer: TokenizerLike,
    samples: Sequence[tuple[str, str]],
    recipe: TrainRecipe = DEFAULT_RECIPE,
) -> Iterator[TrainResult]:
    """``train_lora`` as a context: the adapter is released on exit, even on error."""
    result = train_lora(base_model, tokenizer, samples, recipe)
    try:
        yield result
    finally:
        release(result)


@contextmanager
def lora_adapters(
    base_model: Any,
    tokenizer: TokenizerLike,
    samples: Mapping[str, Sequence[tuple[str, str]]],
    recipe: TrainRecipe = DEFAULT_RECIPE,
) -> Iterator[TrainedAdapters]:
    """``train_loras`` as a context: every adapter is released on exit, even on error."""
    result = train_loras(base_model, tokenizer, samples, recipe)
    try:
        yield result
    finally:
        release(result)
