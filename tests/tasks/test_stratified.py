"""The stratified draw: equal families, sizes in proportion, and less spread than chance."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest

from tasks.families import generate_many
from tasks.quality import operands_of
from tasks.registry import REGISTRY, Difficulty, Share
from tasks.stratified import (
    CANDIDATES_PER_ITEM,
    family_counts,
    generate_stratified,
    size_stratified_operands,
)


def _longer(items: list) -> int:
    """Items with more operands than any EASY (pretraining) instance of their family."""
    return sum(len(operands_of(it)[1]) > 5 for it in items if it.family.startswith("list_"))


def test_same_seed_same_items_and_another_seed_others() -> None:
    a = generate_stratified(7, 64, near_misses=3)
    assert a == generate_stratified(7, 64, near_misses=3)
    assert a != generate_stratified(8, 64, near_misses=3)


@pytest.mark.parametrize("count", [64, 13, 3, 0])
def test_families_get_equal_shares_the_remainder_one_each(count: int) -> None:
    names = REGISTRY.names()
    counts = Counter(it.family for it in generate_stratified(3, count))
    assert sum(counts.values()) == count
    assert all(count // len(names) <= counts[n] <= count // len(names) + 1 for n in names)


def test_items_are_the_registry_items_of_their_operands() -> None:
    for item in generate_stratified(11, 64, near_misses=3):
        family, ops = operands_of(item)
        assert family.name == item.family
        assert family.reason(ops) == item.chain_of_thought
        assert family.solve(ops) == item.final_answer
        assert len(item.near_misses) <= 3  # up to three: a drawn error may give the right answer
        assert all(answer != item.final_answer for _, answer in item.near_misses)


def test_item_of_words_drawn_operands_as_item_does() -> None:
    family = REGISTRY["list_reverse"]
    a, b = random.Random(5), random.Random(5)
    assert family.item(a, Difficulty.FULL, near_misses=2) == family.item_of(
        family.draw(b, Difficulty.FULL), b, tuple(Share), 2
    )


def test_sizes_follow_the_families_draws_to_within_one() -> None:
    family = REGISTRY["list_max"]
    rng, replay = random.Random(9), random.Random(9)
    chosen = size_stratified_operands(family, rng, Difficulty.FULL, 16)
    draws = [family.draw(replay, Difficulty.FULL) for _ in range(CANDIDATES_PER_ITEM * 16)]
    sizes = Counter(len(d) for d in draws)
    got = Counter(len(c) for c in chosen)
    for size, n in sizes.items():
        assert abs(got[size] - n / CANDIDATES_PER_ITEM) <= 1, (size, got, sizes)


def test_the_count_of_longer_lists_varies_far_less_than_a_random_draws() -> None:
    """What the stratification is for: the items that carry a score vary little set to set."""
    stratified = [_longer(generate_stratified(s, 64)) for s in range(60)]
    chance = [_longer(generate_many(s, 64)) for s in range(60)]
    assert abs(np.mean(stratified) - np.mean(chance)) < 1.5  # the same design share ...
    assert np.std(stratified) < 0.5 * np.std(chance)  # ... without the chance spread


def test_no_families_or_a_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="no families"):
        family_counts(random.Random(0), (), 4)
    with pytest.raises(ValueError, match="negative"):
        generate_stratified(0, -1)
