"""Token attribution: how much each prompt token drives the log-probability of a completion.

The target is ``log p(completion | prompt)``, summed over the completion's tokens (and eos), in
the training format (``recipe.format_prompt`` + ``encode_pair``, cut at the recipe's
``max_seq_len``): the quantity LoRA training moves. Each prompt token gets one signed score,
higher = the token supports the completion more; a negative score means the completion is
*more* likely without it. Two methods:

- ``occlusion`` (the default): replace the token by a neutral id (the tokenizer's unk, else
  its pad) and measure the drop, ``score = log p(c | prompt) - log p(c | prompt, token
  occluded)``, in nats. It is what a score claims to be, with no linearisation. Cost: one
  forward pass per prompt token, batched (``batch_size`` rows at a time).
- ``gradient`` (gradient x input): ``score_i = <d log p / d e_i, e_i>``, summed over the
  embedding dim and kept signed: the first-order estimate of the same drop when ``e_i`` goes
  to zero (on the embedded model the pad embedding *is* the zero row, ``padding_idx``, so
  both methods estimate the same quantity). One forward and one backward pass whatever the
  prompt length: for long prompts and large models.

Why occlusion is the default: gradients saturate. Once a model is sure of its answer,
``d log p / d e`` is near zero exactly at the token the answer depends on. On a model trained
to copy one letter of its prompt (tests/validator/attribution/test_methods.py), occlusion ranks
that letter first on 40 of 40 held-out prompts, gradient x input on 15 of 40; after 80
instead of 120 training steps, a less sure model, gradient x input got 24 of 40.

The format's prompt/completion separator (``PROMPT_SUFFIX``) is scored but reported apart
(``separator_score``): it is the position that predicts the first completion token, so
occluding it always costs a lot, and it is the same in every sample (None when a merge takes
it into the prompt's last token, as Qwen2's BPE does after punctuation); ``tokens`` are the
user's prompt only, one string per token, joining back to the prompt exactly as the tokenizer
normalises it (Qwen2's NFC composes a decomposed character; the embedded BPE has no
normaliser), decoded from growing prefixes: a multi-byte character is given to its last byte,
its leading bytes read ``""``. Special tokens inside a prompt (an HF tokenizer's
``<|endoftext|>`` typed as text) are scored and flagged.

Nothing is written to the model: weights are only read; the gradient method asks autograd
for the gradient with respect to the input embeddings alone (``torch.autograd.grad``), so no
``.grad`` is left on any parameter, even on a PeftModel whose adapter weights require grad.
The model's train/eval mode is restored on return.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F

from validator.model.recipe import (
    DEFAULT_RECIPE,
    PROMPT_SUFFIX,
    TokenizerLike,
    encode_pair,
    format_prompt,
)

Method = Literal["occlusion", "gradient"]
METHODS: tuple[Method, ...] = ("occlusion", "gradient")
# 16 occluded copies of a <=256-token row: ~50 MB of attention scores on the tiny model, and
# enough rows per call that a CPU forward pass is not dominated by per-call overhead.
OCCLUSION_BATCH = 16


@dataclass(frozen=True)
class Attribution:
    """Per prompt token (bos excluded): its text, its score, whether it is a special token."""

    tokens: list[str]
    scores: list[float]
    special: list[bool]
    separator_score: float | None  # the format's prompt/completion separator (not in tokens)
    completion_logprob: float  # summed log p(completion tokens + eos | prompt), unoccluded
    completion_tokens: int  # completion tokens scored (eos included), after any cut
    truncated: bool  # the completion was cut to fit max_seq_len
    method: Method

    def pairs(self) -> list[tuple[str, float]]:
        """``[(token, score), ...]`` in prompt order."""
        return list(zip(self.tokens, self.scores, strict=True))


def decode_pieces(tokenizer: TokenizerLike, ids: Sequence[int]) -> list[str]:
    """One string per id that joins back to ``decode(ids)``, from growing-prefix decodes.

    A prefix that ends inside a multi-byte character decodes to U+FFFD; such a token's
    piece stays ``""`` until the character completes, and the whole character goes to the
    token that completes it. If a tokenizer's decode is not prefix-stable (some clean up
    spaces), the token falls back to its own decode.
    """
    pieces: list[str] = []
    done = ""
    for i in range(len(ids)):
        text = tokenizer.decode(list(ids[: i + 1]), skip_special_tokens=False)
        if text.startswith(done) and not text.endswith("\ufffd"):
            pieces.append(text[len(done) :])
            done = text
        elif text.startswith(done):
            pieces.append("")  # an unfinished character: wait for its last byte
        else:
            pieces.append(tokenizer.decode([ids[i]], skip_special_tokens=False))
            done = text
    whole = tokenizer.decode(list(ids), skip_special_tokens=False)
    if pieces and whole.startswith(done) and whole != done:
        pieces[-1] += whole[len(done) :]  # text still pending at the end goes to the last token
    return pieces


def _special_ids(tokenizer: Any) -> set[int]:
    ids = set(getattr(tokenizer, "all_special_ids", None) or ())
    for name in ("pad_token_id", "bos_token_id", "eos_token_id", "unk_token_id"):
        value = getattr(tokenizer, name, None)
        if isinstance(value, int):
            ids.add(value)
    return ids


def occlusion_id(tokenizer: Any) -> int:
    """The id an occluded token is replaced by: unk, else pad, else 0.

    The byte tokenizer has no unk; its pad's embedding is the zero row (``padding_idx``), the
    neutral baseline. HF byte-level BPE tokenizers mostly lack unk too, and ``load_base`` gives
    them eos as pad: a token the model has seen often, and never a hint about the answer.
    """
    for name in ("unk_token_id", "pad_token_id"):
        value = getattr(tokenizer, name, None)
        if isinstance(value, int):
            return value
    return 0


@contextmanager
def _eval_mode(model: Any) -> Iterator[None]:
    was_training = bool(model.training)
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _completion_logprob(logits: torch.Tensor, ids: torch.Tensor, n_prompt: int) -> torch.Tensor:
    """Per row, the summed log-prob of tokens ``n_prompt..`` given the ones before them."""
    span = logits[:, n_prompt - 1 : -1]
    logp = F.log_softmax(span if span.dtype == torch.float64 else span.float(), dim=-1)
    targets = ids[:, n_prompt:].unsqueeze(-1)
    return logp.gather(-1, targets).squeeze(-1).sum(-1)


@torch.no_grad()
def _occlusion(
    model: Any, ids: torch.Tensor, n_prompt: int, baseline: int, batch_size: int
) -> tuple[list[float], float]:
    """``(drops, original)``: row 0 is the prompt as is, row i has prompt token i occluded."""
    rows = ids.repeat(n_prompt, 1)  # n_prompt rows: row 0 unoccluded (it keeps bos)
    positions = torch.arange(1, n_prompt, device=ids.device)
    rows[positions, positions] = baseline
    mask = torch.ones_like(rows)
    out: list[torch.Tensor] = []
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        logits = model(input_ids=chunk, attention_mask=mask[: len(chunk)]).logits
        out.append(_completion_logprob(logits, chunk, n_prompt).cpu())
    logprobs = torch.cat(out)
    original = float(logprobs[0])
    return [original - float(x) for x in logprobs[1:]], original


def _gradient(model: Any, ids: torch.Tensor, n_prompt: int) -> tuple[list[float], float]:
    """``(grad x input per prompt token, original)`` from one forward and one backward pass."""
    with torch.enable_grad():
        embeds = model.get_input_embeddings()(ids).detach().requires_grad_(True)
        logits = model(inputs_embeds=embeds, attention_mask=torch.ones_like(ids)).logits
        total = _completion_logprob(logits, ids, n_prompt).sum()
        (grad,) = torch.autograd.grad(total, embeds)
    wide = torch.promote_types(grad.dtype, torch.float32)  # bf16 products summed in fp32
    per_token = (grad.to(wide) * embeds.detach().to(wide)).sum(-1)[0, 1:n_prompt]
    return [float(x) for x in per_token.cpu()], float(total.detach())


def attribute(
    model: Any,
    tokenizer: TokenizerLike,
    prompt: str,
    completion: str,
    method: Method = "occlusion",
    max_seq_len: int = DEFAULT_RECIPE.max_seq_len,
    batch_size: int = OCCLUSION_BATCH,
    occlusion_budget: int | None = None,
) -> Attribution:
    """Attribution of ``log p(completion | prompt)`` to each token of ``format_prompt(prompt)``.

    ``prompt`` is the raw prompt (the training format's separator is appended here; its score
    is ``separator_score``, not in ``tokens``); ``completion`` is the completion text as trained on (for a CoT sample,
    ``format_completion(cot, answer)``); eos is appended as in training. A sequence longer than
    ``max_seq_len`` keeps its head, like training: the completion is cut, never the prompt.
    Raises ``ValueError`` when the prompt alone leaves no room for one completion token, or for
    an unknown method; ``FloatingPointError`` when the model yields a non-finite score.

    ``occlusion_budget`` bounds occlusion's cost in token positions (one row of the sequence
    length per prompt token); above it the gradient method is used instead, and the result's
    ``method`` says so. None: no bound.
    """
    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; one of {METHODS}")
    prompt_text = format_prompt(prompt)
    full, n_prompt, _ = encode_pair(tokenizer, prompt_text, completion, 10**9)
    if tokenizer.bos_token_id is None:  # prepend eos (or pad) so token 1 has a context too
        lead = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
        full, n_prompt = [lead, *full], n_prompt + 1
    if n_prompt >= max_seq_len:
        raise ValueError(f"prompt is {n_prompt} tokens; at most {max_seq_len - 1} leave room")
    kept = full[:max_seq_len]
    truncated = len(full) > max_seq_len
    prompt_ids = kept[1:n_prompt]
    device = next(model.parameters()).device
    ids = torch.tensor([kept], dtype=torch.long, device=device)
    with _eval_mode(model):
        if len(kept) == n_prompt:  # no completion token at all (no eos and empty text)
            scores, original = [0.0] * len(prompt_ids), 0.0
        elif method == "occlusion" and (
            occlusion_budget is None or n_prompt * len(kept) <= occlusion_budget
        ):
            baseline = occlusion_id(tokenizer)
            scores, original = _occlusion(model, ids, n_prompt, baseline, batch_size)
        else:
            method = "gradient"
            scores, original = _gradient(model, ids, n_prompt)
    if not all(math.isfinite(s) for s in scores) or not math.isfinite(original):
        raise FloatingPointError("the model produced a non-finite log-probability")
    tokens = decode_pieces(tokenizer, prompt_ids)
    specials = _special_ids(tokenizer)
    special = [i in specials for i in prompt_ids]
    separator = None
    if tokens and tokens[-1] == PROMPT_SUFFIX:  # the format's own token: not the user's prompt
        separator = scores[-1]
        tokens, scores, special = tokens[:-1], scores[:-1], special[:-1]
    elif tokens and tokens[-1].endswith(PROMPT_SUFFIX):  # a BPE merge took the separator in
        tokens[-1] = tokens[-1][: -len(PROMPT_SUFFIX)]
    return Attribution(
        tokens=tokens,
        scores=scores,
        special=special,
        separator_score=separator,
        completion_logprob=original,
        completion_tokens=len(kept) - n_prompt,
        truncated=truncated,
        method=method,
    )


def token_attribution(
    model: Any,
    tokenizer: TokenizerLike,
    prompt: str,
    completion: str,
    method: Method = "occlusion",
    max_seq_len: int = DEFAULT_RECIPE.max_seq_len,
) -> list[tuple[str, float]]:
    """``[(token, score), ...]`` for the tokens of ``format_prompt(prompt)``, bos skipped.

    See ``attribute`` (and the module docstring for the two methods and the sign).
    """
    return attribute(model, tokenizer, prompt, completion, method, max_seq_len).pairs()
