"""Which of its samples a miner serves in a round: a seeded selection spread over task families.

A validator's eval set holds every registered task family in an equal share
(``tasks/stratified.py``), and what a round's data earns follows how many samples of each
family it holds (docs/SCORING.md, "The eval set's draw"). A plain shuffle of a balanced
1,024-sample pool hands a round of 64 samples 16 of a family on average, with a standard
deviation of 3.1 (9 to 24 over 200 rounds). So the selection is spread: the samples grouped
by the family the task registry reads in their prompt (one group for prompts it reads as
none, and for preference pairs), each group shuffled by the round's seed, then taken one
group at a time in a seeded order until the round's count is reached. Groups end up within
one sample of each other while they last; with a single group this is exactly the seeded
shuffle.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Sequence
from functools import lru_cache
from typing import TypeVar

from protocol.schemas import CotSample, Sample
from tasks.registry import REGISTRY

T = TypeVar("T")


def family_of(sample: Sample) -> str | None:
    """The registry family that reads a CoT sample's prompt; None for anything else."""
    return _first_reader(sample.prompt) if isinstance(sample, CotSample) else None


# A pool is selected from on every validator request: each prompt is read once, not per
# request (a 1,024-sample pool: 20 ms of canonicalisation and regexes a request otherwise).
@lru_cache(maxsize=16_384)
def _first_reader(prompt: str) -> str | None:
    readers = REGISTRY.readers(prompt)
    return readers[0] if readers else None


def spread_selection(
    items: Sequence[T], count: int, rng: random.Random, key: Callable[[T], Hashable]
) -> list[T]:
    """``count`` of ``items`` (all if fewer), spread evenly over the groups ``key`` makes."""
    groups: dict[Hashable, list[T]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    order = list(groups.values())
    rng.shuffle(order)
    for group in order:
        rng.shuffle(group)
    chosen: list[T] = []
    depth = 0
    while len(chosen) < min(count, len(items)):
        for group in order:
            if depth < len(group) and len(chosen) < count:
                chosen.append(group[depth])
        depth += 1
    return chosen
