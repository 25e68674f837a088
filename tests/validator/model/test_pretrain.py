"""The shipped base: its bytes are pinned, the recipe regenerates it, and it is partly competent."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tasks.registry import REGISTRY
from validator.eval_set import draw_eval_set
from validator.model.base import SHIPPED_SHA256, SHIPPED_WEIGHTS, shipped_meta
from validator.model.evaluate import evaluate
from validator.model.pretrain import DEFAULT_PRETRAIN, pretrain_tiny

REGENERATED_STEPS = 12  # a short prefix of the recipe: ~10 s, and it covers warmup


def test_shipped_checkpoint_is_the_pinned_one_of_this_recipe() -> None:
    assert hashlib.sha256(SHIPPED_WEIGHTS.read_bytes()).hexdigest() == SHIPPED_SHA256
    assert shipped_meta()["key"] == DEFAULT_PRETRAIN.key()
    assert len(shipped_meta()["losses"]) == DEFAULT_PRETRAIN.steps


@pytest.mark.slow
def test_a_short_regeneration_follows_the_shipped_run() -> None:
    """The recipe in the code is the one that made the checkpoint: its first steps agree.

    Float sums differ across CPUs (vector widths), so the losses agree to a tolerance, not
    bit for bit; a recipe change moves them far more than that.
    """
    _, losses = pretrain_tiny(DEFAULT_PRETRAIN, stop_after=REGENERATED_STEPS)
    shipped = shipped_meta()["losses"][:REGENERATED_STEPS]
    assert losses == pytest.approx(shipped, rel=1e-3, abs=1e-4)


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="issue 10 open: no recipe tried reached competence (docs/SCORING.md, 'The base')",
)
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
