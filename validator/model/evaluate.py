"""The forward pass: held-out losses and greedy generations, per item, base or tuned alike.

Everything here is measurement only: ``torch.no_grad``, eval mode, greedy decoding, fixed batch
layout (items batched in the order given), so the same model and items give the same arrays.
Base and tuned models are evaluated with identical layouts, so per-item deltas are paired.

Per eval item the validator records:

- ``completion_loss``: mean NLL over the reference completion (CoT + answer + eos).
- ``answer_loss``: mean NLL over the tokens that state the answer: every occurrence of the
  final answer in the reference completion (the CoT's last step and the ``Answer:`` line).
  DESIGN.md measured that whole-completion loss cannot tell wrong-answer data from right
  (they share the format); answer tokens can. Occurrences inside the CoT count because
  wrong-answer data is self-consistent: its CoT states the wrong result and the ``Answer:``
  line copies it, so the copy alone carries no signal, the stated result does.
- ``final_answer_loss``: the ``Answer:`` line's tokens only (reported for comparison).
- ``correct``: 1 when the answer extracted from the model's own greedy generation verifies.
- ``contrast_margin``: how much more likely the model finds the reference solution than the
  item's near misses (``TaskItem.near_misses``: wrong solutions of the same shape, a swap, a
  missed update, a lost carry): ``log p(reference) - log sum_j p(near miss j)``, each the
  summed log-probability of a whole completion. Format, length and phrasing are shared by
  every candidate, so they cancel: the margin moves only with what the model believes about
  the content (the contrast-set idea; lm-evaluation-harness scores multiple choice the same
  way). NaN for an item without near misses.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from transformers import GenerationConfig

from tasks.families import TaskItem, verify
from validator.model.recipe import (
    ANSWER_MARKER,
    DEFAULT_RECIPE,
    IGNORE_INDEX,
    TokenizerLike,
    collate,
    encode_pair,
    format_completion,
    format_prompt,
)

# The longest reference completion of the task families is 45 tokens of the embedded BPE
# (a 7-number reversal, reasoning and answer); 96 new tokens let a model finish a reasoning
# twice that long plus eos, and bound a rambler (a tuned model that never stops costs every
# row of its batch the full budget).
MAX_NEW_TOKENS = 96
BATCH_SIZE = 32  # 32 rows of <=256 tokens: fast on CPU, small on any GPU


def _chunks(n: int, size: int) -> Iterator[range]:
    for start in range(0, n, size):
        yield range(start, min(n, start + size))


def _device(model: Any) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def forward_pass(
    model: Any,
    tokenizer: TokenizerLike,
    prompts: Sequence[str],
    max_new_tokens: int = MAX_NEW_TOKENS,
    batch_size: int = BATCH_SIZE,
) -> list[str]:
    """Greedy completions of ``prompts`` (already formatted prompt texts), one string each.

    Prompts are left-padded in batches (generation appends on the right), decoding stops at
    eos, and only the new tokens are decoded.
    """
    was_training = model.training
    model.eval()
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    head = [] if tokenizer.bos_token_id is None else [tokenizer.bos_token_id]
    config = GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=False,
        # Set, not left to defaults: generate() fills an unset field from the checkpoint's
        # generation_config.json (an instruct model ships repetition_penalty=1.1, say).
        num_beams=1,
        repetition_penalty=1.0,
        no_repeat_ngram_size=0,
        pad_token_id=pad,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    out: list[str] = []
    for chunk in _chunks(len(prompts), batch_size):
        rows = [head + tokenizer.encode(prompts[i], add_special_tokens=False) for i in chunk]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, row in enumerate(rows):
            ids[r, width - len(row) :] = torch.tensor(row, dtype=torch.long)
            mask[r, width - len(row) :] = 1
        dev = _device(model)
        gen = model.generate(
            input_ids=ids.to(dev), attention_mask=mask.to(dev), generation_config=config
        )
        for row in gen[:, width:].tolist():
            if tokenizer.eos_token_id in row:
                row = row[: row.index(tokenizer.eos_token_id)]
            out.append(tokenizer.decode(row, skip_special_tokens=True))
    model.train(was_training)
    return out


def extract_answer(generated: str) -> str:
    """The text after the last ``Answer:`` up to the end of that line, stripped ("" if none)."""
    marker = ANSWER_MARKER.strip()
    at = generated.rfind(marker)
    if at < 0:
        return ""
    return generated[at + len(marker) :].split("\n", 1)[0].strip()


@torch.no_grad()
def _completion_token_losses(
    model: Any,
    tokenizer: TokenizerLike,
    pairs: Sequence[tuple[str, str]],
    max_seq_len: int,
    batch_size: int,
) -> list[torch.Tensor]:
    """Per item, the NLL of each completion token (incl. eos), as a float32 CPU tensor."""
    was_training = model.training
    model.eval()
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    out: list[torch.Tensor] = []
    for chunk in _chunks(len(pairs), batch_size):
        rows = [encode_pair(tokenizer, *pairs[i], max_seq_len)[:2] for i in chunk]
        ids, mask, labels = collate(rows, pad, mask_prompt=True)
        dev = _device(model)
        logits = model(input_ids=ids.to(dev), attention_mask=mask.to(dev)).logits.float().cpu()
        targets = labels[:, 1:]
        nll = F.cross_entropy(
            logits[:, :-1].transpose(1, 2), targets, ignore_index=IGNORE_INDEX, reduction="none"
        )
        for r, (row_ids, n_prompt) in enumerate(rows):
            # Position i predicts token i + 1. A row with neither bos nor prompt (a guard text
            # under a tokenizer without bos, as Qwen2's) cannot score its first token.
            out.append(nll[r, max(n_prompt, 1) - 1 : len(row_ids) - 1].clone())
    model.train(was_training)
    return out


def _answer_positions(tokenizer: TokenizerLike, completion: str, answer: str) -> list[list[int]]:
    """Per occurrence of the answer in ``completion``, the token positions it covers.

    A token counts when its characters overlap an occurrence, by the tokenizer's offset
    mapping (every fast Hugging Face tokenizer, the embedded BPE included: a merge such as
    " 30" straddles the answer's boundary, so prefix token counts would miss it). A tokenizer
    without offsets falls back to token counts of prefixes, exact for one token per byte.
    The last occurrence is the ``Answer:`` line.
    """
    if not answer:
        return []
    spans: list[tuple[int, int]] = []
    at = completion.find(answer)
    while at >= 0:
        spans.append((at, at + len(answer)))
        at = completion.find(answer, at + len(answer))
    offsets = _offsets(tokenizer, completion) if spans else None
    out: list[list[int]] = []
    for lo, hi in spans:
        if offsets is not None:
            out.append([i for i, (a, b) in enumerate(offsets) if a < hi and b > lo])
            continue
        first = len(tokenizer.encode(completion[:lo], add_special_tokens=False))
        last = len(tokenizer.encode(completion[:hi], add_special_tokens=False))
        out.append(list(range(first, max(last, first + 1))))
    return out


def _answer_spans_mean(
    losses: torch.Tensor, occurrences: list[list[int]], last_only: bool
) -> float:
    """Mean loss over every occurrence's tokens, or only the last occurrence's."""
    chosen = occurrences[-1:] if last_only else occurrences
    return _span_mean(losses, [p for occurrence in chosen for p in occurrence])


def _offsets(tokenizer: TokenizerLike, text: str) -> list[tuple[int, int]] | None:
    """Character span of each token of ``text`` (as ``encode_pair`` encodes it), if known."""
    if not getattr(tokenizer, "is_fast", False):
        return None
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)  # type: ignore[operator]
    return [(int(a), int(b)) for a, b in enc["offset_mapping"]]


def _span_mean(losses: torch.Tensor, positions: list[int]) -> float:
    kept = [p for p in positions if p < len(losses)]
    return float(losses[kept].mean()) if kept else float("nan")


def completion_losses(
    model: Any,
    tokenizer: TokenizerLike,
    pairs: Sequence[tuple[str, str]],
    max_seq_len: int = DEFAULT_RECIPE.max_seq_len,
    batch_size: int = BATCH_SIZE,
) -> list[float]:
    """Per ``(prompt_text, completion_text)``, the mean NLL over completion tokens and eos."""
    return [
        float(t.mean())
        for t in _completion_token_losses(model, tokenizer, pairs, max_seq_len, batch_size)
    ]


def answer_losses(
    model: Any,
    tokenizer: TokenizerLike,
    items: Sequence[tuple[str, str, str]],
    last_only: bool = False,
    max_seq_len: int = DEFAULT_RECIPE.max_seq_len,
    batch_size: int = BATCH_SIZE,
) -> list[float]:
    """Per ``(prompt_text, completion_text, answer)``, the mean NLL over the answer's tokens.

    All occurrences of ``answer`` in the completion count (``last_only``: just the last one,
    the ``Answer:`` line). NaN when the answer never occurs (not the case for eval items).
    """
    token_losses = _completion_token_losses(
        model, tokenizer, [(p, c) for p, c, _ in items], max_seq_len, batch_size
    )
    return [
        _answer_spans_mean(t, _answer_positions(tokenizer, c, a), last_only)
        for t, (_, c, a) in zip(token_losses, items, strict=True)
    ]


@torch.no_grad()
def text_loss(
    model: Any,
    tokenizer: TokenizerLike,
    texts: Sequence[str],
    max_seq_len: int = DEFAULT_RECIPE.max_seq_len,
    batch_size: int = BATCH_SIZE,
) -> list[float]:
    """Per text, the mean NLL of the whole text (after bos): the do-no-harm guard's measure."""
    return completion_losses(model, tokenizer, [("", t) for t in texts], max_seq_len, batch_size)


@dataclass(frozen=True)
class EvalResult:
    """Per-item arrays from one model on one eval set (index i is eval item i everywhere)."""

    families: list[str]
    completion_loss: list[float]
    answer_loss: list[float]
    final_answer_loss: list[float]
    correct: list[int]  # 1 when the extracted generated answer verifies against the reference
    generated: list[str]  # full greedy generations (for ROUGE-L against reference completions)
    answers: list[str]  # extracted from ``generated``
    references: list[str]  # reference final answers
    general_loss: list[float]  # per guard text
    contrast_margin: list[float]  # log p(reference) - log sum p(near misses); NaN without any

    def accuracy(self) -> float:
        """Fraction of items answered correctly."""
        return sum(self.correct) / len(self.correct) if self.correct else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready per-item arrays."""
        return asdict(self)


def evaluate(
    model: Any,
    tokenizer: TokenizerLike,
    eval_items: Sequence[TaskItem],
    general_texts: Sequence[str] = (),
    max_new_tokens: int = MAX_NEW_TOKENS,
    max_seq_len: int = DEFAULT_RECIPE.max_seq_len,
    batch_size: int = BATCH_SIZE,
    generate: bool = True,
) -> EvalResult:
    """Losses, generations and verified correctness of ``model`` on ``eval_items``.

    One teacher-forced pass gives both completion and answer losses; one greedy generation
    pass gives the answers (skipped with ``generate=False``, leaving ``correct`` all 0).
    """
    prompts = [format_prompt(it.prompt) for it in eval_items]
    completions = [format_completion(it.chain_of_thought, it.final_answer) for it in eval_items]
    token_losses = _completion_token_losses(
        model, tokenizer, list(zip(prompts, completions, strict=True)), max_seq_len, batch_size
    )
    answer_loss, final_loss = [], []
    for t, c, it in zip(token_losses, completions, eval_items, strict=True):
        occurrences = _answer_positions(tokenizer, c, it.final_answer)  # tokenized once
        answer_loss.append(_answer_spans_mean(t, occurrences, last_only=False))
        final_loss.append(_answer_spans_mean(t, occurrences, last_only=True))
    generated = (
        forward_pass(model, tokenizer, prompts, max_new_tokens, batch_size)
        if generate
        else [""] * len(prompts)
    )
    answers = [extract_answer(g) for g in generated]
    refs = [it.final_answer for it in eval_items]
    margins = contrast_margins(
        model,
        tokenizer,
        eval_items,
        [float(t.sum()) for t in token_losses],
        max_seq_len,
        batch_size,
    )
    return EvalResult(
        families=[it.family for it in eval_items],
        completion_loss=[float(t.mean()) for t in token_losses],
        answer_loss=answer_loss,
        final_answer_loss=final_loss,
        correct=[int(bool(a) and verify(a, r)) for a, r in zip(answers, refs, strict=True)],
        generated=generated,
        answers=answers,
        references=refs,
        general_loss=text_loss(model, tokenizer, general_texts, max_seq_len, batch_size)
        if general_texts
        else [],
        contrast_margin=margins,
    )


def contrast_margins(
    model: Any,
    tokenizer: TokenizerLike,
    eval_items: Sequence[TaskItem],
    reference_nll: Sequence[float],
    max_seq_len: int = DEFAULT_RECIPE.max_seq_len,
    batch_size: int = BATCH_SIZE,
) -> list[float]:
    """Per item, ``log p(reference) - logsumexp_j log p(near miss j)`` (module docstring).

    ``reference_nll`` is each reference completion's summed NLL (already computed by the
    caller's teacher-forced pass); the near misses of every item go through one batched pass.
    """
    pairs = [
        (format_prompt(it.prompt), format_completion(cot, answer))
        for it in eval_items
        for cot, answer in it.near_misses
    ]
    nll = [
        float(t.sum())
        for t in _completion_token_losses(model, tokenizer, pairs, max_seq_len, batch_size)
    ]
    out: list[float] = []
    at = 0
    for it, ref in zip(eval_items, reference_nll, strict=True):
        k = len(it.near_misses)
        if k == 0:
            out.append(float("nan"))
            continue
        misses = torch.tensor([-v for v in nll[at : at + k]], dtype=torch.float64)
        out.append(-ref - float(torch.logsumexp(misses, 0)))
        at += k
    return out
