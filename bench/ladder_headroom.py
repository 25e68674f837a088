"""Where on the eval set does a ladder rung's improvement come from?

Run: ``.venv/bin/python bench/ladder_headroom.py [--seeds 5] [--first-seed 0]`` (about 40 s a
seed on one thread).

The embedded base was pretrained on the registry's PUBLIC phrasings at EASY sizes; a
validator's eval set draws FULL sizes in every phrasing (``validator/evalsets/cot.py``). Each
eval item falls in one of three parts: a phrasing and size the base has read ("known"), a
PRIVATE phrasing, or a list longer than any it was trained on ("longer"; an item that is
both counts as longer). For the correct and wrong rungs, in the registry's phrasings and in an
outsider's (``bench/ladder.py``; the answer check off, every sample trained, validator A),
the mean per-item improvement ``d_i`` of the rule (``scoring/score.py``: completion loss,
answer loss at 0.5, verified accuracy; the ROUGE and margin terms, small, left out) on each
part.
"""

from __future__ import annotations

import random
import re
import sys
from enum import StrEnum
from functools import cache
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: the repo root holds the bench package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ladder import parse_seed_range, seed_eval_items, seed_samples
from scoring import score
from tasks.quality import Quality, operands_of
from tasks.registry import REGISTRY, Difficulty, Share, TaskItem
from validator.model.base import load_base
from validator.stages.cot_validate import evaluate_base, validate_and_score

RUNGS = (Quality.CORRECT, Quality.CORRECT_OTHER_WORDS, Quality.WRONG, Quality.WRONG_OTHER_WORDS)


class Part(StrEnum):
    KNOWN = "known"  # a public phrasing at a size the base was pretrained on
    PRIVATE = "private"  # a private phrasing, at a pretrained size
    LONGER = "longer"  # more operands than any pretraining item of its family


@cache
def pretrained_most(family: str) -> int:
    """The most operands an EASY (pretraining) item of ``family`` has, by drawing 1,000."""
    rng = random.Random(0)
    return max(len(REGISTRY[family].draw(rng, Difficulty.EASY)) for _ in range(1000))


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[a-z_]+\\\}", ".*", re.escape(template)) + "$", re.S)


def part_of(item: TaskItem) -> Part:
    """Which part of the eval set ``item`` is in (module docstring)."""
    _, operands = operands_of(item)
    if len(operands) > pretrained_most(item.family):
        return Part.LONGER
    family = REGISTRY[item.family]
    private = any(
        _pattern(p.template).match(item.prompt)
        for p in family.phrasings
        if p.share is Share.PRIVATE
    )
    return Part.PRIVATE if private else Part.KNOWN


def main() -> None:
    seeds_run = parse_seed_range(__doc__)
    model, tok = load_base("tiny", "cpu")
    pooled: dict[tuple[Quality, Part], list[float]] = {}
    for seed in seeds_run:
        items = seed_eval_items(seed)
        parts = np.array([part_of(it) for it in items])
        base = evaluate_base(model, tok, items)
        counts = "  ".join(f"{p.value} {int((parts == p).sum())}" for p in Part)
        print(f"seed {seed}: items {counts}")
        for q in RUNGS:
            served = seed_samples(seed, q)
            scored = validate_and_score(
                model, tok, served, items, base=base, answer_check=False, screen_empty=False
            )
            assert scored.measured is not None
            b, t = base.result, scored.measured.tuned
            d = (
                score.W_LOSS * (np.array(b.completion_loss) - np.array(t.completion_loss))
                + score.W_ANSWER_LOSS * (np.array(b.answer_loss) - np.array(t.answer_loss))
                + score.W_ACCURACY * (np.array(t.correct) - np.array(b.correct))
            )
            means = []
            for p in Part:
                chosen = d[parts == p]
                pooled.setdefault((q, p), []).extend(chosen.tolist())
                means.append(f"{p.value} {chosen.mean():+.3f}" if len(chosen) else f"{p.value} -")
            print(f"  {q.value:20s} " + "  ".join(means), flush=True)
    print(f"all {len(seeds_run)} seeds, mean d_i per part (items pooled)")
    for q in RUNGS:
        print(
            f"  {q.value:20s} "
            + "  ".join(f"{p.value} {np.mean(pooled[(q, p)]):+.3f}" for p in Part)
        )


if __name__ == "__main__":
    main()
