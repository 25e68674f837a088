r"""One miner's DPO step: a fresh LoRA adapter trained on its preference pairs, base frozen.

The preference competition's counterpart of ``train.py``, sharing its lifecycle::

    ref = preference_metrics(base, tokenizer, held_out, recipe.beta)  # the base, once per round
    result, logs = train_dpo_lora(base, tokenizer, triples, recipe)   # fresh adapter, trained
    tuned = preference_metrics(result.eval_model(), tokenizer, held_out, recipe.beta, ref)
    base = release(result)                                            # train.release: base as before

or ``with dpo_adapter(base, tokenizer, triples, recipe) as (result, logs): ...``. The result is
``train.TrainResult`` (``.model`` is the PeftModel), so ``release``, ``eval_model`` and
``adapter_state`` work unchanged, and its budget fields count pairs.

Format: the recipe's own (``recipe.py``): ``prompt_text = prompt + "\n"``, and each side of a
pair is a completion, ``[bos] + enc(prompt_text) + enc(chosen | rejected) + [eos]``, loss on
completion tokens and eos only. A step puts a batch's chosen rows and rejected rows through one
forward pass, the policy with gradients and the reference without.

The reference is the same model with the adapter off (``disable_adapter``), never a second
copy in memory: the adapter starts at B = 0, so at step 0 policy and reference are bit-identical
and the first loss is exactly log 2. The model stays in eval mode while training (gradients
still flow): dropout would make policy and reference differ at step 0 for no reason (TRL
disables dropout for the same reason).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import torch
from peft import PeftModel, get_peft_model

from scoring.dpo import DEFAULT_BETA, dpo_loss, sequence_logps
from validator.model.evaluate import BATCH_SIZE, _completion_token_losses
from validator.model.recipe import (
    DEFAULT_RECIPE,
    TokenizerLike,
    TrainRecipe,
    collate,
    encode_pair,
    format_prompt,
)
from validator.model.train import (
    ADAPTER_NAME,
    TrainResult,
    _batches,
    _deterministic,
    _lora_config,
    release,
)

# Bump on any change to the defaults below, the pair format or the loss.
DPO_RECIPE_VERSION = "dpo-lora/3"  # /2: token_budget 16,384 -> 24,576; /3: 32 steps at 2e-3


class PreferenceLike(Protocol):
    """Anything with the three preference fields: ``protocol.schemas.PreferenceSample``."""

    @property
    def prompt(self) -> str: ...  # noqa: D102

    @property
    def chosen(self) -> str: ...  # noqa: D102

    @property
    def rejected(self) -> str: ...  # noqa: D102


def format_preference(sample: PreferenceLike) -> tuple[str, str, str]:
    """``(prompt_text, chosen_text, rejected_text)``: the recipe's prompt format, completions as is."""
    return format_prompt(sample.prompt), sample.chosen, sample.rejected


@dataclass(frozen=True)
class DpoRecipe:
    """The per-miner LoRA DPO recipe. Frozen: a round never varies it between miners."""

    # LoRA shape: the SFT recipe's (rank 8, alpha 16, no dropout, every Llama linear), so the
    # two competitions train adapters of the same capacity on the same base.
    lora_rank: int = DEFAULT_RECIPE.lora_rank
    lora_alpha: int = DEFAULT_RECIPE.lora_alpha
    lora_dropout: float = DEFAULT_RECIPE.lora_dropout
    target_modules: tuple[str, ...] = DEFAULT_RECIPE.target_modules
    seed: int = 0  # fixes LoRA init and batch order: identical pairs give identical adapters
    beta: float = DEFAULT_BETA  # see scoring.dpo.DEFAULT_BETA
    # 64 pairs (the default request) at 384 tokens a pair. Measured with the byte tokenizer on
    # GeneratorSource's 64 pairs (23 seeds x 2 qualities x 3 rounds): 328-336 tokens a pair
    # on average, 20,630-21,482 for all 64, so the whole request fits (the old 16,384 admitted
    # 49 and dropped 15). Still a cap: a pair can cost up to 2 x max_seq_len = 512, so a miner
    # padding to length gets 48 pairs in, not 64. CPU cost is unchanged: a round trains
    # steps x batch_size pairs whatever the number admitted (fewer are cycled).
    token_budget: int = 64 * 384
    # Four passes over 64 pairs at batch 8, at SFT's rate. dpo-lora/2 took one pass at 1e-3,
    # and on the embedded base that taught no preference that depends on the prompt: good
    # pairs lowered the held-out harmful pairs' margin (towards answering) in 40 of 40 pair-
    # ladder seeds and were paid for the benign pairs' larger gain; with mirrored held-out
    # pairs the two cancelled (bench/pref_heldout_designs.py). At 32 steps x 2e-3 good pairs
    # raise the harmful pairs' margin in 60 of 60 seeds and the benign pairs' in 57, which
    # pref-v4 asks for, the benign ones still partly through the public templates' own
    # sentences (docs/PREFERENCE.md, section 4). Four times the DPO compute per miner.
    # At 64 steps (one seed measured) off-topic pairs moved the two kinds half a nat apart.
    steps: int = 32
    batch_size: int = 8  # pairs per step: 16 rows of <=256 tokens in one forward pass
    lr: float = 2e-3
    weight_decay: float = 0.0  # a few steps from a zero-initialised B: nothing to decay
    max_seq_len: int = DEFAULT_RECIPE.max_seq_len  # per side (prompt + one completion)
    version: str = field(default=DPO_RECIPE_VERSION)

    def as_train_recipe(self) -> TrainRecipe:
        """The SFT recipe with this recipe's LoRA shape, seed, steps and batch size.

        ``train.py``'s adapter config and batch schedule read only those fields, so the DPO
        step reuses them through this view instead of copying them.
        """
        return TrainRecipe(
            lora_rank=self.lora_rank,
            lora_alpha=self.lora_alpha,
            lora_dropout=self.lora_dropout,
            target_modules=self.target_modules,
            seed=self.seed,
            token_budget=self.token_budget,
            steps=self.steps,
            batch_size=self.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            max_seq_len=self.max_seq_len,
        )

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready fields, for round records."""
        d = asdict(self)
        d["target_modules"] = list(self.target_modules)
        return d


DEFAULT_DPO_RECIPE = DpoRecipe()

Row = tuple[list[int], int]  # (ids, n_prompt), as recipe.collate takes them


@dataclass(frozen=True)
class DpoStepLog:
    """One DPO step's batch means (rewards are beta-scaled log-ratios against the base)."""

    step: int
    loss: float
    chosen_reward: float
    rejected_reward: float
    margin: float
    accuracy: float  # fraction of the batch's pairs with chosen reward > rejected reward

    def to_dict(self) -> dict[str, float]:
        """JSON-ready fields."""
        return asdict(self)


def select_pairs(
    tokenizer: TokenizerLike, triples: Sequence[tuple[str, str, str]], recipe: DpoRecipe
) -> tuple[list[tuple[Row, Row]], int, int, int]:
    """``(pairs, tokens_used, dropped, truncated)``: pairs admitted under the token budget.

    A pair costs the tokens of both its sequences. Pairs are taken in the given order until the
    next would exceed the budget; it and all after it are dropped (as ``train.select_rows``).
    A pair whose prompt fills ``max_seq_len`` on either side is skipped and counted truncated.
    """
    pairs: list[tuple[Row, Row]] = []
    used = truncated = 0
    for i, (prompt, chosen, rejected) in enumerate(triples):
        c_ids, c_prompt, c_cut = encode_pair(tokenizer, prompt, chosen, recipe.max_seq_len)
        r_ids, r_prompt, r_cut = encode_pair(tokenizer, prompt, rejected, recipe.max_seq_len)
        cost = len(c_ids) + len(r_ids)
        if used + cost > recipe.token_budget:
            return pairs, used, len(triples) - i, truncated
        if c_prompt >= len(c_ids) or r_prompt >= len(r_ids):
            truncated += 1
            continue
        pairs.append(((c_ids, c_prompt), (r_ids, r_prompt)))
        used += cost
        truncated += int(c_cut or r_cut)
    return pairs, used, 0, truncated


def _pair_logps(
    model: Any, batch: list[tuple[Row, Row]], pad: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed completion log-probs ``(chosen, rejected)`` of a batch, in one forward pass."""
    rows = [c for c, _ in batch] + [r for _, r in batch]
    ids, mask, labels = collate(rows, pad, mask_prompt=True)
    device = next(model.parameters()).device
    logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
    logps = sequence_logps(logits, labels.to(device))
    return logps[: len(batch)], logps[len(batch) :]


def train_dpo_lora(
    base_model: Any,
    tokenizer: TokenizerLike,
    triples: Sequence[tuple[str, str, str]],
    recipe: DpoRecipe = DEFAULT_DPO_RECIPE,
) -> tuple[TrainResult, list[DpoStepLog]]:
    """Train a fresh LoRA adapter by DPO on ``(prompt_text, chosen, rejected)``; base frozen.

    Exactly ``recipe.steps`` AdamW steps at constant ``recipe.lr`` on batches of
    ``recipe.batch_size`` pairs (seeded epochs, cycled, as ``train.train_lora``). Returns the
    ``TrainResult`` (adapter active on ``.model``; ``per_step_losses`` are the DPO losses;
    ``samples_used``/``dropped``/``truncated`` count pairs) and one ``DpoStepLog`` per step.
    No admitted pairs means no steps. Call ``train.release`` (or use ``dpo_adapter``) when done.
    """
    if isinstance(base_model, PeftModel):
        raise ValueError("base model still wraps an adapter: release() the previous result first")
    t0 = time.perf_counter()
    device = next(base_model.parameters()).device
    pairs, used, dropped, truncated = select_pairs(tokenizer, triples, recipe)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    sft_view = recipe.as_train_recipe()
    logs: list[DpoStepLog] = []
    with _deterministic(device):
        torch.manual_seed(recipe.seed)
        with warnings.catch_warnings():
            # peft 0.21 probes a property transformers 5 deprecated; harmless, and not ours.
            warnings.filterwarnings(
                "ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning
            )
            model = get_peft_model(base_model, _lora_config(sft_view), adapter_name=ADAPTER_NAME)
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
        model.eval()  # no dropout: policy and reference must agree exactly at step 0
        for step, batch_ix in enumerate(_batches(len(pairs), sft_view) if pairs else []):
            batch = [pairs[i] for i in batch_ix]
            with torch.no_grad(), model.disable_adapter():
                ref_chosen, ref_rejected = _pair_logps(model, batch, pad)
            pol_chosen, pol_rejected = _pair_logps(model, batch, pad)
            out = dpo_loss(pol_chosen, pol_rejected, ref_chosen, ref_rejected, recipe.beta)
            out.loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            logs.append(
                DpoStepLog(
                    step=step,
                    loss=float(out.loss.item()),
                    chosen_reward=float(out.chosen_rewards.mean()),
                    rejected_reward=float(out.rejected_rewards.mean()),
                    margin=float(out.margins.mean()),
                    accuracy=out.accuracy,
                )
            )
    result = TrainResult(
        model,
        [log.loss for log in logs],
        used,
        len(pairs),
        dropped,
        truncated,
        time.perf_counter() - t0,
        base_model,
    )
    return result, logs


@contextmanager
def dpo_adapter(
    base_model: Any,
    tokenizer: TokenizerLike,
    triples: Sequence[tuple[str, str, str]],
    recipe: DpoRecipe = DEFAULT_DPO_RECIPE,
) -> Iterator[tuple[TrainResult, list[DpoStepLog]]]:
    """``train_dpo_lora`` as a context: the adapter is released on exit, even on error."""
    result, logs = train_dpo_lora(base_model, tokenizer, triples, recipe)
    try:
        yield result, logs
    finally:
        release(result)


@dataclass(frozen=True)
class PairMetrics:
    """How one model ranks held-out pairs, per pair (index i is pair i), against a reference.

    What ``preference_metrics`` returns; the preference stage turns two of them (base, tuned)
    into the score rule's input, ``scoring.preference_score.PreferenceEval``.

    - ``chosen_logps`` / ``rejected_logps``: the model's summed completion log-probs.
    - ``chosen_mean_logps`` / ``rejected_mean_logps``: the same per token (eos included).
    - ``prefers_chosen``: 1 when ``chosen_mean_logp > rejected_mean_logp`` strictly. Per-token
      means, so a shorter completion does not win by length alone; the model alone decides, so
      the base and a tuned model are ranked by the same rule and their accuracies compare.
    - ``margins``: the DPO implicit reward margin against the reference,
      ``beta * ((lp_c - ref_c) - (lp_r - ref_r))`` on summed log-probs: 0 for the reference
      itself, > 0 where training moved the pair towards its chosen side.
    """

    beta: float
    chosen_logps: list[float]
    rejected_logps: list[float]
    chosen_mean_logps: list[float]
    rejected_mean_logps: list[float]
    ref_chosen_logps: list[float]
    ref_rejected_logps: list[float]
    margins: list[float]
    prefers_chosen: list[int]

    def accuracy(self) -> float:
        """Fraction of pairs ranked chosen over rejected (0.0 for no pairs)."""
        return sum(self.prefers_chosen) / len(self.prefers_chosen) if self.prefers_chosen else 0.0

    def mean_margin(self) -> float:
        """Mean implicit reward margin against the reference (0.0 for no pairs)."""
        return sum(self.margins) / len(self.margins) if self.margins else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready per-pair arrays."""
        return asdict(self)


def _side_token_logps(
    model: Any,
    tokenizer: TokenizerLike,
    triples: Sequence[tuple[str, str, str]],
    max_seq_len: int,
    batch_size: int,
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Per pair, the per-token completion log-probs of the chosen and of the rejected side."""
    chosen = [(p, c) for p, c, _ in triples]
    rejected = [(p, r) for p, _, r in triples]
    nll_c = _completion_token_losses(model, tokenizer, chosen, max_seq_len, batch_size)
    nll_r = _completion_token_losses(model, tokenizer, rejected, max_seq_len, batch_size)
    return [-t for t in nll_c], [-t for t in nll_r]


def preference_metrics(
    model: Any,
    tokenizer: TokenizerLike,
    triples: Sequence[tuple[str, str, str]],
    beta: float = DEFAULT_BETA,
    reference: PairMetrics | None = None,
    max_seq_len: int = DEFAULT_DPO_RECIPE.max_seq_len,
    batch_size: int = BATCH_SIZE,
) -> PairMetrics:
    """How ``model`` ranks held-out ``(prompt_text, chosen, rejected)`` pairs (no gradients).

    The reference log-probs for the margins come from ``reference``, the base's own
    ``PairMetrics`` of the same pairs (computed once per round, before any adapter, and
    reused for every miner; works for a merged copy from ``TrainResult.eval_model`` too). Without
    it: a PeftModel is scored against itself with the adapter disabled, and any other model
    against itself (margins all 0: the base's own eval). Note that while an adapter is active
    the shared base object is wrapped too, so "the base" is only reachable as
    ``disable_adapter`` or as an eval taken before training.
    A pair whose prompt fills ``max_seq_len`` has no completion tokens: NaN means, not preferred.
    """
    pol_c, pol_r = _side_token_logps(model, tokenizer, triples, max_seq_len, batch_size)
    pol_c_sum = torch.stack([t.sum() for t in pol_c]) if pol_c else torch.zeros(0)
    pol_r_sum = torch.stack([t.sum() for t in pol_r]) if pol_r else torch.zeros(0)
    if reference is not None:
        if len(reference.chosen_logps) != len(triples):
            raise ValueError("reference eval covers a different number of pairs")
        ref_c_sum = torch.tensor(reference.chosen_logps, dtype=pol_c_sum.dtype)
        ref_r_sum = torch.tensor(reference.rejected_logps, dtype=pol_r_sum.dtype)
    elif isinstance(model, PeftModel):
        with model.disable_adapter():
            ref_c, ref_r = _side_token_logps(model, tokenizer, triples, max_seq_len, batch_size)
        ref_c_sum = torch.stack([t.sum() for t in ref_c]) if ref_c else torch.zeros(0)
        ref_r_sum = torch.stack([t.sum() for t in ref_r]) if ref_r else torch.zeros(0)
    else:
        ref_c_sum, ref_r_sum = pol_c_sum, pol_r_sum
    out = dpo_loss(pol_c_sum, pol_r_sum, ref_c_sum, ref_r_sum, beta)
    mean_c = [float(t.mean()) if len(t) else math.nan for t in pol_c]
    mean_r = [float(t.mean()) if len(t) else math.nan for t in pol_r]
    return PairMetrics(
        beta=beta,
        chosen_logps=pol_c_sum.tolist(),
        rejected_logps=pol_r_sum.tolist(),
        chosen_mean_logps=mean_c,
        rejected_mean_logps=mean_r,
        ref_chosen_logps=ref_c_sum.tolist(),
        ref_rejected_logps=ref_r_sum.tolist(),
        margins=out.margins.tolist(),
        prefers_chosen=[int(c > r) for c, r in zip(mean_c, mean_r, strict=True)],
    )
