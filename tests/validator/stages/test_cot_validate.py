"""``validate_and_score``: samples in, a score with reasons out, on a real model with real LoRA.

The embedded architecture at its fixed random init and a deliberately small recipe (two steps
of four rows): the mechanics (validation, the answer check, training only on what passed,
determinism, the counts the rule reads) do not need a pretrained base or the production
step count. Samples of a given quality are made as the quality ladder makes them
(``tasks/quality.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

import pytest
import torch
from peft import PeftModel

from protocol.limits import MAX_CHARS_PER_FIELD
from protocol.schemas import CotSample
from scoring.components import Component
from scoring.score import WRONG_ANSWER_POWER, SampleCounts
from tasks.families import generate_many
from tasks.quality import Quality
from tasks.solve import MIN_REASONING_CHARS
from tests.support.cot_samples import degraded_samples
from validator.model.recipe import TrainRecipe
from validator.stages.cot_validate import BaseEval, Scored, evaluate_base, validate_and_score

pytestmark = pytest.mark.usefixtures("one_torch_thread")

RECIPE = TrainRecipe(steps=2, batch_size=4)  # small on purpose: the mechanics, not the gains
GUARD = ("The morning bus was late again, so she walked the last mile to work.",)
ITEMS = generate_many(99, 4, near_misses=2)  # the held-out items (with near misses: margins)


@pytest.fixture(scope="module")
def base(one_torch_thread: None, tiny_random: tuple[Any, Any]) -> BaseEval:
    model, tok = tiny_random
    return evaluate_base(model, tok, ITEMS, GUARD)


def _score(
    tiny_random: tuple[Any, Any],
    samples: list[Any],
    base: BaseEval | None,
    **kwargs: Any,
) -> Scored:
    model, tok = tiny_random
    return validate_and_score(
        model, tok, samples, ITEMS, RECIPE, base=base, general_texts=GUARD, **kwargs
    )


def _fingerprint(scored: Scored) -> str:
    """Everything a round records of one score, as text (NaN margins compare equal as text)."""
    measured = scored.measured
    return json.dumps(
        {
            "score": scored.score.to_dict(),
            "counts": vars(scored.counts),
            "reasons": scored.reasons,
            "tuned": None if measured is None else measured.tuned.to_dict(),
            "losses": None if measured is None else measured.train_losses,
        },
        sort_keys=True,
    )


def test_a_repeat_with_the_same_inputs_is_bit_identical(
    tiny_random: tuple[Any, Any], base: BaseEval
) -> None:
    model, _ = tiny_random
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    samples = degraded_samples(1, Quality.CORRECT, 8)
    first = _score(tiny_random, samples, base)
    # The base evaluated inside, not passed in: the same numbers as a round's shared one.
    again = _score(tiny_random, samples, None)
    assert first.measured is not None
    assert len(first.measured.train_losses) == RECIPE.steps  # the recipe given, not the default
    assert _fingerprint(first) == _fingerprint(again)
    # Other data, otherwise the same call: other numbers (the equality above is not vacuous).
    other = _score(tiny_random, degraded_samples(2, Quality.CORRECT, 8), base)
    assert other.measured is not None
    assert other.measured.train_losses != first.measured.train_losses
    # The base is handed back as it was: unwrapped, every weight bit for bit.
    assert not isinstance(model, PeftModel) and not hasattr(model, "peft_config")
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(v, after[k]) for k, v in before.items())


def test_wrong_answers_are_charged_by_the_check_and_left_to_the_model_without_it(
    tiny_random: tuple[Any, Any], base: BaseEval
) -> None:
    right, wrong = degraded_samples(3, Quality.CORRECT, 6), degraded_samples(4, Quality.WRONG, 6)
    samples = right + wrong
    checked = _score(tiny_random, samples, base)
    unchecked = _score(tiny_random, samples, base, answer_check=False)
    # The check finds exactly the wrong half; without it, nothing is charged.
    assert checked.counts.wrong_answers == len(wrong)
    assert unchecked.counts.wrong_answers == 0
    assert checked.counts.accepted == unchecked.counts.accepted == len(samples)
    assert checked.score.components[Component.WRONG_ANSWER_SHARE] == 0.5
    assert unchecked.score.components[Component.WRONG_ANSWER_SHARE] == 0.0
    assert "6 of 12 answers fail the validator's check" in " ".join(checked.score.reasons)
    assert not any("validator's check" in r for r in unchecked.score.reasons)
    # Wrong answers are trained on either way (the check prices them, it does not drop them):
    # the same adapter, the same model-only number, and the check's factor on top.
    assert checked.measured is not None and unchecked.measured is not None
    assert checked.measured.train_losses == unchecked.measured.train_losses
    improvement = checked.score.components[Component.IMPROVEMENT]
    assert improvement == unchecked.score.components[Component.IMPROVEMENT]
    assert improvement > 0, "this recipe and data seed measured a gain before; now none"
    assert unchecked.score.score == pytest.approx(improvement)
    assert checked.score.score == pytest.approx(improvement * 0.5**WRONG_ANSWER_POWER)
    assert checked.score.score < unchecked.score.score


def test_all_wrong_answers_earn_nothing_with_the_check(
    tiny_random: tuple[Any, Any], base: BaseEval
) -> None:
    scored = _score(tiny_random, degraded_samples(5, Quality.WRONG, 8), base)
    assert scored.counts.wrong_answers == 8
    assert scored.score.components[Component.ANSWER_CHECK_FACTOR] == 0.0
    assert scored.score.score == 0.0
    assert "8 of 8 answers fail the validator's check: score x 0.0000" in scored.score.reasons


def test_near_empty_data_is_rejected_with_a_reason_and_never_trained_on(
    tiny_random: tuple[Any, Any], base: BaseEval
) -> None:
    empty = degraded_samples(6, Quality.EMPTY, 5)
    scored = _score(tiny_random, empty, base)
    assert scored.measured is None  # nothing valid: nothing trained
    assert (scored.counts.offered, scored.counts.invalid, scored.counts.accepted) == (5, 5, 0)
    assert scored.reasons == [
        f"sample {i}: invalid, reasoning shorter than {MIN_REASONING_CHARS} characters"
        for i in range(5)
    ]
    assert scored.score.score == 0.0
    assert scored.score.reasons == ["no accepted samples"]
    # An answer with no letter or digit is as empty as a missing reasoning.
    no_answer = CotSample(
        prompt="max 1 2 3", chain_of_thought="Running max: 1 2 3.", final_answer=" . "
    )
    scored = _score(tiny_random, [no_answer], base)
    assert scored.measured is None
    assert scored.reasons == ["sample 0: invalid, final answer has no letter or digit"]
    # With the screen off (the ladder's model-only column) the same samples are trained on.
    raw = _score(tiny_random, empty, base, screen_empty=False, answer_check=False)
    assert raw.measured is not None and len(raw.measured.train_losses) == RECIPE.steps
    assert (raw.counts.invalid, raw.counts.accepted) == (0, 5)
    assert raw.reasons == []


def test_no_samples_at_all_scores_zero_with_the_reason(
    tiny_random: tuple[Any, Any], base: BaseEval
) -> None:
    scored = _score(tiny_random, [], base)
    assert scored.measured is None
    assert (scored.counts.offered, scored.counts.accepted) == (0, 0)
    assert scored.score.score == 0.0 and scored.score.reasons == ["no accepted samples"]


def _good() -> dict[str, Any]:
    return {
        "prompt": "max 65 91 42",
        "chain_of_thought": "Running max: 65 91 91.",
        "final_answer": "91",
    }


# Wire-shaped junk a hostile miner can send, with the reason it must be dropped for.
MALFORMED: list[tuple[Any, str]] = [
    ({k: v for k, v in _good().items() if k != "final_answer"}, "final_answer: Field required"),
    ({**_good(), "extra": 1}, "extra: Extra inputs are not permitted"),
    ({**_good(), "prompt": ""}, "prompt: String should have at least 1 character"),
    ({**_good(), "prompt": 5}, "prompt: Input should be a valid string"),
    ({**_good(), "final_answer": None}, "final_answer: Input should be a valid string"),
    (
        {**_good(), "chain_of_thought": "x" * (MAX_CHARS_PER_FIELD + 1)},
        f"chain_of_thought: String should have at most {MAX_CHARS_PER_FIELD} characters",
    ),
    (
        {"prompt": 5, "chain_of_thought": None},  # the first problem, and how many more
        "prompt: Input should be a valid string (and 2 more)",
    ),
    ("max 65 91 42", "Input should be a valid dictionary or instance of CotSample"),
    (None, "Input should be a valid dictionary or instance of CotSample"),
    ([1, 2, 3], "Input should be a valid dictionary or instance of CotSample"),
]


def test_malformed_samples_are_dropped_with_their_reasons_and_never_trained_on(
    tiny_random: tuple[Any, Any], base: BaseEval
) -> None:
    valid = degraded_samples(7, Quality.CORRECT, 4)
    # Valid rows as plain dicts and a read-only mapping too: any Mapping is a sample.
    as_wire: list[Mapping[str, Any]] = [s.model_dump() for s in valid[:2]]
    as_wire.append(MappingProxyType(valid[2].model_dump()))
    mixed: list[Any] = [as_wire[0], *(bad for bad, _ in MALFORMED), *as_wire[1:], valid[3]]
    scored = _score(tiny_random, mixed, base)
    n_bad = len(MALFORMED)
    assert scored.counts.offered == len(mixed)
    assert (scored.counts.invalid, scored.counts.accepted) == (n_bad, len(valid))
    assert scored.reasons == [
        f"sample {i}: invalid, {why}" for i, (_, why) in enumerate(MALFORMED, start=1)
    ]
    assert f"{n_bad} invalid, 0 duplicate of {len(mixed)} offered" in " ".join(scored.score.reasons)
    share = len(valid) / len(mixed)
    assert scored.score.components[Component.ACCEPTED_SHARE] == pytest.approx(share)
    # Trained on exactly the valid rows, in order: the same adapter as the clean submission.
    clean = _score(tiny_random, valid, base)
    assert scored.measured is not None and clean.measured is not None
    assert scored.measured.train_losses == clean.measured.train_losses
    assert json.dumps(scored.measured.tuned.to_dict()) == json.dumps(clean.measured.tuned.to_dict())


def test_screening_counts_and_the_request_size_carry_into_the_score(
    tiny_random: tuple[Any, Any], base: BaseEval
) -> None:
    samples = degraded_samples(8, Quality.CORRECT, 8)
    prior = SampleCounts(
        offered=12, invalid=1, duplicates=2, contaminated=1, contamination_allowance=1
    )
    scored = _score(tiny_random, samples, base, prior=prior, requested=16)
    counts = scored.counts
    assert (counts.offered, counts.invalid, counts.duplicates) == (12, 1, 2)
    assert (counts.contaminated, counts.contamination_allowance) == (1, 1)
    assert (counts.accepted, counts.requested) == (8, 16)
    reasons = " ".join(scored.score.reasons)
    assert "8 accepted of 16 asked: score x 0.5000" in reasons
    assert "1 invalid, 2 duplicate of 12 offered" in reasons
    assert scored.score.components[Component.VOLUME_FACTOR] == 0.5
    # Matches beyond what chance explains zero the round whatever the model measured.
    dirty = replace(prior, contaminated=3)
    zeroed = _score(tiny_random, samples, base, prior=dirty)
    assert zeroed.score.score == 0.0
    assert zeroed.score.reasons == [
        "contaminated: 3 sample(s) match the eval pool, chance explains at most 1"
    ]


def test_an_empty_eval_set_scores_zero_with_the_reason(tiny_random: tuple[Any, Any]) -> None:
    model, tok = tiny_random
    scored = validate_and_score(
        model, tok, degraded_samples(9, Quality.CORRECT, 4), [], RECIPE, general_texts=GUARD
    )
    assert scored.score.score == 0.0
    assert scored.score.reasons == ["no eval items"]
