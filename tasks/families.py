"""The verifiable task families, registered in ``tasks.registry.REGISTRY``.

Used on both sides: miners generate training data from them (the built-in procedural source),
validators draw their private eval sets from them, and the embedded base is pretrained on
their PUBLIC phrasings at EASY sizes. Texts are short on purpose: a few dozen tokens per
sample keep a CPU training step well under a second.

Families, and why each is shaped so: the embedded 1.4M-parameter base must learn every family
to partial competence in a CPU pretraining of under half an hour (docs/SCORING.md, "The
base"). Each worked solution is a chain of local steps a small model can imitate (a running
maximum, a read-back, column addition with carries), never one global leap.

- ``list_reverse``: read a list of 2-digit numbers back from the end.
- ``list_max``: the largest of a list, through a running maximum.
- ``word_sort``: a few words in alphabetical order, through their first letters.
- ``addition``: two 2-digit numbers, column by column with the carry.

Dropped from tasks/1: 3-digit ``addition`` and ``subtraction`` with hundreds/rest reasoning
(the base got none right in any recipe tried; column addition of 2-digit numbers replaced
them), see docs/SCORING.md.
"""

from __future__ import annotations

import random
import re
from collections import Counter

from tasks.registry import (
    REGISTRY,
    Difficulty,
    Family,
    Operands,
    Phrasing,
    Share,
    TaskItem,
)

__all__ = ["FAMILIES", "TaskItem", "generate", "generate_many", "verify"]

from tasks.registry import verify  # noqa: E402  (re-exported: the answer check's one verifier)

# Word pool for sorting: short, distinct, lowercase ASCII so byte tokens stay few; distinct
# first letters are not required (the reasoning names them, ties are resolved by the word).
# 78 words taken 3-5 at a time give ~2.7 x 10^9 ordered lists: a miner's data and a
# validator's eval item practically never coincide, so the contamination gate only fires on
# real copies. The same reasoning sets every numeric range below.
WORDS = (
    "apple bird cloud dog eagle fern grape house iris jam kite lemon moon nut olive pear "
    "quill rose sun tree umbra vine wolf yarn zinc acorn bell cedar drum ember flint glove "
    "harp ink jade kelp lamp mint nest oak pearl quartz reed salt thorn urn vase wheat yew "
    "anchor brook coral dune elm frost gull hazel ivy juniper knot lark maple nectar orchid "
    "plum quince raven sage tulip violet willow yucca zephyr basil cobalt dove"
).split()

# Names and objects for word problems.
NAMES = ("Ana", "Ben", "Cy", "Dee", "Eli", "Fay", "Gus", "Jo")  # none is a pool word
OBJECTS = ("apples", "books", "coins", "shells", "stamps", "marbles")

# List lengths: the base learns on up to 5 elements; eval sets and miners go to 7, so there is
# something left for 64 good samples to teach (and for bad ones to unteach). PUBLIC phrasings
# all end with their operands, space-separated as the reasoning writes them: the base can
# learn each skill as "read back from the end of the prompt" under any wording of the
# request (docs/SCORING.md, "The base"); PRIVATE ones put the operands mid-sentence or
# comma-separated, which the base never saw.
_LIST_LEN = {Difficulty.EASY: (3, 5), Difficulty.FULL: (3, 7)}
_SORT_LEN = {Difficulty.EASY: (3, 4), Difficulty.FULL: (3, 5)}

_NUMBER = re.compile(r"-?\d+")
# A run of numbers: separated only by spaces, commas, semicolons or "and".
_NUMBER_RUN = re.compile(r"-?\d+(?:(?:\s*[,;]\s*|\s+and\s+|\s+)-?\d+)+")
_WORD = re.compile(r"[^\W\d_]+")


def _common_slots(rng: random.Random) -> dict[str, str]:
    return {"name": rng.choice(NAMES), "item": rng.choice(OBJECTS)}


def _list_slots(ops: Operands, rng: random.Random) -> dict[str, str]:
    values = [str(v) for v in ops]
    return {**_common_slots(rng), "list": " ".join(values), "list_c": ", ".join(values)}


def _number_runs(text: str) -> list[Operands]:
    """Each maximal run of 2+ numbers in ``text``, all its numbers, and its operand-sized ones.

    A prompt may carry numbers that are not operands: an id, a step number inside the list.
    Operands of one prompt share their size (the families' lists are 2-digit numbers), so
    the reading that keeps only the numbers of the commonest digit count drops those: a right
    answer is never charged for them, while a misread operand (same size) is still caught.
    """
    runs: list[Operands] = [
        tuple(int(v) for v in _NUMBER.findall(m.group())) for m in _NUMBER_RUN.finditer(text)
    ]
    raw = _NUMBER.findall(text)
    readings = set(runs)
    if len(raw) >= 2:
        readings.add(tuple(int(v) for v in raw))
        sizes = Counter(len(v.lstrip("-")) for v in raw)
        common = sizes.most_common(1)[0][0]
        sized = tuple(int(v) for v in raw if len(v.lstrip("-")) == common)
        if len(sized) >= 2:
            readings.add(sized)
    return sorted(readings)


def _draw_list(rng: random.Random, difficulty: Difficulty) -> Operands:
    lo, hi = _LIST_LEN[difficulty]
    return tuple(rng.randint(10, 99) for _ in range(rng.randint(lo, hi)))


# --- list_reverse -------------------------------------------------------------------------


def _reverse_reason(ops: Operands) -> str:
    return "Read from the end: " + " ".join(str(v) for v in reversed(ops)) + "."


def _reverse_miss(ops: Operands, rng: random.Random) -> tuple[str, str] | None:
    """Two neighbours of the read-back swapped."""
    back = [str(v) for v in reversed(ops)]
    i = rng.randrange(len(back) - 1)
    back[i], back[i + 1] = back[i + 1], back[i]
    answer = " ".join(back)
    return f"Read from the end: {answer}.", answer


REGISTRY.register(
    Family(
        name="list_reverse",
        draw=_draw_list,
        slots=_list_slots,
        reason=_reverse_reason,
        solve=lambda ops: " ".join(str(v) for v in reversed(ops)),
        near_miss=_reverse_miss,
        detect=re.compile(
            r"revers|backward|opposite order|last to first|end to (?:the )?start|flip|invert"
        ),
        parse=_number_runs,
        phrasings=(
            Phrasing("Reverse the list: {list}", Share.PUBLIC),
            Phrasing("reverse: {list}", Share.PUBLIC),
            Phrasing("Write these numbers backwards: {list}", Share.PUBLIC),
            Phrasing("Read them last to first: {list}", Share.PUBLIC),
            Phrasing("Give in reverse order: {list}", Share.PUBLIC),
            Phrasing("List reversed, please: {list}", Share.PUBLIC),
            Phrasing("Reverse this list: {list_c}", Share.PUBLIC),
            Phrasing("Please reverse {list_c}.", Share.PUBLIC),
            Phrasing("Write {list} backwards.", Share.PUBLIC),
            Phrasing("What is the list {list} reversed?", Share.PUBLIC),
            Phrasing("Can you reverse [{list_c}]?", Share.PUBLIC),
            Phrasing("{name} wrote {list_c}. Write it in reverse order.", Share.PUBLIC),
            Phrasing("Flip the order of {list}.", Share.PUBLIC),
            Phrasing("Numbers: {list_c}. Give them backwards.", Share.PUBLIC),
            Phrasing("reverse [{list_c}]", Share.PUBLIC),
            Phrasing("Put {list_c} in reverse order, please.", Share.PUBLIC),
            Phrasing("What is {list_c} in reverse order?", Share.PRIVATE),
            Phrasing("Give the list {list} in the opposite order.", Share.PRIVATE),
            Phrasing("Q: {list} backwards? A:", Share.PRIVATE),
            Phrasing(
                "{name} lines up cards {list_c}. Say them from the end to the start.", Share.PRIVATE
            ),
        ),
    )
)


# --- list_max -----------------------------------------------------------------------------


def _max_reason(ops: Operands) -> str:
    best = int(ops[0])
    steps = [str(best)]
    for v in ops[1:]:
        best = max(best, int(v))
        steps.append(str(best))
    return "Running max: " + " ".join(steps) + "."


def _max_miss(ops: Operands, rng: random.Random) -> tuple[str, str] | None:
    """One step of the running maximum wrong: a larger value missed, or a smaller one taken."""
    values = [int(v) for v in ops]
    updates = [i for i in range(1, len(values)) if values[i] > max(values[:i])]
    step = rng.choice(updates) if updates and rng.random() < 0.5 else rng.randrange(1, len(values))
    best = values[0]
    steps = [best]
    for i, v in enumerate(values[1:], start=1):
        if i == step:
            best = best if v > best else v  # the comparison at this step goes the wrong way
        else:
            best = max(best, v)
        steps.append(best)
    return "Running max: " + " ".join(str(v) for v in steps) + ".", str(best)


REGISTRY.register(
    Family(
        name="list_max",
        draw=_draw_list,
        slots=_list_slots,
        reason=_max_reason,
        near_miss=_max_miss,
        solve=lambda ops: str(max(int(v) for v in ops)),
        detect=re.compile(r"larg|big|great|max|high|most|top score|best"),
        parse=_number_runs,
        phrasings=(
            Phrasing("Largest of: {list}", Share.PUBLIC),
            Phrasing("Find the maximum: {list}", Share.PUBLIC),
            Phrasing("max {list}", Share.PUBLIC),
            Phrasing("Which is biggest: {list}", Share.PUBLIC),
            Phrasing("Highest number: {list}", Share.PUBLIC),
            Phrasing("Pick the greatest value: {list}", Share.PUBLIC),
            Phrasing("What is the largest of {list_c}?", Share.PUBLIC),
            Phrasing("Find the max of [{list_c}].", Share.PUBLIC),
            Phrasing("Which number is biggest in {list}?", Share.PUBLIC),
            Phrasing("{name} rolled {list_c}. Which roll was highest?", Share.PUBLIC),
            Phrasing("Give the maximum of {list_c}.", Share.PUBLIC),
            Phrasing("Biggest value in {list}, please.", Share.PUBLIC),
            Phrasing("max of [{list_c}]", Share.PUBLIC),
            Phrasing("Numbers: {list_c}. Which is the largest?", Share.PUBLIC),
            Phrasing("Tell me the highest of {list}.", Share.PUBLIC),
            Phrasing("The greatest number among {list_c} is?", Share.PUBLIC),
            Phrasing("What is the largest number in {list_c}?", Share.PRIVATE),
            Phrasing("{name} scored {list_c}. What was the best score?", Share.PRIVATE),
            Phrasing("Out of {list_c}, which number is the most?", Share.PRIVATE),
            Phrasing(
                "{name} weighed bags of {list} grams. How heavy was the biggest?", Share.PRIVATE
            ),
        ),
    )
)


# --- word_sort ----------------------------------------------------------------------------


def _draw_words(rng: random.Random, difficulty: Difficulty) -> Operands:
    lo, hi = _SORT_LEN[difficulty]
    return tuple(rng.sample(WORDS, rng.randint(lo, hi)))


def _word_slots(ops: Operands, rng: random.Random) -> dict[str, str]:
    words = [str(w) for w in ops]
    return {**_common_slots(rng), "words": " ".join(words), "words_c": ", ".join(words)}


def _sort_reason(ops: Operands) -> str:
    return f"By first letters: {' '.join(sorted(str(w) for w in ops))}."


# Pool words by their detector form (``common.text.match_words`` reads "l" as "i": the
# confusables data maps some look-alikes of "l" to "i"), so "lemon" in look-alike letters is
# still "lemon".
_POOL_BY_MATCH = {w.replace("l", "i"): w for w in WORDS}


def _word_runs(text: str) -> list[Operands]:
    """The pool words of ``text`` in order (the only words a sort prompt sorts)."""
    found = tuple(
        _POOL_BY_MATCH[w]
        for w in (m.replace("l", "i") for m in _WORD.findall(text))
        if w in _POOL_BY_MATCH
    )
    return [found] if len(found) >= 2 else []


def _sort_miss(ops: Operands, rng: random.Random) -> tuple[str, str] | None:
    """Two neighbours of the sorted order swapped."""
    order = sorted(str(w) for w in ops)
    i = rng.randrange(len(order) - 1)
    order[i], order[i + 1] = order[i + 1], order[i]
    answer = " ".join(order)
    return f"By first letters: {answer}.", answer


REGISTRY.register(
    Family(
        name="word_sort",
        draw=_draw_words,
        slots=_word_slots,
        reason=_sort_reason,
        near_miss=_sort_miss,
        solve=lambda ops: " ".join(sorted(str(w) for w in ops)),
        detect=re.compile(r"sort|alphabet|a to z|dictionary|a-z"),
        parse=_word_runs,
        phrasings=(
            Phrasing("Sort alphabetically: {words}", Share.PUBLIC),
            Phrasing("sort: {words}", Share.PUBLIC),
            Phrasing("Arrange from a to z: {words}", Share.PUBLIC),
            Phrasing("Alphabetize: {words}", Share.PUBLIC),
            Phrasing("Put in dictionary order: {words}", Share.PUBLIC),
            Phrasing("Order these alphabetically: {words}", Share.PUBLIC),
            Phrasing("Sort these words: {words_c}.", Share.PUBLIC),
            Phrasing("Please alphabetize {words_c}.", Share.PUBLIC),
            Phrasing("Can you sort [{words_c}]?", Share.PUBLIC),
            Phrasing("{name} has the words {words}. Sort them.", Share.PUBLIC),
            Phrasing("Words: {words_c}. Put them in alphabetical order.", Share.PUBLIC),
            Phrasing("sort [{words_c}]", Share.PUBLIC),
            Phrasing("Alphabetical order of {words}, please.", Share.PUBLIC),
            Phrasing("Write {words_c} in a to z order.", Share.PUBLIC),
            Phrasing("What is {words} sorted alphabetically?", Share.PUBLIC),
            Phrasing("Arrange {words_c} alphabetically.", Share.PUBLIC),
            Phrasing("Put in alphabetical order: {words_c}", Share.PRIVATE),
            Phrasing("{name} has cards saying {words_c}. Sort them A to Z.", Share.PRIVATE),
            Phrasing("What is the dictionary order of {words}?", Share.PRIVATE),
            Phrasing("Q: {words} sorted? A:", Share.PRIVATE),
        ),
    )
)


# --- addition -----------------------------------------------------------------------------


def _draw_pair(rng: random.Random, difficulty: Difficulty) -> Operands:
    return (rng.randint(10, 99), rng.randint(10, 99))  # 8,100 pairs; the prompt varies them


def _pair_slots(ops: Operands, rng: random.Random) -> dict[str, str]:
    return {**_common_slots(rng), "a": str(ops[0]), "b": str(ops[1])}


def _column_sum(a: int, b: int, ones: int, carry: int, tens: int) -> str:
    return (
        f"Ones: {a % 10}+{b % 10}={ones}, carry {carry}. "
        f"Tens: {a // 10}+{b // 10}+{carry}={tens}. So {tens * 10 + ones % 10}."
    )


def _add_reason(ops: Operands) -> str:
    a, b = int(ops[0]), int(ops[1])
    ones = a % 10 + b % 10
    return _column_sum(a, b, ones, ones // 10, a // 10 + b // 10 + ones // 10)


def _add_miss(ops: Operands, rng: random.Random) -> tuple[str, str] | None:
    """A column slip: the carry lost, or a column's sum off by one."""
    a, b = int(ops[0]), int(ops[1])
    ones = a % 10 + b % 10
    carry = ones // 10
    slip = rng.choice(("carry", "ones", "tens"))
    if slip == "carry":
        carry = 1 - carry
    elif slip == "ones":
        ones = max(0, ones + rng.choice((-1, 1)))
        carry = ones // 10
    tens = a // 10 + b // 10 + carry + (rng.choice((-1, 1)) if slip == "tens" else 0)
    reasoning = _column_sum(a, b, ones, carry, tens)
    return reasoning, reasoning.rsplit(" ", 1)[1].rstrip(".")


def _pairs(text: str) -> list[Operands]:
    """Every ordered pair of numbers in ``text`` (a padded prompt still names its two)."""
    values = [int(v) for v in _NUMBER.findall(text)]
    return [(values[i], values[j]) for i in range(len(values)) for j in range(i + 1, len(values))]


REGISTRY.register(
    Family(
        name="addition",
        draw=_draw_pair,
        slots=_pair_slots,
        reason=_add_reason,
        solve=lambda ops: str(int(ops[0]) + int(ops[1])),
        near_miss=_add_miss,
        detect=re.compile(r"\+|plus|add|sum|total|more|in all|altogether|together|combined"),
        parse=_pairs,
        phrasings=(
            Phrasing("Add {a} and {b}", Share.PUBLIC),
            Phrasing("What is {a} plus {b}", Share.PUBLIC),
            Phrasing("{a} + {b} =", Share.PUBLIC),
            Phrasing("Sum of {a} and {b}", Share.PUBLIC),
            Phrasing("Compute {a} + {b}", Share.PUBLIC),
            Phrasing("Total of {a} and {b}", Share.PUBLIC),
            Phrasing("What is {a} + {b}?", Share.PUBLIC),
            Phrasing("{name} has {a} {item} and buys {b} more. How many in total?", Share.PUBLIC),
            Phrasing("Find the sum of {a} and {b}.", Share.PUBLIC),
            Phrasing("Add: {a}, {b}", Share.PUBLIC),
            Phrasing("{a} plus {b} is?", Share.PUBLIC),
            Phrasing("Work out {a} + {b}.", Share.PUBLIC),
            Phrasing("There are {a} {item} and {b} more. Total?", Share.PUBLIC),
            Phrasing("add {a} {b}", Share.PUBLIC),
            Phrasing("What do {a} and {b} add up to?", Share.PUBLIC),
            Phrasing("{a} and {b} added together?", Share.PUBLIC),
            Phrasing(
                "{name} has {a} {item} and gets {b} more. How many {item} now?", Share.PRIVATE
            ),
            Phrasing("A box holds {a} {item}, another {b}. How many in all?", Share.PRIVATE),
            Phrasing("{name} walked {a} steps, then {b} more. How many steps?", Share.PRIVATE),
            Phrasing("Put {a} and {b} together: how much?", Share.PRIVATE),
        ),
    )
)


FAMILIES: dict[str, Family] = {f.name: f for f in REGISTRY}


def generate(
    rng: random.Random,
    families: tuple[str, ...] | None = None,
    difficulty: Difficulty = Difficulty.FULL,
    shares: tuple[Share, ...] = tuple(Share),
    near_misses: int = 0,
) -> TaskItem:
    """One task from a family chosen by ``rng`` (from ``families`` if given, else all)."""
    names = families or REGISTRY.names()
    return REGISTRY[rng.choice(names)].item(rng, difficulty, shares, near_misses)


def generate_many(
    seed: int,
    count: int,
    families: tuple[str, ...] | None = None,
    difficulty: Difficulty = Difficulty.FULL,
    shares: tuple[Share, ...] = tuple(Share),
    near_misses: int = 0,
) -> list[TaskItem]:
    """``count`` tasks from one seed: the same seed always gives the same list."""
    rng = random.Random(seed)
    return [generate(rng, families, difficulty, shares, near_misses) for _ in range(count)]
