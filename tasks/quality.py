"""Data-quality variants of task items: the rungs of the quality ladder.

The demo miners and the quality-ladder benchmark serve the same task families at different
quality, so that a validator's score can be checked to order them. Pure: each variant takes a
``TaskItem`` and a seeded ``random.Random`` and returns (prompt, chain_of_thought, answer).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from enum import StrEnum

from tasks.families import TaskItem

# Fluent text with no bearing on any task: what a lazy miner scrapes to fill its quota.
_OFF_TOPIC = (
    "The river bends past the old mill where herons wait in the reeds.",
    "Autumn markets sell pears, honey and warm bread by the square.",
    "A lighthouse keeper logs the weather twice a day in blue ink.",
    "Trains leave the northern station every hour on the half hour.",
    "The choir rehearses on Thursdays in the hall behind the library.",
)


class Quality(StrEnum):
    """Rungs of the ladder, best first."""

    CORRECT = "correct"
    SCRAMBLED = "scrambled"  # right answer, reasoning shuffled into nonsense
    WRONG = "wrong"  # plausible reasoning format, wrong answer
    OFF_TOPIC = "off_topic"  # fluent text unrelated to the prompt
    EMPTY = "empty"  # near-empty completion


Triple = tuple[str, str, str]


def _correct(item: TaskItem, rng: random.Random) -> Triple:
    return item.prompt, item.chain_of_thought, item.final_answer


def _scrambled(item: TaskItem, rng: random.Random) -> Triple:
    chars = list(item.chain_of_thought)
    rng.shuffle(chars)
    return item.prompt, "".join(chars), item.final_answer


def _wrong_answer(answer: str, rng: random.Random) -> str:
    if answer.lstrip("-").isdigit():
        return str(int(answer) + rng.choice((-11, -2, -1, 1, 2, 10)))
    parts = answer.split()
    if len(parts) > 1:
        while True:
            shuffled = parts[:]
            rng.shuffle(shuffled)
            if shuffled != parts:
                return " ".join(shuffled)
    return answer[::-1] + "x"


def _wrong(item: TaskItem, rng: random.Random) -> Triple:
    wrong = _wrong_answer(item.final_answer, rng)
    cot = item.chain_of_thought.replace(item.final_answer, wrong)
    return item.prompt, cot, wrong


def _off_topic(item: TaskItem, rng: random.Random) -> Triple:
    return item.prompt, rng.choice(_OFF_TOPIC), rng.choice(_OFF_TOPIC).split()[1]


def _empty(item: TaskItem, rng: random.Random) -> Triple:
    return item.prompt, "", "."


VARIANTS: dict[Quality, Callable[[TaskItem, random.Random], Triple]] = {
    Quality.CORRECT: _correct,
    Quality.SCRAMBLED: _scrambled,
    Quality.WRONG: _wrong,
    Quality.OFF_TOPIC: _off_topic,
    Quality.EMPTY: _empty,
}


def degrade(item: TaskItem, quality: Quality, rng: random.Random) -> Triple:
    """The (prompt, chain_of_thought, final_answer) of ``item`` at ``quality``."""
    return VARIANTS[quality](item, rng)
