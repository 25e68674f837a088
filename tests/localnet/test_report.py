"""The local network's verdict: what counts as the demo coming out unlike its cast."""

from __future__ import annotations

from localnet.report import NEAR_ZERO_SHARE_MAX, model_alone, verdict
from tests.support.rounds import make_round, miner_record
from validator.store.records import RoundRecord

UIDS = {"honest": 1, "teacher": 2, "sloppy": 3, "copycat": 4, "contaminator": 5}


def _round(weights: dict[str, float], sloppy_cot: float = 0.0) -> RoundRecord:
    record = make_round(1, list(UIDS.values()))
    record.weights = {UIDS[name]: w for name, w in weights.items()}
    record.miners = [
        miner_record(uid, 1, score=sloppy_cot if uid == UIDS["sloppy"] else 0.3)
        for uid in UIDS.values()
    ]
    return record


def test_the_cast_as_expected_has_no_problems() -> None:
    weights = {"honest": 0.55, "teacher": 0.45, "sloppy": 0.0, "copycat": 0.0, "contaminator": 0.0}
    assert verdict([_round(weights)], UIDS) == []


def test_sloppy_holding_weight_is_a_problem_as_an_attackers_would_be() -> None:
    """Sloppy's swapped preference pairs earning (pref-v1 paid single flipped answers)."""
    over = NEAR_ZERO_SHARE_MAX * 0.5 + 0.01
    weights = {"honest": 0.5, "teacher": 0.37, "sloppy": over, "copycat": 0.0, "contaminator": 0.0}
    problems = verdict([_round(weights)], UIDS)
    assert problems and "sloppy holds" in problems[0]
    weights["sloppy"], weights["copycat"] = 0.0, 0.1
    assert any("copycat holds" in p for p in verdict([_round(weights)], UIDS))


def test_sloppy_earning_on_cot_and_an_unpaid_honest_are_problems() -> None:
    weights = {"honest": 0.6, "teacher": 0.4, "sloppy": 0.0, "copycat": 0.0, "contaminator": 0.0}
    assert any("sloppy earned on CoT" in p for p in verdict([_round(weights, 0.2)], UIDS))
    weights["honest"] = 0.0
    assert "holds no weight" in verdict([_round(weights)], UIDS)[0]


def test_model_alone_reports_the_spread_against_its_bound() -> None:
    rounds = [_round({"honest": 1.0}) for _ in range(3)]
    for record, score in zip(rounds, (0.30, 0.32, 0.50), strict=True):
        record.miners[0].score = score
    line = model_alone(rounds, {"honest": 1})[0]
    assert "NOT met" in line and "largest deviation 0.1267" in line
