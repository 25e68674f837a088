"""A stratified draw of task items: fixed shares per family and per instance size.

Why: a validator's eval set is a sample, and its draw is part of every score. Nearly all that
data can teach the embedded base lies in the instances longer than it was pretrained on
(docs/SCORING.md, "Where the improvement comes from"), so an eval set drawn item by item at
random (``tasks.families.generate_many``) holds 14 to 24 such items of 64 by chance, and an
honest miner's score moved with that count more than with its data. Drawing a fixed number of
items per family and, within a family, sizes in proportion to the family's own size law
removes that part of the spread: the same data scored on different eval sets of 64 items
varies about half as much (sd 0.036 against 0.085 for the ladder's correct data;
``bench/bench_eval_noise.py``), as a random draw of roughly 350 items would.

How, for any family without knowing how it draws sizes: ``CANDIDATES_PER_ITEM`` operand
draws per item wanted, sorted by operand count (stable: draw order within a size), then every
``CANDIDATES_PER_ITEM``-th from a random start (systematic sampling over the sorted list).
Each size then gets its share of those draws to within one item (the draws' own shares are
a sixteenth as noisy, in variance, as a random draw's), and which instances of a size are
taken stays random. The phrasing of each item is drawn as ``Family.item`` draws it.
"""

from __future__ import annotations

import random

from tasks.registry import REGISTRY, Difficulty, Family, Operands, Share, TaskItem

# Operand draws per item wanted: the sizes' shares come from this many draws, so their own
# sampling noise is a sixteenth of a random draw's in variance; the draws are cheap (tuples
# of a few numbers; 1,024 for a 64-item set).
CANDIDATES_PER_ITEM = 16


def family_counts(rng: random.Random, names: tuple[str, ...], count: int) -> dict[str, int]:
    """Equal items per family; the remainder to families drawn by ``rng`` (one each)."""
    if not names:
        raise ValueError("no families to draw from")
    if count < 0:
        raise ValueError(f"a negative item count: {count}")
    counts = dict.fromkeys(names, count // len(names))
    for name in rng.sample(names, count % len(names)):
        counts[name] += 1
    return counts


def size_stratified_operands(
    family: Family, rng: random.Random, difficulty: Difficulty, count: int
) -> list[Operands]:
    """``count`` operand tuples of ``family``, sizes in the shares of its draws."""
    if count <= 0:
        return []
    candidates = [family.draw(rng, difficulty) for _ in range(CANDIDATES_PER_ITEM * count)]
    by_size = sorted(range(len(candidates)), key=lambda i: len(candidates[i]))
    start = rng.randrange(CANDIDATES_PER_ITEM)
    return [candidates[by_size[start + CANDIDATES_PER_ITEM * j]] for j in range(count)]


def stratified_items(
    rng: random.Random,
    count: int,
    families: tuple[str, ...] | None = None,
    difficulty: Difficulty = Difficulty.FULL,
    shares: tuple[Share, ...] = tuple(Share),
    near_misses: int = 0,
) -> list[TaskItem]:
    """``count`` items drawn by ``rng``, stratified by family and size, in a shuffled order.

    ``near_misses`` as in ``Family.item``.
    """
    names = families or REGISTRY.names()
    slots: list[tuple[Family, Operands]] = []
    for name, wanted in family_counts(rng, names, count).items():
        family = REGISTRY[name]
        slots.extend(
            (family, ops) for ops in size_stratified_operands(family, rng, difficulty, wanted)
        )
    rng.shuffle(slots)
    return [family.item_of(ops, rng, shares, near_misses) for family, ops in slots]


def generate_stratified(
    seed: int,
    count: int,
    families: tuple[str, ...] | None = None,
    difficulty: Difficulty = Difficulty.FULL,
    shares: tuple[Share, ...] = tuple(Share),
    near_misses: int = 0,
) -> list[TaskItem]:
    """``stratified_items`` from one seed: the same seed always gives the same list."""
    return stratified_items(random.Random(seed), count, families, difficulty, shares, near_misses)
