"""Verifiable reasoning task families: a prompt, a correct worked solution, a checkable answer.

Used on both sides: miners generate training data from them (the built-in procedural source)
and validators draw their private eval sets from them. Each family is pure: ``generate`` takes
a seeded ``random.Random`` and returns a ``TaskItem``; ``verify`` decides whether a generated
answer is correct. Texts are short on purpose: the embedded model reads bytes, and a few
hundred bytes per sample keep a CPU training step well under a second.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

# Word pool for sorting tasks: short, distinct, lowercase ASCII so byte tokens stay few. 78
# words taken 4-6 at a time give ~10^9 lists: two independent draws (a miner's data and a
# validator's eval item) practically never coincide, so the contamination gate only fires on
# real copies. The same reasoning sets every numeric range below.
_WORDS = (
    "apple bird cloud dog eagle fern grape house iris jam kite lemon moon nut olive pear "
    "quill rose sun tree umbra vine wolf yarn zinc acorn bell cedar drum ember flint glove "
    "harp ink jade kelp lamp mint nest oak pearl quartz reed salt thorn urn vase wheat yew "
    "anchor brook coral dune elm frost gull hazel ivy juniper knot lark maple nectar orchid "
    "plum quince raven sage tulip violet willow yucca zephyr basil cobalt dove"
).split()

# Names and objects for arithmetic word problems.
_NAMES = ("Ana", "Ben", "Cy", "Dee", "Eli", "Fay", "Gus", "Ivy")
_ITEMS = ("apples", "books", "coins", "shells", "stamps", "marbles")


@dataclass(frozen=True)
class TaskItem:
    """One task instance with its reference reasoning and answer."""

    family: str
    prompt: str
    chain_of_thought: str
    final_answer: str


def _normalise_answer(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower()).strip(" .")


def _addition(rng: random.Random) -> TaskItem:
    name = rng.choice(_NAMES)
    item = rng.choice(_ITEMS)
    a, b = rng.randint(100, 999), rng.randint(100, 999)  # 810k pairs
    hundreds = (a // 100 + b // 100) * 100
    rest = a % 100 + b % 100
    prompt = f"{name} has {a} {item} and gets {b} more. How many {item} now?"
    cot = (
        f"{a}+{b}: hundreds {a // 100 * 100}+{b // 100 * 100}={hundreds}, "
        f"rest {a % 100}+{b % 100}={rest}, {hundreds}+{rest}={a + b}."
    )
    return TaskItem("addition", prompt, cot, str(a + b))


def _subtraction(rng: random.Random) -> TaskItem:
    name = rng.choice(_NAMES)
    item = rng.choice(_ITEMS)
    a = rng.randint(300, 999)  # with b below: ~290k pairs
    b = rng.randint(100, a - 100)
    prompt = f"{name} had {a} {item} and gave away {b}. How many are left?"
    cot = f"{a}-{b}: {a}-{b // 10 * 10}={a - b // 10 * 10}, then -{b % 10} gives {a - b}."
    return TaskItem("subtraction", prompt, cot, str(a - b))


def _word_sort(rng: random.Random) -> TaskItem:
    words = rng.sample(_WORDS, rng.randint(4, 6))
    ordered = sorted(words)
    prompt = "Sort alphabetically: " + " ".join(words)
    cot = (
        "First letters: "
        + ", ".join(f"{w}={w[0]}" for w in words)
        + ". In order: "
        + " ".join(ordered)
        + "."
    )
    return TaskItem("word_sort", prompt, cot, " ".join(ordered))


def _list_max(rng: random.Random) -> TaskItem:
    values = [rng.randint(10, 999) for _ in range(rng.randint(5, 7))]  # ~10^15 lists
    best = values[0]
    steps = [str(best)]
    for v in values[1:]:
        best = max(best, v)
        steps.append(str(best))
    prompt = "Largest of: " + " ".join(map(str, values))
    cot = "Running max: " + " ".join(steps) + "."
    return TaskItem("list_max", prompt, cot, str(best))


def _list_reverse(rng: random.Random) -> TaskItem:
    values = [rng.randint(10, 99) for _ in range(rng.randint(5, 7))]  # ~10^10 lists
    prompt = "Reverse the list: " + " ".join(map(str, values))
    rev = list(reversed(values))
    cot = "Read from the end: " + ", ".join(map(str, rev)) + "."
    return TaskItem("list_reverse", prompt, cot, " ".join(map(str, rev)))


Generator = Callable[[random.Random], TaskItem]

# The registry. Adding a family changes what eval sets contain, so it bumps the evaluation
# version (validator side) — see validator/eval_set.py.
FAMILIES: dict[str, Generator] = {
    "addition": _addition,
    "subtraction": _subtraction,
    "word_sort": _word_sort,
    "list_max": _list_max,
    "list_reverse": _list_reverse,
}


def generate(rng: random.Random, families: tuple[str, ...] | None = None) -> TaskItem:
    """One task from a family chosen by ``rng`` (from ``families`` if given, else all)."""
    names = families or tuple(FAMILIES)
    return FAMILIES[rng.choice(names)](rng)


def generate_many(seed: int, count: int, families: tuple[str, ...] | None = None) -> list[TaskItem]:
    """``count`` tasks from one seed: the same seed always gives the same list."""
    rng = random.Random(seed)
    return [generate(rng, families) for _ in range(count)]


def verify(answer: str, reference: str) -> bool:
    """True when ``answer`` matches ``reference`` up to case, spacing and a trailing period.

    Every family's answer is a number or a space-separated sequence, so normalised string
    equality is the exact check: no partial credit, no substring match to game.
    """
    return _normalise_answer(answer) == _normalise_answer(reference)
