"""The answer check reads every family's prompts, in every phrasing, padded or not."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from tasks.families import FAMILIES, generate_many
from tasks.quality import Quality, degrade
from tasks.registry import REGISTRY, Share, verify
from tasks.solve import answer_is_wrong, empty_reason, solve


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_solves_every_generated_prompt_in_every_phrasing(family: str) -> None:
    templates = set()
    for item in generate_many(11, 400, (family,)):
        answers = solve(item.prompt)
        assert answers is not None, item.prompt
        assert any(verify(a, item.final_answer) for a in answers), (item.prompt, answers)
        assert not answer_is_wrong(item.prompt, item.final_answer)
        templates.add(item.prompt.split()[0])
    assert len(templates) > 3  # many phrasings were drawn


@pytest.mark.parametrize(
    "pad",
    [
        lambda p: p + " ",  # the trailing space that defeated tasks/1's regexes
        lambda p: "  " + p.replace(" ", "   "),
        lambda p: "[123456] " + p,
        lambda p: p + " (id 98765)",
        lambda p: p.upper(),
        lambda p: p.replace("e", "\u0435"),  # Cyrillic look-alike
        lambda p: p.replace(" ", " \u200b"),  # zero-width spaces
    ],
)
def test_padding_a_prompt_does_not_hide_a_wrong_answer(pad) -> None:
    rng = random.Random(4)
    caught = 0
    items = generate_many(12, 200)
    for item in items:
        prompt, _, wrong = degrade(item, Quality.WRONG, rng)
        caught += answer_is_wrong(pad(prompt), wrong)
        assert not answer_is_wrong(pad(prompt), item.final_answer), pad(prompt)
    assert caught >= 0.99 * len(items)


def test_wrong_rungs_fail_the_check() -> None:
    rng = random.Random(3)
    for item in generate_many(12, 300):
        for quality in (Quality.WRONG, Quality.OFF_TOPIC, Quality.EMPTY):
            prompt, _, answer = degrade(item, quality, rng)
            assert answer_is_wrong(prompt, answer), (quality, prompt, answer)


def test_every_family_has_both_shares_and_eight_phrasings() -> None:
    for family in REGISTRY:
        assert len(family.phrasings) >= 8
        assert family.templates((Share.PUBLIC,)) and family.templates((Share.PRIVATE,))


def test_unknown_family_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known: list_reverse"):
        REGISTRY["subtraction"]


@pytest.mark.parametrize(
    "prompt",
    [
        "What is the capital of France?",
        "Largest of: ",
        "Tell me about 1984.",
        "",
    ],
)
def test_unknown_prompts_are_not_solved(prompt: str) -> None:
    assert solve(prompt) is None
    assert not answer_is_wrong(prompt, "anything")


def test_verify_is_sequence_equality_up_to_format() -> None:
    assert verify("45, 12, 33.", "45 12 33")
    assert verify(" APPLE bird ", "apple bird")
    assert not verify("12 45 33", "45 12 33")
    assert not verify("4512 33", "45 12 33")
    assert not verify("", "")  # an empty reference never verifies


def test_empty_reason() -> None:
    rng = random.Random(5)
    for item in generate_many(13, 100):
        assert empty_reason(item.chain_of_thought, item.final_answer) is None
        _, cot, answer = degrade(item, Quality.EMPTY, rng)
        assert empty_reason(cot, answer) is not None
    assert empty_reason("   \n  x  ", "4") == "reasoning shorter than 8 characters"
    assert empty_reason("2+2 makes 4", " . ") == "final answer has no letter or digit"
    assert empty_reason("2+2 makes 4", "vier") is None


def test_the_answer_check_reads_every_family_whatever_a_process_imports_first() -> None:
    # A fresh interpreter that imports only tasks.solve: the families are registered anyway.
    code = (
        "from tasks.solve import answer_is_wrong; "
        "print(answer_is_wrong('max 65 91 42', '90'), answer_is_wrong('max 65 91 42', '91'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.split() == ["True", "False"]
