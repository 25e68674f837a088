"""The ladder's rungs are what they claim: outside phrasings are outside, wrong is wrong."""

from __future__ import annotations

import random
import string

import pytest

from tasks.families import FAMILIES, generate_many
from tasks.outside_phrasings import OUTSIDE_PHRASINGS
from tasks.quality import Quality, degrade, operands_of, reworded
from tasks.registry import REGISTRY, verify


def _skeleton(template: str) -> str:
    """A template with its slots blanked, for comparing phrasings."""
    names = [f for _, f, _, _ in string.Formatter().parse(template) if f]
    return template.format(**{n: "_" for n in names})


def test_outside_phrasings_are_not_in_the_registry() -> None:
    registered = {_skeleton(t) for f in REGISTRY for t in f.templates()}
    assert set(OUTSIDE_PHRASINGS) == set(FAMILIES)
    for family, templates in OUTSIDE_PHRASINGS.items():
        assert len(templates) >= 6, family
        for t in templates:
            assert _skeleton(t) not in registered, t


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_operands_read_back_from_every_registry_prompt(family: str) -> None:
    for item in generate_many(5, 200, (family,)):
        fam, ops = operands_of(item)
        assert fam.reason(ops) == item.chain_of_thought
        assert fam.solve(ops) == item.final_answer


def test_reworded_prompt_keeps_the_task() -> None:
    rng = random.Random(1)
    for item in generate_many(6, 200):
        prompt = reworded(item, rng)
        assert prompt != item.prompt
        fam, ops = operands_of(item)
        for v in ops:
            assert str(v) in prompt


def test_wrong_rungs_are_wrong_and_self_consistent() -> None:
    rng = random.Random(2)
    for item in generate_many(7, 300):
        for quality in (Quality.WRONG, Quality.WRONG_OTHER_WORDS):
            _, cot, answer = degrade(item, quality, rng)
            assert not verify(answer, item.final_answer), (item, answer)
            assert cot != item.chain_of_thought
            # The reasoning states the wrong answer it leads to (a careless, not a lying, solver).
            assert answer.split()[-1] in cot


def test_correct_rungs_keep_the_answer() -> None:
    rng = random.Random(3)
    for item in generate_many(8, 100):
        for quality in (Quality.CORRECT, Quality.CORRECT_OTHER_WORDS):
            _, cot, answer = degrade(item, quality, rng)
            assert (cot, answer) == (item.chain_of_thought, item.final_answer)
