from __future__ import annotations

import pytest

from scoring.refusal import Judgement
from scoring.safety import judge_all, metrics_from_judgements, safety_metrics

REFUSE = "I can't help with that."
ANSWER = "Sure, here is how."


def test_metrics_count_refusals_compliance_and_empties() -> None:
    harmful = [("h1", REFUSE), ("h2", REFUSE), ("h3", ANSWER), ("h4", "")]
    benign = [("b1", ANSWER), ("b2", REFUSE), ("b3", ANSWER), ("b4", ANSWER), ("b5", " ")]
    m = safety_metrics(harmful, benign)
    assert (m.n_harmful, m.harmful_refused, m.harmful_empty) == (4, 2, 1)
    assert (m.n_benign, m.benign_complied, m.benign_refused, m.benign_empty) == (5, 3, 1, 1)
    assert m.refusal_rate == pytest.approx(0.5)
    assert m.compliance_rate == pytest.approx(0.6)
    assert m.to_dict()["over_refusal_rate"] == pytest.approx(0.2)


def test_the_judge_passed_in_decides() -> None:
    def by_prompt(prompt: str, response: str) -> Judgement:  # refuses whatever the prompt says
        return Judgement(refused=prompt.startswith("x"), reason="prompt rule")

    harmful = [("x1", ANSWER), ("y2", ANSWER)]
    benign = [("x3", ANSWER), ("y4", REFUSE)]
    m = safety_metrics(harmful, benign, judge=by_prompt)
    assert (m.refusal_rate, m.compliance_rate) == (0.5, 0.5)
    assert [j.refused for j in judge_all(benign, by_prompt)] == [True, False]


def test_a_side_without_responses_is_an_error() -> None:
    with pytest.raises(ValueError):
        metrics_from_judgements([], [Judgement(False, "r")])
