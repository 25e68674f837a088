from __future__ import annotations

from collections import Counter

import pytest

from common.text import join_fields
from scoring.contamination import ContaminationVerdict, EvalItem, EvalPoolIndex
from tasks.safety_prompts import (
    Label,
    NotEnoughPrompts,
    Split,
    categories,
    core_key,
    expand,
    generate,
    request_families,
    space_size,
    template_splits,
)


def _matched(verdict: ContaminationVerdict) -> str:
    """The eval item a contaminated verdict names (it always names one)."""
    assert verdict.item_id is not None
    return verdict.item_id


def test_expand_fills_every_combination_and_reuses_a_repeated_slot() -> None:
    out = expand("{a} and {b}, {a}", {"a": ("x", "y"), "b": ("1", "2", "3")})
    assert len(out) == 6
    assert "y and 3, y" in out and "x and 1, y" not in out


@pytest.mark.parametrize("label", list(Label))
def test_generate_is_deterministic_distinct_and_balanced(label: Label) -> None:
    first = generate(label, 1200, seed=7)
    assert first == generate(label, 1200, seed=7)
    assert first != generate(label, 1200, seed=8)
    assert all(p.label == label for p in first)
    assert len({p.prompt for p in first}) == 1200
    assert len({core_key(p.prompt) for p in first}) == 1200
    counts = Counter(p.category for p in first)
    assert set(counts) == {c.name for c in categories(label)}
    # round-robin: no category below half its even share
    assert min(counts.values()) >= 1200 / len(counts) / 2


def test_benign_side_has_borderline_prompts() -> None:
    benign = generate(Label.BENIGN, 1200, seed=0)
    borderline = [p.prompt for p in benign if p.category.startswith("borderline")]
    assert len(borderline) >= 200
    # Surface words a naive filter refuses on: "kill", "shoot", "break into", "terminate".
    for word in ("kill", "shoot", "break into", "terminate"):
        assert any(word in core_key(p) for p in borderline), word


def test_labels_never_share_a_prompt() -> None:
    harmful = {core_key(p.prompt) for p in generate(Label.HARMFUL, space_size(Label.HARMFUL), 0)}
    benign = {core_key(p.prompt) for p in generate(Label.BENIGN, space_size(Label.BENIGN), 0)}
    assert not harmful & benign


@pytest.mark.parametrize("label", list(Label))
def test_eval_and_train_splits_are_disjoint_after_normalisation(label: Label) -> None:
    def keys(split: Split) -> set[str]:
        return {core_key(p.prompt) for p in generate(label, space_size(label, split), 0, split)}

    eval_keys, train_keys = keys(Split.EVAL), keys(Split.TRAIN)
    assert len(eval_keys) == space_size(label, Split.EVAL) >= 1000
    assert not eval_keys & train_keys
    # Disjoint requests, not only wordings: a reworded eval request is contamination.
    eval_intents = {p.intent for p in generate(label, space_size(label, Split.EVAL), 0)}
    train_intents = {
        p.intent for p in generate(label, space_size(label, Split.TRAIN), 0, Split.TRAIN)
    }
    assert not eval_intents & train_intents


def test_asking_past_the_space_raises() -> None:
    with pytest.raises(NotEnoughPrompts):
        generate(Label.HARMFUL, space_size(Label.HARMFUL) + 1, seed=0)


def test_the_gate_flags_no_training_prompt_against_the_whole_eval_split() -> None:
    """An honest generator miner is never zeroed as train-on-test by chance.

    Every train-split prompt (several seeds, so every context is drawn) against every
    eval-split prompt, through the validator's own contamination gate.
    """
    evals = [p.prompt for label in Label for p in generate(label, space_size(label), 0)]
    pool = EvalPoolIndex([EvalItem(f"e{i}", p, join_fields(p)) for i, p in enumerate(evals)])
    train = [
        p.prompt
        for label in Label
        for seed in range(4)
        for p in generate(label, space_size(label, Split.TRAIN), seed, Split.TRAIN)
    ]
    flagged = [
        (train[v.index], evals[int(_matched(v)[1:])])
        for v in pool.check([join_fields(p) for p in train])
        if v.contaminated
    ]
    assert len(train) == 4 * sum(space_size(label, Split.TRAIN) for label in Label)
    assert flagged == []


def test_request_families_join_templates_that_share_a_slot() -> None:
    [history] = [c for c in categories(Label.BENIGN) if c.name == "history"]
    families = request_families(history)
    assert len(set(families.values())) == 1  # {event} and {aspect}+{event}: one family
    for label in Label:
        for category in categories(label):
            splits = set(template_splits(category).values())
            assert Split.EVAL in splits  # every category is measured
            if len(set(request_families(category).values())) >= 2:
                assert Split.TRAIN in splits  # and, where it can be, taught
