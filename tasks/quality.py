"""Data-quality variants of task items: the rungs of the quality ladder.

The demo miners and the quality-ladder benchmark serve the same tasks at different quality,
so that a validator's score can be checked to order them. Pure: each variant takes a
``TaskItem`` and a seeded ``random.Random`` and returns (prompt, chain_of_thought, answer).

Two rungs reword the prompt in ``tasks/outside_phrasings.py``: templates written the way an
outside teacher model would phrase the same task, kept out of the registry, so the validator
has never seen them and the answer check may or may not read them. They test that the score
prices the skill the data teaches, not its resemblance to the validator's templates.

Wrong answers are self-consistent: the reasoning and the answer of *perturbed operands* (one
number off, one word swapped for another) under the original prompt, the way a careless
solver misreads one value and then reasons correctly from it. Their reasoning is as fluent as
a right one; only the content is wrong.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from enum import StrEnum

from common.text import canonical
from tasks.families import WORDS
from tasks.outside_phrasings import OUTSIDE_PHRASINGS
from tasks.registry import REGISTRY, Family, Operands, TaskItem

# Fluent text with no bearing on any task: what a lazy miner scrapes to fill its quota.
_OFF_TOPIC = (
    "The river bends past the old mill where herons wait in the reeds.",
    "Autumn markets sell pears, honey and warm bread by the square.",
    "A lighthouse keeper logs the weather twice a day in blue ink.",
    "Trains leave the northern station every hour on the half hour.",
    "The choir rehearses on Thursdays in the hall behind the library.",
)

# How far a careless solver's misread number is off: small slips and a dropped/added ten.
_SLIPS = (-11, -2, -1, 1, 2, 10)


class Quality(StrEnum):
    """Rungs of the ladder: the two correct ones first, then the flawed ones."""

    CORRECT = "correct"
    CORRECT_OTHER_WORDS = "correct_other_words"  # right data, prompts in outside phrasings
    SCRAMBLED = "scrambled"  # right answer, reasoning shuffled into nonsense
    WRONG = "wrong"  # plausible, self-consistent reasoning to a wrong answer
    WRONG_OTHER_WORDS = "wrong_other_words"  # the same, prompts in outside phrasings
    OFF_TOPIC = "off_topic"  # fluent text unrelated to the prompt
    EMPTY = "empty"  # near-empty completion


Triple = tuple[str, str, str]


def operands_of(item: TaskItem) -> tuple[Family, Operands]:
    """The family and operands of a registry-generated item (read back by its parser)."""
    family = REGISTRY[item.family]
    candidates = family.parse(canonical(item.prompt))
    # The longest reading: a registry prompt names its operands and no other number.
    operands = max((c for c in candidates if family.solve(c) == item.final_answer), key=len)
    return family, operands


def _perturbed(family: Family, operands: Operands, rng: random.Random) -> Operands:
    """``operands`` with one value misread, such that the answer changes."""
    for _ in range(64):
        i = rng.randrange(len(operands))
        values: list[int | str] = list(operands)
        value = values[i]
        if isinstance(value, int):
            values[i] = max(0, value + rng.choice(_SLIPS))
        else:
            values[i] = rng.choice([w for w in WORDS if w not in operands])
        out: Operands = tuple(values)  # type: ignore[assignment]
        if family.solve(out) != family.solve(operands):
            return out
    raise ValueError(f"no answer-changing slip for {operands}")  # unreachable for the families


def reworded(item: TaskItem, rng: random.Random) -> str:
    """``item``'s task in an outside phrasing (one the registry does not hold)."""
    family, operands = operands_of(item)
    template = rng.choice(OUTSIDE_PHRASINGS[item.family])
    return template.format(**family.slots(operands, rng))


def _correct(item: TaskItem, rng: random.Random) -> Triple:
    return item.prompt, item.chain_of_thought, item.final_answer


def _correct_other_words(item: TaskItem, rng: random.Random) -> Triple:
    return reworded(item, rng), item.chain_of_thought, item.final_answer


def _scrambled(item: TaskItem, rng: random.Random) -> Triple:
    chars = list(item.chain_of_thought)
    rng.shuffle(chars)
    return item.prompt, "".join(chars), item.final_answer


def _wrong_solution(item: TaskItem, rng: random.Random) -> tuple[str, str]:
    family, operands = operands_of(item)
    slipped = _perturbed(family, operands, rng)
    return family.reason(slipped), family.solve(slipped)


def _wrong(item: TaskItem, rng: random.Random) -> Triple:
    return (item.prompt, *_wrong_solution(item, rng))


def _wrong_other_words(item: TaskItem, rng: random.Random) -> Triple:
    prompt = reworded(item, rng)
    return (prompt, *_wrong_solution(item, rng))


def _off_topic(item: TaskItem, rng: random.Random) -> Triple:
    return item.prompt, rng.choice(_OFF_TOPIC), rng.choice(_OFF_TOPIC).split()[1]


def _empty(item: TaskItem, rng: random.Random) -> Triple:
    return item.prompt, "", "."


VARIANTS: dict[Quality, Callable[[TaskItem, random.Random], Triple]] = {
    Quality.CORRECT: _correct,
    Quality.CORRECT_OTHER_WORDS: _correct_other_words,
    Quality.SCRAMBLED: _scrambled,
    Quality.WRONG: _wrong,
    Quality.WRONG_OTHER_WORDS: _wrong_other_words,
    Quality.OFF_TOPIC: _off_topic,
    Quality.EMPTY: _empty,
}


def degrade(item: TaskItem, quality: Quality, rng: random.Random) -> Triple:
    """The (prompt, chain_of_thought, final_answer) of ``item`` at ``quality``."""
    return VARIANTS[quality](item, rng)
