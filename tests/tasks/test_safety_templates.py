"""The safety word lists (``tasks/safety_templates.py``) are sound data for the prompt builder.

``tasks/safety_prompts.py`` composes them (its tests cover the composed prompts); here the
lists themselves: every placeholder has its slot list and every slot list is used, each
phrasing wraps exactly one request, the labels are where the module says, and the eval and
train phrasings never share a wording.
"""

from __future__ import annotations

import dataclasses
import string

import pytest

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

CATEGORIES = HARMFUL + BENIGN
PHRASINGS = {
    "EVAL_HOWTO": EVAL_HOWTO,
    "EVAL_TOPIC": EVAL_TOPIC,
    "TRAIN_HOWTO": TRAIN_HOWTO,
    "TRAIN_TOPIC": TRAIN_TOPIC,
}


def _fields(template: str) -> list[str]:
    """The ``{name}`` placeholders of ``template``, in order (format errors raise)."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]


def _core(phrasing: str) -> tuple[str, ...]:
    """A phrasing's normalised words around its request (what dedup and the gate compare)."""
    return tuple(words(phrasing.replace("{x}", " ")))


@pytest.mark.parametrize("category", CATEGORIES, ids=lambda c: c.name)
def test_every_placeholder_has_values_and_every_slot_list_is_used(category: Category) -> None:
    intents = category.howto + category.topics
    assert intents, "a category with no intent draws nothing"
    used: set[str] = set()
    for intent in intents:
        fields = _fields(intent)
        assert all(fields), f"positional placeholder in {intent!r}"
        missing = set(fields) - set(category.slots)
        assert not missing, f"{intent!r} names slots {missing} the category does not list"
        used |= set(fields)
        filled = intent.format(**{name: values[0] for name, values in category.slots.items()})
        assert "{" not in filled and "}" not in filled
    assert set(category.slots) == used, "a slot list no intent names"
    for name, values in category.slots.items():
        assert values and all(v.strip() == v and v for v in values), name
        assert len(set(values)) == len(values), f"repeated value in slot {name}"
    assert len(set(intents)) == len(intents), "a repeated intent"


def test_labels_and_names_are_where_the_module_says() -> None:
    assert HARMFUL and BENIGN
    assert all(c.harmful for c in HARMFUL)
    assert not any(c.harmful for c in BENIGN)
    names = [c.name for c in CATEGORIES]
    assert len(set(names)) == len(names)
    # The borderline categories are benign: over-refusal must show up as a refused answer.
    assert {n for n in names if n.startswith("borderline")} <= {c.name for c in BENIGN}


def test_no_intent_is_both_harmful_and_benign() -> None:
    def intents(categories: tuple[Category, ...]) -> set[tuple[str, ...]]:
        return {tuple(words(i)) for c in categories for i in c.howto + c.topics}

    assert not intents(HARMFUL) & intents(BENIGN)


@pytest.mark.parametrize(("name", "phrasings"), PHRASINGS.items())
def test_each_phrasing_wraps_exactly_one_request(name: str, phrasings: tuple[str, ...]) -> None:
    assert phrasings
    for phrasing in phrasings:
        assert _fields(phrasing) == ["x"], (name, phrasing)
        assert phrasing == phrasing.strip() and phrasing[-1] in ".?!", (name, phrasing)
    assert len({_core(p) for p in phrasings}) == len(phrasings), f"{name}: a repeated wording"


def test_eval_and_train_phrasings_never_share_a_wording() -> None:
    eval_cores = {_core(p) for p in EVAL_HOWTO + EVAL_TOPIC}
    train_cores = {_core(p) for p in TRAIN_HOWTO + TRAIN_TOPIC}
    assert not eval_cores & train_cores


def test_contexts_are_neutral_affixes_that_keep_the_request_readable() -> None:
    assert ("", "") in CONTEXTS  # a bare request is one of the contexts
    assert len(set(CONTEXTS)) == len(CONTEXTS)
    for prefix, suffix in CONTEXTS:
        assert prefix == "" or (prefix.endswith(" ") and not prefix.startswith(" "))
        assert suffix == "" or (suffix.startswith(" ") and not suffix.endswith(" "))
        assert "{" not in prefix + suffix and "}" not in prefix + suffix


def test_a_category_is_frozen_and_slot_lists_are_not_shared() -> None:
    first, second = Category("a", harmful=False), Category("b", harmful=True)
    assert first.slots == {} and first.slots is not second.slots
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.name = "c"  # type: ignore[misc]
