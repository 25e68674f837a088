"""Seeded, deduplicated safety prompts: harmful requests to refuse, benign ones to answer.

Composes ``tasks/safety_templates.py``: every category's intents (slots filled, every
combination) times the split's phrasings, shuffled per category with a seeded
``random.Random``, drawn round-robin across categories (so a small category such as the
borderline ones is as present as a large one), each with a random neutral context.

Dedup is on the *core* of a prompt, the normalised words (``common.text.words``) of the
phrased intent without its context: two prompts that differ only by "Quick question:" or
"Thanks!" are near-copies and only the first is kept. So every pair of kept prompts differs in
intent or phrasing, and exact and normalised-text duplicates are impossible. (MinHash would add
nothing here: distinct cores of a few words share most shingles by construction, which is the
compositional design, not copying.)

Pure and deterministic: the same (label, n, seed, split) gives the same list in any process
(``random.Random`` seeded with a string hashes it with SHA-512, independent of
``PYTHONHASHSEED``).
"""

from __future__ import annotations

import hashlib
import itertools
import random
import string
from dataclasses import dataclass
from enum import StrEnum

from common.text import words
from tasks.safety_templates import (
    BENIGN,
    CONTEXTS,
    EVAL_HOWTO,
    EVAL_TOPIC,
    HARMFUL,
    TRAIN_HOWTO,
    TRAIN_TOPIC,
    Category,
)


class Label(StrEnum):
    """What a model should do with the prompt."""

    HARMFUL = "harmful"  # refuse
    BENIGN = "benign"  # answer


class Split(StrEnum):
    """Which phrasings: the validator's eval prompts, or the miners' training pairs."""

    EVAL = "eval"
    TRAIN = "train"


@dataclass(frozen=True)
class SafetyPrompt:
    """One request with its label, category and the intent it phrases (a how-to or a topic)."""

    prompt: str
    label: Label
    category: str
    intent: str
    howto: bool


class NotEnoughPrompts(ValueError):
    """The template space holds fewer distinct prompts than were asked for."""


_PHRASINGS = {
    Split.EVAL: (EVAL_HOWTO, EVAL_TOPIC),
    Split.TRAIN: (TRAIN_HOWTO, TRAIN_TOPIC),
}


def categories(label: Label) -> tuple[Category, ...]:
    """The categories of ``label``."""
    return HARMFUL if label == Label.HARMFUL else BENIGN


def slot_names(template: str) -> list[str]:
    """The ``{slot}`` names of ``template``, each once, in order of first use."""
    names = [name for _, name, _, _ in string.Formatter().parse(template) if name]
    return list(dict.fromkeys(names))


def expand(template: str, slots: dict[str, tuple[str, ...]]) -> list[str]:
    """``template`` with its ``{slot}`` fields filled in every combination, in slot order."""
    unique = slot_names(template)
    return [
        template.format(**dict(zip(unique, values, strict=True)))
        for values in itertools.product(*(slots[name] for name in unique))
    ]


def intents(category: Category) -> list[tuple[str, bool]]:
    """Every filled intent of ``category`` as ``(text, is_howto)``."""
    out = [(text, True) for t in category.howto for text in expand(t, category.slots)]
    return out + [(text, False) for t in category.topics for text in expand(t, category.slots)]


def core_key(text: str) -> str:
    """The dedup key: normalised words, space-joined (case, punctuation, spacing ignored)."""
    return " ".join(words(text))


# The splits differ in *requests*, not only in wording: the contamination gate rightly flags
# a reworded eval request, so a miner's pairs must ask for other things. Splitting filled
# intents was not enough: "sort records by a field in Java" (eval) and "... in Python" (train)
# are distinct intents that the gate's MinHash sees as one request (Jaccard 0.6), and 1.3% of
# an honest generator miner's pairs were flagged, which zeroed its preference round more often
# than not (64 pairs a round). So the unit is a *request family*: the templates of a category
# that fill a common slot (transitively), or a slot-free template alone. The train split takes
# whole families, up to this share of each category's filled intents (``train_families``). At
# 0.34 the eval split keeps 1,270 harmful and 1,710 benign distinct prompts (>= 1,200 a side
# for the shipped set) and the train split 45 harmful and 42 benign requests (84 alternating
# pairs, above a validator's 64-pair request); the gate flags none of the train split against
# the whole eval split (tests/tasks/test_safety_prompts.py).
TRAIN_FAMILY_SHARE = 0.34


def request_families(category: Category) -> dict[str, str]:
    """Each intent template of ``category`` -> its family, named by its least template.

    Templates that fill a common slot are one family, transitively: "write {malware} that
    {goal}" and "the code for {malware} that {goal}" ask for the same things in other words.
    """
    templates = [*category.howto, *category.topics]
    slots = {t: set(slot_names(t)) for t in templates}
    family = {t: t for t in templates}  # union-find; a root is always its family's least

    def root(t: str) -> str:
        while family[t] != t:
            t = family[t]
        return t

    for i, a in enumerate(templates):
        for b in templates[i + 1 :]:
            if slots[a] & slots[b]:
                ra, rb = root(a), root(b)
                family[max(ra, rb)] = min(ra, rb)
    return {t: root(t) for t in templates}


def train_families(category: Category) -> set[str]:
    """The families of ``category`` in the train split.

    Fixed and balanced: families in a hash order, each taken while the train split's filled
    intents stay within ``TRAIN_FAMILY_SHARE`` of the category's (a large family that would
    overflow it is skipped, a smaller one after it may still fit).
    """
    families = request_families(category)
    size: dict[str, int] = {}
    for template, family in families.items():
        size[family] = size.get(family, 0) + len(expand(template, category.slots))
    budget = TRAIN_FAMILY_SHARE * sum(size.values())
    chosen: set[str] = set()
    taken = 0
    for family in sorted(
        size, key=lambda f: hashlib.sha256(f"{category.name}|{f}".encode()).digest()
    ):
        if taken + size[family] <= budget:
            chosen.add(family)
            taken += size[family]
    return chosen


def template_splits(category: Category) -> dict[str, Split]:
    """Each intent template of ``category`` -> the split it belongs to."""
    families, train = request_families(category), train_families(category)
    return {t: Split.TRAIN if f in train else Split.EVAL for t, f in families.items()}


def _cores(category: Category, split: Split) -> list[tuple[str, str, bool]]:
    """Every (phrased core, intent, is_howto) of ``category`` in ``split``, in a fixed order."""
    howto, topic = _PHRASINGS[split]
    templates = [(t, True) for t in category.howto] + [(t, False) for t in category.topics]
    in_split = template_splits(category)
    return [
        (phrasing.format(x=intent), intent, is_howto)
        for template, is_howto in templates
        if in_split[template] == split
        for intent in expand(template, category.slots)
        for phrasing in (howto if is_howto else topic)
    ]


def space_size(label: Label, split: Split = Split.EVAL) -> int:
    """How many distinct prompt cores ``label`` has in ``split`` (the most ``generate`` gives)."""
    if split == Split.TRAIN:  # one prompt per request (see ``generate``)
        return len({intent for c in categories(label) for _, intent, _ in _cores(c, split)})
    return len({core_key(core) for c in categories(label) for core, _, _ in _cores(c, split)})


def _with_context(core: str, rng: random.Random) -> str:
    prefix, suffix = rng.choice(CONTEXTS)
    return f"{prefix}{core}{suffix}"


def generate(
    label: Label, n: int, seed: int | str, split: Split = Split.EVAL
) -> list[SafetyPrompt]:
    """``n`` distinct prompts of ``label``, round-robin over its categories.

    Raises ``NotEnoughPrompts`` when the split's space is smaller than ``n``.
    """
    rng = random.Random(f"safety-prompts|{seed}|{label}|{split}")
    queues: list[tuple[Category, list[tuple[str, str, bool]]]] = []
    for category in categories(label):
        cores = _cores(category, split)
        rng.shuffle(cores)
        queues.append((category, cores))
    seen: set[str] = set()
    out: list[SafetyPrompt] = []
    while len(out) < n and any(cores for _, cores in queues):
        for category, cores in queues:
            while cores and len(out) < n:
                core, intent, is_howto = cores.pop()
                # Training pairs: one per request (two wordings of one request are one sample
                # to dedup); eval prompts: one per wording (the shipped set needs the room).
                key = intent if split == Split.TRAIN else core_key(core)
                if key in seen:
                    continue
                seen.add(key)
                prompt = _with_context(core, rng)
                out.append(SafetyPrompt(prompt, label, category.name, intent, is_howto))
                break
    if len(out) < n:
        raise NotEnoughPrompts(f"{label}/{split} has {len(out)} distinct prompts, asked for {n}")
    return out
