"""The answer check solves every family's prompts and refuses everything else."""

from __future__ import annotations

import random

import pytest

from tasks.families import FAMILIES, generate_many, verify
from tasks.quality import Quality, degrade
from tasks.solve import empty_reason, solve


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_solves_every_generated_prompt(family: str) -> None:
    for item in generate_many(11, 300, (family,)):
        answer = solve(item.prompt)
        assert answer is not None, item.prompt
        assert verify(answer, item.final_answer), (item.prompt, answer, item.final_answer)


def test_wrong_rungs_fail_the_check() -> None:
    rng = random.Random(3)
    for item in generate_many(12, 300):
        for quality in (Quality.WRONG, Quality.OFF_TOPIC, Quality.EMPTY):
            prompt, _, answer = degrade(item, quality, rng)
            assert not verify(answer, solve(prompt) or ""), (quality, prompt, answer)


@pytest.mark.parametrize(
    "prompt",
    [
        "What is the capital of France?",
        "Ana has 12 apples and gets 3 more. How many pears now?",  # item changed mid-sentence
        "Ana has 12 apples and gets 3 more. How many apples now? Explain.",  # text added
        "Largest of: ",
        "Sort alphabetically: Apple bird",  # not the generator's lowercase pool
        "Reverse the list: " + " ".join(["1"] * 65),  # longer than any generated list
        "",
    ],
)
def test_unknown_prompts_are_not_solved(prompt: str) -> None:
    assert solve(prompt) is None


def test_empty_reason() -> None:
    rng = random.Random(5)
    for item in generate_many(13, 100):
        assert empty_reason(item.chain_of_thought, item.final_answer) is None
        _, cot, answer = degrade(item, Quality.EMPTY, rng)
        assert empty_reason(cot, answer) is not None
    assert empty_reason("   \n  x  ", "4") == "reasoning shorter than 8 characters"
    assert empty_reason("2+2 makes 4", " . ") == "final answer has no letter or digit"
    assert empty_reason("2+2 makes 4", "vier") is None
