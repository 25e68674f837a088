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

Many miners at once (``evaluate_many``): one ``PeftModel`` holds several trained adapters
(``validator/model/train.py``, ``lora_adapters``) and every pass carries all of them, PEFT's
mixed-batch inference routing each row through its own adapter (``adapter_names``, one per
row; ``"__base__"`` rows see no adapter). Per chunk of items the batch is the one-at-a-time
batch repeated once per adapter, so each adapter's rows are exactly the rows, padding and
width its own ``evaluate`` would see, and PEFT computes each adapter's LoRA term on exactly
that sub-batch; the rest of the model runs over the taller batch, the same math row by row.
The width is what matters: on CPU float32 a row's losses move in the last bits (~3e-5) when
its batch is padded to another width, and not at all when only the row count changes (more
rows, fewer rows, rows of other adapters interleaved), because the CPU GEMM reduces each
output row in the same order whatever the row count - from 16 rows of the flattened matmul
up. Below that (a chunk of a few short guard texts; a decode step, one row per sequence, of
a last chunk of a few items) MKL takes another kernel and a row's bits depend on its
neighbours, so such a chunk runs one pass per adapter, each the shape of its own
(``SHARED_PASS_MIN_ROWS``). So on CPU every number of ``evaluate_many`` equals the
one-at-a-time evaluation of the unmerged ``PeftModel`` bit for bit (asserted in
tests/validator/model/test_evaluate.py; measured at 1 and 2 threads). That is a property of
the backend, not a guarantee: a GEMM that picks its kernel or splits its
reduction by row count (GPU libraries may; not measured here) moves the last bits, and the
numbers are then equal to float tolerance; greedy generations stay identical unless two
tokens tie to within those bits. A merged copy (``TrainResult.eval_model``) differs from
both anyway (``W + BA`` is rounded once, ``Wx + B(Ax)`` twice): up to ~3e-4 on a loss or
margin in bench/bench_batched_eval.py, generations identical there.

Shared passes do not pay on CPU (bench/bench_batched_eval.py, the embedded base, 1 thread,
8 adapters per pass: x0.9-1.1 the throughput of one at a time unmerged, x0.6-0.8 of a merged
copy per miner). The teacher-forced passes are compute-bound at 32 rows already, and in
generation PEFT's routing (per LoRA layer and adapter: an index list, a gather, two small
matmuls, a scatter) costs more per decode step than the taller batch saves. The shared pass
is meant for an accelerator, where a 32-row pass is latency-bound (not measured here).
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
# PEFT's reserved adapter name for rows that see no adapter (peft/tuners/lora/layer.py,
# ``_mixed_batch_forward``): in ``evaluate_many`` it measures the base in the same pass.
BASE_ADAPTER = "__base__"
# The fewest rows a linear layer's input (tokens of the pass: rows x width; rows alone in a
# decode step) may have for its chunk to share a pass with other adapters. Below it the CPU
# GEMM (MKL, this torch build) takes another kernel and a row's output moves in the last bits
# with the number of rows beside it: measured on F.linear with K 128-4096, N 64-2048, a row's
# output differs when its matrix is repeated 2-8 times at 1-15 rows (1-5 at K=128) and never
# from 16 rows up. A shorter chunk (a few short guard texts, a last chunk of a few items) runs
# one pass per adapter, each the shape of its own one-at-a-time pass.
SHARED_PASS_MIN_ROWS = 16


def _chunks(n: int, size: int) -> Iterator[range]:
    for start in range(0, n, size):
        yield range(start, min(n, start + size))


def _device(model: Any) -> torch.device:
    return next(model.parameters()).device


def _copies(adapters: Sequence[str] | None) -> int:
    """How many times each row is laid out: once per adapter, once for the model as it is."""
    return 1 if adapters is None else len(adapters)


def _mixed(adapters: Sequence[str] | None, n_rows: int) -> dict[str, Any]:
    """PEFT's per-row ``adapter_names`` for ``n_rows`` rows repeated once per adapter."""
    if adapters is None:
        return {}
    return {"adapter_names": [name for name in adapters for _ in range(n_rows)]}


def _passes(adapters: Sequence[str] | None, matmul_rows: int) -> list[tuple[int, list[str] | None]]:
    """``(first output index, adapters)`` of each pass a chunk takes.

    One shared pass, or one pass per adapter where a pass alone would have fewer than
    ``SHARED_PASS_MIN_ROWS`` matmul rows.
    """
    if adapters is None:
        return [(0, None)]
    if matmul_rows >= SHARED_PASS_MIN_ROWS:
        return [(0, list(adapters))]
    return [(k, [name]) for k, name in enumerate(adapters)]


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
    return _generate(model, tokenizer, prompts, max_new_tokens, batch_size, None)[0]


@torch.no_grad()
def _generate(
    model: Any,
    tokenizer: TokenizerLike,
    prompts: Sequence[str],
    max_new_tokens: int,
    batch_size: int,
    adapters: Sequence[str] | None,
) -> list[list[str]]:
    """``forward_pass`` per adapter (one list for ``adapters=None``: the model as it is).

    Each chunk's left-padded rows are repeated once per adapter in one ``generate`` call (one
    call per adapter for a chunk under ``SHARED_PASS_MIN_ROWS`` rows): an adapter's rows are
    exactly the batch ``forward_pass`` would give it alone. The call runs
    until every row of every adapter has stopped; a row that stopped early only takes pads.
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
    out: list[list[str]] = [[] for _ in range(_copies(adapters))]
    for chunk in _chunks(len(prompts), batch_size):
        rows = [head + tokenizer.encode(prompts[i], add_special_tokens=False) for i in chunk]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, row in enumerate(rows):
            ids[r, width - len(row) :] = torch.tensor(row, dtype=torch.long)
            mask[r, width - len(row) :] = 1
        dev = _device(model)
        # A decode step's matmuls have one row per sequence: the chunk's row count decides.
        for first, names in _passes(adapters, len(rows)):
            copies = _copies(names)
            gen = model.generate(
                input_ids=ids.repeat(copies, 1).to(dev),
                attention_mask=mask.repeat(copies, 1).to(dev),
                generation_config=config,
                **_mixed(names, len(rows)),
            )
            for k, row in enumerate(gen[:, width:].tolist()):
                if tokenizer.eos_token_id in row:
                    row = row[: row.index(tokenizer.eos_token_id)]
                out[first + k // len(rows)].append(tokenizer.decode(row, skip_special_tokens=True))
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
    return _token_losses(model, tokenizer, pairs, max_seq_len, batch_size, None)[0]


@torch.no_grad()
def _token_losses(
    model: Any,
    tokenizer: TokenizerLike,
    pairs: Sequence[tuple[str, str]],
    max_seq_len: int,
    batch_size: int,
    adapters: Sequence[str] | None,
) -> list[list[torch.Tensor]]:
    """``_completion_token_losses`` per adapter (one list for ``adapters=None``).

    Each chunk's right-padded rows are repeated once per adapter in one forward pass (one pass
    per adapter for a chunk under ``SHARED_PASS_MIN_ROWS`` tokens), so an adapter's rows carry
    the padding and width of its own one-at-a-time batch.
    """
    was_training = model.training
    model.eval()
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    out: list[list[torch.Tensor]] = [[] for _ in range(_copies(adapters))]
    for chunk in _chunks(len(pairs), batch_size):
        rows = [encode_pair(tokenizer, *pairs[i], max_seq_len)[:2] for i in chunk]
        ids, mask, labels = collate(rows, pad, mask_prompt=True)
        dev = _device(model)
        for first, names in _passes(adapters, ids.numel()):
            copies = _copies(names)
            logits = (
                model(
                    input_ids=ids.repeat(copies, 1).to(dev),
                    attention_mask=mask.repeat(copies, 1).to(dev),
                    **_mixed(names, len(rows)),
                )
                .logits.float()
                .cpu()
            )
            targets = labels[:, 1:].repeat(copies, 1)
            nll = F.cross_entropy(
                logits[:, :-1].transpose(1, 2), targets, ignore_index=IGNORE_INDEX, reduction="none"
            )
            for k in range(copies):
                for r, (row_ids, n_prompt) in enumerate(rows):
                    # Position i predicts token i + 1. A row with neither bos nor prompt (a
                    # guard text under a tokenizer without bos, as Qwen2's) cannot score its
                    # first token.
                    start = max(n_prompt, 1) - 1
                    out[first + k].append(nll[k * len(rows) + r, start : len(row_ids) - 1].clone())
    model.train(was_training)
    return out


def answer_spans(completion: str, answer: str) -> list[tuple[int, int]]:
    """Where ``answer`` occurs in ``completion`` as a whole: ``(start, end)`` character spans.

    An occurrence glued to a letter or digit on an alphanumeric edge of the answer is part of
    another token of the text, not the answer: "9" in "79", "12" in "128". (Measured on the
    landed suites: no item of 20 registry sets and 10 reasoning-gym sets of 64 has such an
    occurrence, so the eval's numbers are unchanged; ``tests/validator/model/test_evaluate.py``
    keeps that checked.)
    """
    spans: list[tuple[int, int]] = []
    at = completion.find(answer)
    while at >= 0:
        end = at + len(answer)
        glued_before = answer[0].isalnum() and at > 0 and completion[at - 1].isalnum()
        glued_after = answer[-1].isalnum() and end < len(completion) and completion[end].isalnum()
        if glued_before or glued_after:
            at = completion.find(answer, at + 1)
            continue
        spans.append((at, end))
        at = completion.find(answer, end)
    return spans


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
    spans = answer_spans(completion, answer)
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
    return _evaluate(
        model,
        tokenizer,
        eval_items,
        general_texts,
        max_new_tokens,
        max_seq_len,
        batch_size,
        generate,
        None,
    )[0]


def evaluate_many(
    model: Any,
    tokenizer: TokenizerLike,
    adapters: Sequence[str],
    eval_items: Sequence[TaskItem],
    general_texts: Sequence[str] = (),
    max_new_tokens: int = MAX_NEW_TOKENS,
    max_seq_len: int = DEFAULT_RECIPE.max_seq_len,
    batch_size: int = BATCH_SIZE,
    generate: bool = True,
) -> dict[str, EvalResult]:
    """``evaluate`` of each named adapter of the ``PeftModel`` ``model``, in shared passes.

    ``adapters`` names adapters loaded on ``model`` (``BASE_ADAPTER`` for the base itself);
    which adapter is active does not matter, and none may be merged. Every pass carries
    ``batch_size`` items for each adapter, so a pass holds ``len(adapters) * batch_size``
    rows: the caller bounds memory by how many adapters it names (the teacher-forced pass
    keeps rows x tokens x vocab logits). Each result equals ``evaluate`` of ``model`` with
    that adapter alone active (the module docstring says to which bits), in the given order.
    """
    if not adapters:
        raise ValueError("no adapters to evaluate")
    if len(set(adapters)) != len(adapters):
        raise ValueError(f"adapter named twice: {list(adapters)}")
    results = _evaluate(
        model,
        tokenizer,
        eval_items,
        general_texts,
        max_new_tokens,
        max_seq_len,
        batch_size,
        generate,
        adapters,
    )
    return dict(zip(adapters, results, strict=True))


def _evaluate(
    model: Any,
    tokenizer: TokenizerLike,
    eval_items: Sequence[TaskItem],
    general_texts: Sequence[str],
    max_new_tokens: int,
    max_seq_len: int,
    batch_size: int,
    generate: bool,
    adapters: Sequence[str] | None,
) -> list[EvalResult]:
    """``evaluate`` per adapter (one result for ``adapters=None``), every pass shared."""
    prompts = [format_prompt(it.prompt) for it in eval_items]
    completions = [format_completion(it.chain_of_thought, it.final_answer) for it in eval_items]
    token_losses = _token_losses(
        model,
        tokenizer,
        list(zip(prompts, completions, strict=True)),
        max_seq_len,
        batch_size,
        adapters,
    )
    occurrences = [  # tokenized once, shared by every adapter
        _answer_positions(tokenizer, c, it.final_answer)
        for c, it in zip(completions, eval_items, strict=True)
    ]
    generated = (
        _generate(model, tokenizer, prompts, max_new_tokens, batch_size, adapters)
        if generate
        else [[""] * len(prompts) for _ in range(_copies(adapters))]
    )
    near_miss_nll = _near_miss_nll(model, tokenizer, eval_items, max_seq_len, batch_size, adapters)
    general = (
        _token_losses(
            model, tokenizer, [("", t) for t in general_texts], max_seq_len, batch_size, adapters
        )
        if general_texts
        else [[] for _ in range(_copies(adapters))]
    )
    return [
        _result(eval_items, losses, occurrences, gen, misses, guard)
        for losses, gen, misses, guard in zip(
            token_losses, generated, near_miss_nll, general, strict=True
        )
    ]


def _result(
    eval_items: Sequence[TaskItem],
    token_losses: list[torch.Tensor],
    occurrences: list[list[list[int]]],
    generated: list[str],
    near_miss_nll: list[float],
    general: list[torch.Tensor],
) -> EvalResult:
    """One model's ``EvalResult`` from its per-token losses and generations."""
    answers = [extract_answer(g) for g in generated]
    refs = [it.final_answer for it in eval_items]
    return EvalResult(
        families=[it.family for it in eval_items],
        completion_loss=[float(t.mean()) for t in token_losses],
        answer_loss=[
            _answer_spans_mean(t, o, last_only=False)
            for t, o in zip(token_losses, occurrences, strict=True)
        ],
        final_answer_loss=[
            _answer_spans_mean(t, o, last_only=True)
            for t, o in zip(token_losses, occurrences, strict=True)
        ],
        correct=[int(bool(a) and verify(a, r)) for a, r in zip(answers, refs, strict=True)],
        generated=generated,
        answers=answers,
        references=refs,
        general_loss=[float(t.mean()) for t in general],
        contrast_margin=_margins(eval_items, [float(t.sum()) for t in token_losses], near_miss_nll),
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
    nll = _near_miss_nll(model, tokenizer, eval_items, max_seq_len, batch_size, None)[0]
    return _margins(eval_items, reference_nll, nll)


def _near_miss_nll(
    model: Any,
    tokenizer: TokenizerLike,
    eval_items: Sequence[TaskItem],
    max_seq_len: int,
    batch_size: int,
    adapters: Sequence[str] | None,
) -> list[list[float]]:
    """Per adapter, the summed NLL of every item's near misses, items in order."""
    pairs = [
        (format_prompt(it.prompt), format_completion(cot, answer))
        for it in eval_items
        for cot, answer in it.near_misses
    ]
    per_adapter = _token_losses(model, tokenizer, pairs, max_seq_len, batch_size, adapters)
    return [[float(t.sum()) for t in losses] for losses in per_adapter]


def _margins(
    eval_items: Sequence[TaskItem], reference_nll: Sequence[float], nll: Sequence[float]
) -> list[float]:
    """Per item, the contrast margin from the reference's and the near misses' summed NLLs."""
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
