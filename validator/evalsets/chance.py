"""Each task family's chance of meeting the eval pool, measured against the pool itself.

The contamination gate zeroes a round only for more matches than chance explains
(``scoring/chance.py``); chance is measured here, per round, on the very index the gate uses:
``CALIBRATION_ITEMS`` fresh items per registry family, drawn the way an honest generator
miner draws them (every registry phrasing, full sizes), are checked against the pool, and
the family's rate is (matches + 1) / (items + 1): never 0, since a family no calibration item
met may still meet the pool by chance.

A miner's expected chance matches are the sum over its samples of the rate of the family
that reads the sample's prompt (the highest, if several read it; the highest of all, if none
does: an unread prompt may be any family's). Seeded by the round id, so an auditor
recomputes the same rates from the published sets.

Measured on a full window (33 sets of 64 items and their canaries, 512 items per family,
``bench/bench_honest_collisions.py``): addition 58-60 of 512 (two 2-digit addends; the gate
matches the unordered pair), word_sort 3-4, list_max 0-1, list_reverse 0.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from common.seeds import joined_seed
from common.text import join_fields
from scoring.contamination import EvalPoolIndex
from tasks.families import generate
from tasks.registry import REGISTRY

# Items per family per round. 512 puts the addition rate's standard error at 0.014 (rate
# 0.115) and costs ~0.17 s per family against a full window on one core.
CALIBRATION_ITEMS = 512


@dataclass(frozen=True)
class ChanceRates:
    """Per family, the chance that one honest sample matches the round's eval pool."""

    rates: Mapping[str, float]

    def rate(self, prompt: str) -> float:
        """The rate of the family that reads ``prompt``; the highest of all if none does."""
        readers = [self.rates[name] for name in REGISTRY.readers(prompt)]
        return max(readers or self.rates.values(), default=0.0)

    def expected(self, prompts: Sequence[str]) -> float:
        """Expected chance matches of a submission with these prompts."""
        return float(sum(self.rate(p) for p in prompts))


def measure_chance(
    index: EvalPoolIndex, round_id: str, per_family: int = CALIBRATION_ITEMS
) -> ChanceRates:
    """Each registry family's rate against ``index`` (module docstring)."""
    rates: dict[str, float] = {}
    for family in REGISTRY.names():
        rng = random.Random(joined_seed("chance", round_id, family))
        items = [generate(rng, (family,)) for _ in range(per_family)]
        verdicts = index.check(
            [join_fields(it.prompt, it.chain_of_thought, it.final_answer) for it in items],
            [it.final_answer for it in items],
        )
        hits = sum(v.contaminated for v in verdicts)
        rates[family] = (hits + 1) / (per_family + 1)
    return ChanceRates(rates)
