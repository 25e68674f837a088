"""The shipped base: its bytes are pinned, the recipe regenerates it, and it is partly competent."""

from __future__ import annotations

import json
from typing import Any

import pytest
from transformers import AutoTokenizer

from tasks.registry import REGISTRY
from validator.evalsets.cot import draw_eval_set
from validator.model.base import SHIPPED_DIR, shipped_record, verify_shipped
from validator.model.evaluate import evaluate
from validator.model.pretrain import DEFAULT_PRETRAIN, pretrain_tiny

REGENERATED_STEPS = 12  # a short prefix of the recipe: the corpus and tokenizer, then 12 steps


def _bpe(tokenizer: Any) -> Any:
    return json.loads(tokenizer.backend_tokenizer.to_str())["model"]


def test_shipped_checkpoint_is_the_pinned_one_of_this_recipe() -> None:
    verify_shipped()
    record = shipped_record()
    assert record["key"] == DEFAULT_PRETRAIN.key()
    assert len(record["losses"]) == DEFAULT_PRETRAIN.steps


@pytest.mark.slow
def test_a_short_regeneration_follows_the_shipped_run() -> None:
    """The recipe in the code is the one that made the checkpoint: same tokenizer, same start.

    The tokenizer is learned from the corpus, so it must come out identical; float sums differ
    across CPUs (vector widths), so the losses agree to a tolerance, not bit for bit (a recipe
    change moves them far more than that).
    """
    _, tokenizer, losses = pretrain_tiny(DEFAULT_PRETRAIN, stop_after=REGENERATED_STEPS)
    shipped_tok = AutoTokenizer.from_pretrained(SHIPPED_DIR)
    assert _bpe(tokenizer) == _bpe(shipped_tok)  # the same vocabulary and merges
    shipped = shipped_record()["losses"][:REGENERATED_STEPS]
    assert losses == pytest.approx(shipped, rel=1e-3, abs=1e-4)


@pytest.mark.slow
def test_the_base_is_partly_competent_on_a_validators_eval_set(pretrained: tuple[Any, Any]) -> None:
    """Greedy accuracy in [0.2, 0.8] overall and no family at 0 (docs/SCORING.md, "The base")."""
    model, tok = pretrained
    items = draw_eval_set("competence-check", "round-1", 128).items
    correct = evaluate(model, tok, items).correct
    overall = sum(correct) / len(correct)
    assert 0.2 <= overall <= 0.8, overall
    for family in REGISTRY.names():
        got = [c for c, it in zip(correct, items, strict=True) if it.family == family]
        assert got and sum(got) > 0, family
