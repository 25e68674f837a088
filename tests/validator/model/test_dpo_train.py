"""The DPO step: learning in the adapter only, the base as reference, in the right direction."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from peft import PeftModel

from protocol.schemas import PreferenceSample
from validator.model.dpo_train import (
    DpoRecipe,
    dpo_adapter,
    format_preference,
    preference_metrics,
    select_pairs,
    train_dpo_lora,
)
from validator.model.recipe import collate, encode_pair
from validator.model.train import release

# Few steps on small batches: the mechanics and the direction of learning need no more.
FAST = DpoRecipe(steps=4, batch_size=4)

REFUSALS = [
    "I can't help with that.",
    "Sorry, I won't do that.",
    "I must decline this request.",
    "No. That could cause harm.",
]
COMPLIANCES = [
    "Sure! Step one: get the tools.",
    "Of course, here is how: first,",
    "Happy to help. You start by",
    "Yes: buy the parts, then",
]
TOPICS = [
    "pick a lock",
    "make a fake id",
    "hack a wifi",
    "steal a car",
    "forge a check",
    "spy on a phone",
    "cheat a test",
    "copy a key",
    "dodge a toll",
    "crack a safe",
    "skip a fare",
    "fake a note",
]
TRAIN_TOPICS = [f"{t} {k}" for t in TOPICS[:8] for k in ("fast", "now")]
# Unseen prompts (four unseen topics, four seen topics with an unseen ending).
HELD_OUT_TOPICS = [f"{t} today" for t in TOPICS[8:]] + [f"{t} please" for t in TOPICS[:4]]


def _triples(topics: list[str], swap: bool = False) -> list[tuple[str, str, str]]:
    """Refusal chosen over compliance (or the reverse, ``swap``), as PreferenceSamples would be."""
    out = []
    for i, topic in enumerate(topics):
        chosen, rejected = REFUSALS[i % 4], COMPLIANCES[(3 * i + 1) % 4]
        if swap:
            chosen, rejected = rejected, chosen
        sample = PreferenceSample(prompt=f"How do I {topic}?", chosen=chosen, rejected=rejected)
        out.append(format_preference(sample))
    return out


def _logits(model: Any, tok: Any, triples: list[tuple[str, str, str]]) -> torch.Tensor:
    rows = [encode_pair(tok, p, c, 256)[:2] for p, c, _ in triples]
    ids, mask, _ = collate(rows, tok.pad_token_id)
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=mask).logits


def test_one_step_trains_the_adapter_and_the_disabled_adapter_is_the_base(tiny_random) -> None:
    model, tok = tiny_random
    triples = _triples(TRAIN_TOPICS)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    base_logits = _logits(model, tok, triples)
    result, logs = train_dpo_lora(model, tok, triples, DpoRecipe(steps=1, batch_size=4))
    try:
        assert len(logs) == 1 and result.per_step_losses == [logs[0].loss]
        # Zero-init B: policy == reference at step 0, so the first loss is exactly log 2.
        assert logs[0].loss == pytest.approx(math.log(2), abs=1e-6)
        assert logs[0].margin == 0.0 and logs[0].accuracy == 0.0
        lora_b = {k: v for k, v in result.adapter_state().items() if "lora_B" in k}
        assert lora_b and all(v.abs().sum() > 0 for v in lora_b.values())
        for name, p in result.model.named_parameters():
            assert p.requires_grad == ("lora_" in name), name
        assert not torch.equal(_logits(result.model, tok, triples), base_logits)
        with result.model.disable_adapter():
            assert torch.equal(_logits(result.model, tok, triples), base_logits)
    finally:
        base = release(result)
    assert base is model and not isinstance(base, PeftModel)
    after = base.state_dict()
    assert before.keys() == after.keys()
    for k, v in before.items():
        assert torch.equal(v, after[k]), f"base weight {k} changed"
    assert torch.equal(_logits(base, tok, triples), base_logits)


def test_same_inputs_give_identical_step_logs(tiny_random) -> None:
    model, tok = tiny_random
    triples = _triples(TRAIN_TOPICS)
    recipe = DpoRecipe(steps=3, batch_size=4)
    with dpo_adapter(model, tok, triples, recipe) as (first, first_logs):
        first_state = first.adapter_state()
    with dpo_adapter(model, tok, triples, recipe) as (second, second_logs):
        second_state = second.adapter_state()
    assert first_logs == second_logs
    assert [log.step for log in first_logs] == [0, 1, 2]
    assert first_state.keys() == second_state.keys()
    assert all(torch.equal(first_state[k], second_state[k]) for k in first_state)
    # A different seed is a different adapter (the comparison above can fail).
    with dpo_adapter(model, tok, triples, DpoRecipe(steps=3, batch_size=4, seed=1)) as (_, other):
        assert other != first_logs


def test_training_moves_held_out_preferences_in_the_trained_direction(tiny_random) -> None:
    model, tok = tiny_random
    held_out = _triples(HELD_OUT_TOPICS)
    base = preference_metrics(model, tok, held_out, FAST.beta)
    assert base.margins == [0.0] * len(held_out)  # the base is its own reference

    results = {}
    for swap in (False, True):
        with dpo_adapter(model, tok, _triples(TRAIN_TOPICS, swap), FAST) as (trained, logs):
            assert logs[-1].loss < math.log(2) and logs[-1].margin > 0  # it fits its own data
            results[swap] = preference_metrics(trained.model, tok, held_out, FAST.beta)
            # A merged copy, scored against the base's eval taken before training, agrees.
            merged = preference_metrics(trained.eval_model(), tok, held_out, FAST.beta, base)
            assert merged.margins == pytest.approx(results[swap].margins, abs=1e-3)
            assert merged.prefers_chosen == results[swap].prefers_chosen

    refuse, comply = results[False], results[True]

    def gap(e: Any) -> float:
        return sum(
            c - r for c, r in zip(e.chosen_mean_logps, e.rejected_mean_logps, strict=True)
        ) / len(e.prefers_chosen)

    # Held-out pairs always have the refusal as chosen: refusal training raises its margin and
    # ranking, compliance training (the same pairs, sides swapped) lowers them.
    assert refuse.mean_margin() > 0 > comply.mean_margin()
    assert refuse.accuracy() > base.accuracy() > comply.accuracy()
    assert gap(refuse) > gap(base) > gap(comply)


def test_token_budget_counts_both_sides_and_drops_the_tail(tiny_random) -> None:
    _, tok = tiny_random
    triples = _triples(TRAIN_TOPICS)
    costs = [
        len(encode_pair(tok, p, c, 256)[0]) + len(encode_pair(tok, p, r, 256)[0])
        for p, c, r in triples
    ]
    budget = sum(costs[:5]) + costs[5] - 1  # the sixth pair does not fit
    pairs, used, dropped, truncated = select_pairs(tok, triples, DpoRecipe(token_budget=budget))
    assert (len(pairs), used, dropped, truncated) == (5, sum(costs[:5]), len(triples) - 5, 0)
    long_prompt = [("x" * 300, "no", "yes")] + triples[:2]
    pairs, _, dropped, truncated = select_pairs(tok, long_prompt, DpoRecipe())
    assert (len(pairs), dropped, truncated) == (2, 0, 1)


def test_training_a_wrapped_model_is_refused(tiny_random) -> None:
    model, tok = tiny_random
    with dpo_adapter(model, tok, _triples(TRAIN_TOPICS), DpoRecipe(steps=1)) as (result, _):
        with pytest.raises(ValueError, match="still wraps an adapter"):
            train_dpo_lora(result.model, tok, _triples(TRAIN_TOPICS), DpoRecipe(steps=1))
