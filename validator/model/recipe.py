r"""The fixed training recipe and the one text format shared by training and evaluation.

The DataComp rule: the recipe is the constant and the data is the only variable. Every miner's
data is trained with the same ``TrainRecipe`` (seed, token budget, steps, learning rate, LoRA
shape), so two miners' scores differ only because their samples differ. Any change to a field
or to the formatting below changes what a score means, so it must bump ``RECIPE_VERSION``.

Format (identical for miner samples and for eval items)::

    prompt_text     = prompt + "\n"
    completion_text = chain_of_thought + "\nAnswer: " + final_answer
    tokens          = [bos] + enc(prompt_text) + enc(completion_text) + [eos]

The loss is taken on completion tokens and the eos only; prompt tokens are labelled -100.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol

import torch

# Bump on any change to the recipe defaults, the formatting or the loss masking below.
# /2: token budget 4096 (the embedded base's BPE), 16 steps (measured on its base, below).
# /3: 16 rows a step (from 8): the honest miner's score steadier over rounds (below).
RECIPE_VERSION = "cot-sft-lora/3"

PROMPT_SUFFIX = "\n"  # one newline ends the prompt: a byte-cheap, tokenizer-neutral separator
ANSWER_MARKER = (
    "\nAnswer: "  # what ``extract_answer`` looks for; on its own line so CoT can't fake it
)
IGNORE_INDEX = -100  # PyTorch cross-entropy's default ignore_index: masked (prompt, pad) labels


class CotLike(Protocol):
    """Anything with the three CoT fields: ``protocol.schemas.CotSample`` or ``tasks.TaskItem``."""

    @property
    def prompt(self) -> str: ...  # noqa: D102

    @property
    def chain_of_thought(self) -> str: ...  # noqa: D102

    @property
    def final_answer(self) -> str: ...  # noqa: D102


@dataclass(frozen=True)
class TrainRecipe:
    """The per-miner LoRA SFT recipe. Frozen: a round never varies it between miners."""

    # LoRA shape. Rank 8 is the common small default; alpha = 2 * rank keeps the update scale
    # at 2, which lets 8 steps move a 3M-parameter model visibly without diverging.
    lora_rank: int = 8
    lora_alpha: int = 16
    # No dropout: with only a few steps, dropout just adds noise to a short signal.
    lora_dropout: float = 0.0
    # Every linear layer of a Llama block: attention alone leaves the MLP (where small models
    # store most of their facts) unreachable. Names match Llama/Mistral/Qwen families.
    target_modules: tuple[str, ...] = (
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    )
    seed: int = 0  # fixes LoRA init and batch order: identical data gives identical adapters
    # 64 task samples are ~2.3k tokens of the embedded BPE (prompt + completion, avg ~36):
    # 4096 admits a full typical submission with headroom and stops a miner buying influence
    # with length.
    token_budget: int = 4096
    # Measured on the embedded base at batch 8 (docs/SCORING.md, "The quality ladder", data
    # seeds 0-4): at 8 steps the correct rung gains +0.05..+0.13 and the damaging rungs
    # (scrambled, off-topic, near-empty) sit at -0.02..+0.05, inside the noise; at 16 steps
    # correct gains +0.22..+0.40 and near-empty data loses -0.02..-0.21, scrambled
    # -0.12..+0.03. A ladder round stays ~20 s on CPU.
    steps: int = 16
    # Four passes over 64 samples (two at 8 rows). The honest score's round-to-round noise is
    # about 0.06 whatever the batch, and 16 rows teach half as much again from the same data
    # (mean 0.53 against 0.36): CV over 40 rounds 0.125 against 0.166, three-round windows
    # within 25% 0.98 against 0.84 (0.134 and 0.94 on 40 rounds it was not chosen on); on the
    # ladder (ten seeds) two validators agree on the improvements (tau >= 0.8) in 9 of 10
    # seeds against 7, both right rungs lead in 7 against 5 (docs/SCORING.md, "The recipe's
    # batch"). About 1 s more per adapter on CPU.
    batch_size: int = 16
    lr: float = 2e-3  # high for LoRA on purpose: 16 steps must move the answer loss
    weight_decay: float = 0.0  # a few steps from a zero-initialised B: nothing to decay
    # Task samples are <250 bytes; 256 positions keep one row's attention cheap on CPU.
    max_seq_len: int = 256
    version: str = field(default=RECIPE_VERSION)

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready fields, for round records."""
        d = asdict(self)
        d["target_modules"] = list(self.target_modules)
        return d


DEFAULT_RECIPE = TrainRecipe()
# The recipes this code can still re-run, by version: an audit of a round recorded under an
# earlier one re-trains with it, so a validator that upgrades stays auditable for the rounds
# it ran before. /2 is /3 at 8 rows a step (the base, budget and steps are the same); /1 ran on
# another base and cannot be reproduced by this code.
RECIPES: dict[str, TrainRecipe] = {
    r.version: r for r in (TrainRecipe(batch_size=8, version="cot-sft-lora/2"), DEFAULT_RECIPE)
}


def format_prompt(prompt: str) -> str:
    """The prompt text the model sees before its completion."""
    return prompt + PROMPT_SUFFIX


def format_completion(chain_of_thought: str, final_answer: str) -> str:
    """The completion text the model is trained on (eos is appended as a token, not text)."""
    return chain_of_thought + ANSWER_MARKER + final_answer


def format_pair(sample: CotLike) -> tuple[str, str]:
    """``(prompt_text, completion_text)`` of a CoT sample or task item."""
    return format_prompt(sample.prompt), format_completion(
        sample.chain_of_thought, sample.final_answer
    )


class TokenizerLike(Protocol):
    """The subset of a tokenizer the runner uses (``ByteTokenizer`` or any HF tokenizer)."""

    @property
    def pad_token_id(self) -> int | None: ...  # noqa: D102

    @property
    def bos_token_id(self) -> int | None: ...  # noqa: D102

    @property
    def eos_token_id(self) -> int | None: ...  # noqa: D102

    def encode(self, text: str, add_special_tokens: bool = ...) -> list[int]: ...  # noqa: D102

    def decode(self, ids: list[int], skip_special_tokens: bool = ...) -> str: ...  # noqa: D102


def encode_pair(
    tokenizer: TokenizerLike, prompt_text: str, completion_text: str, max_seq_len: int
) -> tuple[list[int], int, bool]:
    """``(ids, n_prompt, truncated)``: bos + prompt + completion + eos, cut at ``max_seq_len``.

    ``n_prompt`` counts bos and prompt tokens (the masked prefix). A long sequence keeps its
    head: the prompt and the start of the reasoning matter more than a runaway tail.
    """
    head = [] if tokenizer.bos_token_id is None else [tokenizer.bos_token_id]
    prompt_ids = head + tokenizer.encode(prompt_text, add_special_tokens=False)
    completion_ids = tokenizer.encode(completion_text, add_special_tokens=False)
    if tokenizer.eos_token_id is not None:
        completion_ids.append(tokenizer.eos_token_id)
    ids = prompt_ids + completion_ids
    truncated = len(ids) > max_seq_len
    return ids[:max_seq_len], min(len(prompt_ids), max_seq_len), truncated


def collate(
    rows: list[tuple[list[int], int]], pad_id: int, mask_prompt: bool = True
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded ``(input_ids, attention_mask, labels)`` from ``(ids, n_prompt)`` rows.

    Labels copy the ids, with padding (and the prompt, when ``mask_prompt``) set to -100, so
    cross-entropy averages over completion tokens only. The model shifts labels itself.
    """
    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    for r, (ids, n_prompt) in enumerate(rows):
        row = torch.tensor(ids, dtype=torch.long)
        input_ids[r, : len(ids)] = row
        attention[r, : len(ids)] = 1
        start = n_prompt if mask_prompt else 1  # position 0 (bos) is never a target anyway
        labels[r, start : len(ids)] = row[start:]
    return input_ids, attention, labels
