"""The quality ladder, one seed: what the score pays for each of the seven rungs of data.

The multi-seed, two-validator run with its figures is ``bench/bench_ladder.py``
(docs/SCORING.md); this is the same measurement at one seed, kept in CI.

Three tests. What a round pays (the answer check on): right data earns, in the registry's
phrasings and in an outsider's; wrong answers, off-topic text and near-empty samples earn
nothing, and scrambled reasoning (right answers, which the check passes) a small fraction.
What the model alone pays (the check off) where the shipped base meets issue 10's targets in
all ten data seeds measured (0-4 and 10-14, docs/SCORING.md): right data in an outsider's
words earns at least half of right data in the templates, and the damaging rungs (scrambled
reasoning, off-topic text, near-empty samples) stay below both right rungs. Wrong answers
earning at most 5% of right ones by the model alone is met in none of the ten seeds, and with
it the wrong rungs staying below the outsider-phrased right one fails in some (0, 1 and 12 on
validator A under ``cot-sft-lora/3``): both stay a strict xfail, which turns into a failure
the day a base or a signal makes them pass, so that they are then asserted for good.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from bench.ladder import CORRECT_RUNGS, FLAWED_ORDER, RUNGS, ladder_round
from scoring.components import Component
from tasks.quality import Quality

# Eight rungs trained and evaluated on a 256-item eval set (eval/5): about 90 s on a quiet
# 2-core machine; the limit leaves room for a loaded one.
pytestmark = pytest.mark.timeout(900)

# The flawed rungs that teach nothing of the task or damage it (the wrong rungs teach most of it).
DAMAGING = (Quality.SCRAMBLED, Quality.OFF_TOPIC, Quality.EMPTY)


@pytest.fixture(scope="module")
def ladder(pretrained: tuple[Any, Any]) -> dict[Quality, Any]:
    model, tokenizer = pretrained
    results = ladder_round(model, tokenizer, "ladder-validator-a", "ladder-0", "ladder-data-0")
    assert [r.quality for r in results] == list(RUNGS)
    assert all(math.isfinite(r.improvement) for r in results)
    return {r.quality: r for r in results}


def test_one_seed_a_round_pays_right_data_only(ladder: dict[Quality, Any]) -> None:
    by = ladder
    correct, other = by[Quality.CORRECT], by[Quality.CORRECT_OTHER_WORDS]
    assert correct.score_checked > 0, correct.components
    # Right data in an outsider's words earns too: the answer check never charges it.
    assert other.score_checked > 0, other.components
    assert other.components[Component.WRONG_ANSWER_SHARE] == 0.0
    for flawed in (Quality.WRONG, Quality.OFF_TOPIC, Quality.EMPTY):
        assert by[flawed].score_checked == 0.0, (flawed, by[flawed].components)
    # Scrambled reasoning keeps the right answers, so the check passes it and the model alone
    # prices it: over ten data seeds and two validators it earned 0 in 13 of 20 rounds and at
    # most 0.093 of right data (cot-sft-lora/3; 15 of 20 and 0.093 at 8 rows a step).
    scrambled = by[Quality.SCRAMBLED]
    assert scrambled.score_checked <= 0.2 * correct.score_checked, scrambled.components
    # Wrong answers in an outsider's words: the check reads nearly all of them.
    assert by[Quality.WRONG_OTHER_WORDS].score_checked <= 0.05 * correct.score_checked
    # A round's interval: the honest rung's gain is above the eval set's noise.
    assert correct.ci_low > 0, correct.ci_low


def test_one_seed_the_model_alone_pays_the_skill_in_any_words(ladder: dict[Quality, Any]) -> None:
    by = ladder
    correct, other = by[Quality.CORRECT], by[Quality.CORRECT_OTHER_WORDS]
    assert correct.score_model_only > 0, correct.components
    # Right data in an outsider's words earns at least half of right data in the templates
    # (0.68-1.17 of it over ten data seeds, validator A, cot-sft-lora/3).
    assert other.score_model_only >= 0.5 * correct.score_model_only, other.components
    assert other.improvement >= 0.5 * correct.improvement
    # Data that only damages the task loses or earns a fraction of right data, by the model
    # alone (over ten seeds, validator A, cot-sft-lora/3, at most: scrambled 0.04, off-topic
    # 0.12, near-empty -0.01 of it; below 0 in 8, 4 and 10 of them).
    for flawed in DAMAGING:
        assert by[flawed].improvement < 0.5 * correct.improvement, (flawed, by[flawed].components)
    # Both right rungs above every damaging rung, on the improvement itself (ten of ten seeds).
    lowest_right = min(by[q].improvement for q in CORRECT_RUNGS)
    for flawed in DAMAGING:
        assert by[flawed].improvement < lowest_right, (flawed, by[flawed].components)


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,  # a target missed; any other error is a broken test, not issue 10
    reason="issue 10 open: on the shipped base the model alone pays wrong answers 56-89% of "
    "right ones over ten data seeds, above the outsider-phrased right rung in some "
    "(docs/SCORING.md, 'The quality ladder')",
)
def test_one_seed_the_model_alone_prices_wrong_answers(ladder: dict[Quality, Any]) -> None:
    by = ladder
    correct = by[Quality.CORRECT]
    # Both right rungs above the wrong ones as well (every flawed rung: issue 10's order).
    lowest_right = min(by[q].improvement for q in CORRECT_RUNGS)
    for flawed in FLAWED_ORDER:
        assert by[flawed].improvement < lowest_right, (flawed, by[flawed].components)
    # Wrong answers, in either phrasing, earn at most 5% of right ones, by the model alone.
    for wrong in (Quality.WRONG, Quality.WRONG_OTHER_WORDS):
        assert by[wrong].score_model_only <= 0.05 * correct.score_model_only, by[wrong].components
        assert by[wrong].improvement <= 0.05 * correct.improvement
