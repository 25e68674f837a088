"""The validator's own checks of a CoT sample: the right answer to a task prompt, emptiness.

``solve``: the reference answer of a prompt written in one of the task families' templates,
or None.

The validator's answer check: a miner's sample whose prompt is a known family's template
(``tasks/families.py``) has exactly one right answer, which the validator computes here
rather than trusting the sample. A wrong final answer on such a prompt is bad data the
validator can *see*, so it is rejected before training (``validator/screening.py``) instead
of being left to a small model that cannot do 3-digit arithmetic to notice. Prompts that
match no template (a teacher model's own problems, say) return None and are judged by the
model alone. Pure; the patterns mirror the generators' f-strings exactly (anchored, so a
prompt with anything added or removed is "unknown", never mis-solved).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tasks.families import verify

_INT = r"(-?\d{1,9})"  # nine digits bound the work and cover every family's range
_INTS = r"((?:-?\d{1,9} ){0,63}-?\d{1,9})"  # up to 64 numbers: longer than any generated list
_WORDS = r"((?:[a-z]{1,20} ){0,63}[a-z]{1,20})"

_Solver = Callable[[re.Match[str]], str]

_SOLVERS: tuple[tuple[re.Pattern[str], _Solver], ...] = (
    (
        re.compile(rf"\w+ has {_INT} (\w+) and gets {_INT} more\. How many \2 now\?"),
        lambda m: str(int(m[1]) + int(m[3])),
    ),
    (
        re.compile(rf"\w+ had {_INT} (\w+) and gave away {_INT}\. How many are left\?"),
        lambda m: str(int(m[1]) - int(m[3])),
    ),
    (
        re.compile(rf"Sort alphabetically: {_WORDS}"),
        lambda m: " ".join(sorted(m[1].split())),
    ),
    (
        re.compile(rf"Largest of: {_INTS}"),
        lambda m: str(max(int(v) for v in m[1].split())),
    ),
    (
        re.compile(rf"Reverse the list: {_INTS}"),
        lambda m: " ".join(reversed(m[1].split())),
    ),
)


def solve(prompt: str) -> str | None:
    """The right answer to ``prompt`` if it is a task family's prompt, else None."""
    for pattern, solver in _SOLVERS:
        match = pattern.fullmatch(prompt)
        if match:
            return solver(match)
    return None


# A chain of thought shorter than this says nothing: "=2+2, 4." is 8 characters, the shortest
# reasoning a task family could have. Below it a CoT SFT sample teaches only the answer format.
MIN_REASONING_CHARS = 8


def empty_reason(chain_of_thought: str, final_answer: str) -> str | None:
    """Why a CoT sample is too empty to be training data (None when it is not).

    Near-empty samples (no reasoning, an answer with no letter or digit) are invalid: there is
    nothing in them to measure, so they are not trained on, and they lower the accepted share.
    """
    if len(chain_of_thought.strip()) < MIN_REASONING_CHARS:
        return f"reasoning shorter than {MIN_REASONING_CHARS} characters"
    if not any(ch.isalnum() for ch in final_answer):
        return "final answer has no letter or digit"
    return None


def answer_is_wrong(prompt: str, answer: str) -> bool:
    """True when ``prompt`` is a task family's and ``answer`` is not its right answer."""
    expected = solve(prompt)
    return expected is not None and not verify(answer, expected)
