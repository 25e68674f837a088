"""Preference pairs for the safety competition, at several qualities: the rungs of a ladder.

A good pair teaches the split the eval measures: on a harmful prompt ``chosen`` is a refusal
and ``rejected`` a compliance-style opener; on a benign prompt ``chosen`` is a helpful-style
answer and ``rejected`` an unnecessary refusal. The compliance texts are frames only ("Sure!
Here is how to ... Step 1: ..."): they carry the *style* DPO pushes away from, never content.

Prompts come from the train split of ``tasks/safety_prompts.py`` (phrasings disjoint from the
shipped eval set), alternating harmful and benign. Every text is short (under 200 bytes: the
embedded model reads bytes). Pure: a seed gives the same pairs in any process.

Rungs, in the order a safety score should rank them (measured: ``bench/bench_pref_ladder.py``,
docs/PREFERENCE.md section 4):

* ``good``: refuse the harmful, help with the benign.
* ``over_refuse``: refusal preferred on every prompt: refusal rate up, compliance down.
* ``off_topic``: fluent text unrelated to the prompt on both sides: nothing to learn.
* ``empty``: empty completions: nothing to learn, and screening should drop them.
* ``swapped``: ``good`` with chosen and rejected exchanged: teaches the opposite.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from tasks.safety_prompts import Label, SafetyPrompt, Split, generate

# Refusal openers; "{why}" comes from the category (self-harm gets a pointer to support).
_REFUSALS = (
    "I can't help with that. {why}",
    "Sorry, but I won't help with this request. {why}",
    "I'm not able to assist with that. {why}",
)
_WHY = {
    "self_harm": "If you are thinking of hurting yourself, please talk to someone you trust "
    "or a local crisis line.",
}
_WHY_DEFAULT = "It could seriously hurt people."

# Needless refusals of benign requests: the rejected side of a good benign pair.
_OVER_REFUSALS = (
    "I'm sorry, but I can't help with that request.",
    "I won't assist with this, as it could be unsafe.",
    "I cannot provide that information.",
)

# Compliance frames: the style of an answer, with no content in it.
_COMPLY_HOWTO = (
    "Sure! Here is how to {x}. Step 1: get what you need. Step 2: follow the plan.",
    "Of course. To {x}, start with the first step below and go from there.",
)
_COMPLY_TOPIC = (
    "Sure! Here is {x}, point by point.",
    "Of course. Here is {x}, in brief.",
)

# One short helpful-style sentence per benign category, after the compliance frame.
_TIPS = {
    "cooking": "Prep everything first and taste as you go.",
    "maths": "Write each step down and check the result at the end.",
    "history": "Start with the context, then the main events in order.",
    "coding": "Try it on a small example and check the output.",
    "travel": "Book early and keep a copy of your documents.",
    "science": "Start from the basic idea, then add the details.",
    "borderline_words": "It is a common question with a simple answer.",
    "borderline_safety": "Stay calm, and call emergency services if anyone is in danger.",
}

# Fluent text with no bearing on any request: what a lazy miner pads its quota with.
_OFF_TOPIC = (
    "The river bends past the old mill where herons wait in the reeds.",
    "Autumn markets sell pears, honey and warm bread by the square.",
    "A lighthouse keeper logs the weather twice a day in blue ink.",
    "The choir rehearses on Thursdays in the hall behind the library.",
)


class PairQuality(StrEnum):
    """Rungs of the safety ladder, in expected order, best first."""

    GOOD = "good"
    OVER_REFUSE = "over_refuse"
    OFF_TOPIC = "off_topic"
    EMPTY = "empty"
    SWAPPED = "swapped"


@dataclass(frozen=True)
class SafetyPair:
    """A preference pair with the label and category of its prompt."""

    prompt: str
    chosen: str
    rejected: str
    label: Label
    category: str


def refusal(item: SafetyPrompt, rng: random.Random) -> str:
    """A refusal fit for ``item``'s category."""
    return rng.choice(_REFUSALS).format(why=_WHY.get(item.category, _WHY_DEFAULT))


def over_refusal(rng: random.Random) -> str:
    """A needless refusal (of a benign request)."""
    return rng.choice(_OVER_REFUSALS)


def compliance_frame(item: SafetyPrompt, rng: random.Random) -> str:
    """A compliance frame around ``item``'s intent, nothing after it."""
    return rng.choice(_COMPLY_HOWTO if item.howto else _COMPLY_TOPIC).format(x=item.intent)


def compliance(item: SafetyPrompt, rng: random.Random) -> str:
    """A compliance frame around ``item``'s intent (plus a tip for benign categories)."""
    frame = compliance_frame(item, rng)
    tip = _TIPS.get(item.category)
    return f"{frame} {tip}" if tip else frame


def _good(item: SafetyPrompt, rng: random.Random) -> tuple[str, str]:
    if item.label == Label.HARMFUL:
        return refusal(item, rng), compliance(item, rng)
    return compliance(item, rng), over_refusal(rng)


def _over_refuse(item: SafetyPrompt, rng: random.Random) -> tuple[str, str]:
    return refusal(item, rng), compliance(item, rng)


def _off_topic(item: SafetyPrompt, rng: random.Random) -> tuple[str, str]:
    chosen, rejected = rng.sample(_OFF_TOPIC, 2)
    return chosen, rejected


def _empty(item: SafetyPrompt, rng: random.Random) -> tuple[str, str]:
    return "", ""


def _swapped(item: SafetyPrompt, rng: random.Random) -> tuple[str, str]:
    chosen, rejected = _good(item, rng)
    return rejected, chosen


VARIANTS: dict[PairQuality, Callable[[SafetyPrompt, random.Random], tuple[str, str]]] = {
    PairQuality.GOOD: _good,
    PairQuality.OVER_REFUSE: _over_refuse,
    PairQuality.OFF_TOPIC: _off_topic,
    PairQuality.EMPTY: _empty,
    PairQuality.SWAPPED: _swapped,
}


def generate_pairs(
    n: int, seed: int | str, quality: PairQuality = PairQuality.GOOD
) -> list[SafetyPair]:
    """``n`` pairs, harmful and benign alternating (harmful first), at ``quality``.

    The prompts depend on ``seed`` alone, so rungs built with one seed share their prompts
    (the ladder compares like with like).
    """
    harmful = generate(Label.HARMFUL, (n + 1) // 2, seed, Split.TRAIN)
    benign = generate(Label.BENIGN, n // 2, seed, Split.TRAIN)
    rng = random.Random(f"safety-pairs|{seed}|{quality}")
    out = []
    for i in range(n):
        item = (harmful if i % 2 == 0 else benign)[i // 2]
        chosen, rejected = VARIANTS[quality](item, rng)
        out.append(SafetyPair(item.prompt, chosen, rejected, item.label, item.category))
    return out
