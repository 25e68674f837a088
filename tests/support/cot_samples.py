"""CoT samples of a chosen quality, as a ladder miner of that quality serves them."""

from __future__ import annotations

import random

from protocol.schemas import CotSample
from tasks.families import generate_many
from tasks.quality import Quality, degrade


def degraded_samples(seed: int, quality: Quality, count: int) -> list[CotSample]:
    """``count`` task samples drawn with ``seed``, each degraded to ``quality``."""
    rng = random.Random(seed)
    out = []
    for item in generate_many(seed, count):
        prompt, cot, answer = degrade(item, quality, rng)
        out.append(CotSample(prompt=prompt, chain_of_thought=cot, final_answer=answer))
    return out
