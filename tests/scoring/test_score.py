from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.components import Component
from scoring.score import SCORING_VERSION, WRONG_ANSWER_POWER, PairedEval, SampleCounts, score_miner

N = 32


def _evals(loss_gain: float = 0.1, acc_gain: float = 0.0, general: float = 0.0) -> PairedEval:
    rng = np.random.default_rng(0)
    base = rng.uniform(1.0, 2.0, N)
    base_correct = (rng.random(N) < 0.3).astype(float)
    tuned_correct = np.where(rng.random(N) < acc_gain, 1.0, base_correct)
    return PairedEval(
        base,
        base - loss_gain,
        base + 0.5,
        base + 0.5 - loss_gain,
        base_correct,
        tuned_correct,
        base_correct,
        tuned_correct,
        1.0,
        1.0 + general,
    )


GOOD = SampleCounts(offered=10, accepted=10)


def test_ordering_sanity() -> None:
    weak = score_miner(_evals(0.05), GOOD, seed=1).score
    strong = score_miner(_evals(0.2), GOOD, seed=1).score
    smarter = score_miner(_evals(0.2, acc_gain=0.5), GOOD, seed=1).score
    assert 0 < weak < strong < smarter
    assert score_miner(_evals(-0.2), GOOD, seed=1).score == 0.0


def test_penalties_for_junk_and_harm() -> None:
    clean = score_miner(_evals(0.2), GOOD, seed=1)
    junk = score_miner(
        _evals(0.2), SampleCounts(offered=10, duplicates=2, invalid=1, accepted=7), seed=1
    )
    assert math.isclose(junk.score, clean.score * 0.7**2)
    assert any("duplicate" in r for r in junk.reasons)
    harmed = score_miner(_evals(0.2, general=0.1), GOOD, seed=1)
    assert harmed.score < clean.score and any("general-text" in r for r in harmed.reasons)
    within_tolerance = score_miner(_evals(0.2, general=0.01), GOOD, seed=1)
    assert within_tolerance.score == clean.score


def test_wrong_answers_cost_their_share() -> None:
    clean = score_miner(_evals(0.3), GOOD, seed=1)
    some_wrong = score_miner(
        _evals(0.3), SampleCounts(offered=10, accepted=10, wrong_answers=1), seed=1
    )
    # The measured improvement is what it is; the score pays only the checked-right share.
    assert some_wrong.components[Component.IMPROVEMENT] == clean.components[Component.IMPROVEMENT]
    assert math.isclose(some_wrong.score, clean.score * 0.9**WRONG_ANSWER_POWER)
    assert some_wrong.score < clean.score and any(
        "fail the validator" in r for r in some_wrong.reasons
    )
    # All wrong: no measured gain, however large, makes up for it.
    for gain in (0.3, 30.0):
        all_wrong = score_miner(
            _evals(gain), SampleCounts(offered=10, accepted=10, wrong_answers=10), seed=1
        )
        assert all_wrong.score == 0.0 and all_wrong.components[Component.ANSWER_CHECK_FACTOR] == 0.0


def test_contamination_and_nan_zero_with_reason() -> None:
    contaminated = score_miner(_evals(0.5), SampleCounts(10, contaminated=1, accepted=9), seed=1)
    assert contaminated.score == 0.0 and "contaminated" in contaminated.reasons[0]
    e = _evals(0.5)
    for field_name in ("tuned_loss", "base_rouge"):
        values = np.array(getattr(e, field_name))
        values[3] = np.nan if field_name == "tuned_loss" else np.inf
        bad = PairedEval(**{**e.__dict__, field_name: values})
        result = score_miner(bad, GOOD, seed=1)
        assert result.score == 0.0 and field_name in result.reasons[0]
    nan_general = PairedEval(**{**e.__dict__, "tuned_general_loss": float("nan")})
    assert score_miner(nan_general, GOOD, seed=1).score == 0.0
    assert score_miner(_evals(0.5), SampleCounts(10, invalid=10), seed=1).reasons == [
        "no accepted samples"
    ]


def test_matches_within_chance_are_dropped_not_zeroed() -> None:
    """At or under the allowance the miner is scored on what is left: the dropped samples
    lower the volume (they are not data), not the junk share (they are not junk)."""
    counts = SampleCounts(64, contaminated=2, accepted=62, requested=64)
    within = score_miner(_evals(0.5), replace(counts, contamination_allowance=2), seed=1)
    assert within.score > 0
    assert within.components[Component.ACCEPTED_SHARE] == 1.0
    assert within.components[Component.VOLUME_FACTOR] == 62 / 64
    clean = score_miner(_evals(0.5), SampleCounts(64, accepted=64, requested=64), seed=1)
    assert within.score == clean.score * 62 / 64
    beyond = score_miner(_evals(0.5), replace(counts, contamination_allowance=1), seed=1)
    assert beyond.score == 0.0
    assert beyond.reasons == [
        "contaminated: 2 sample(s) match the eval pool, chance explains at most 1"
    ]


def test_to_dict_is_json_and_versioned() -> None:
    result = score_miner(_evals(0.2), GOOD, seed=3)
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["version"] == SCORING_VERSION == "cot-v6"
    lo, mean, hi = data["ci"][1], data["ci"][0], data["ci"][2]
    assert lo <= mean <= hi
    assert score_miner(_evals(0.2), GOOD, seed=3).to_dict() == result.to_dict()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=8, max_size=8),
    st.integers(0, 5),
    st.integers(0, 5),
)
def test_score_is_always_finite_and_non_negative(values: list[float], dup: int, bad: int) -> None:
    a = [np.full(4, v) for v in values]  # the eight per-item arrays, then the two general losses
    evals = PairedEval(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], values[0], values[1])
    counts = SampleCounts(offered=10, duplicates=dup, invalid=bad, accepted=10 - dup - bad)
    result = score_miner(evals, counts, seed=0)
    assert math.isfinite(result.score) and result.score >= 0
    json.dumps(result.to_dict(), allow_nan=False)


def test_volume_factor_makes_splitting_data_pay_nothing() -> None:
    whole = score_miner(_evals(), SampleCounts(offered=64, accepted=64, requested=64), seed=1)
    tenth = score_miner(_evals(), SampleCounts(offered=6, accepted=6, requested=64), seed=1)
    # Ten hotkeys serving a tenth each (same per-item effect) earn no more than the whole.
    assert 10 * tenth.score <= whole.score + 1e-12
    assert tenth.components[Component.VOLUME_FACTOR] == 6 / 64
    assert any("6 accepted of 64 asked" in r for r in tenth.reasons)
    over = score_miner(_evals(), SampleCounts(offered=64, accepted=64, requested=32), seed=1)
    assert over.components[Component.VOLUME_FACTOR] == 1.0


def _with_margins(base: list[float], tuned: list[float]) -> PairedEval:
    from dataclasses import replace

    return replace(_evals(0.2), base_margin=base, tuned_margin=tuned)


def test_the_contrast_margin_adds_its_weighted_mean_delta() -> None:
    from scoring.score import W_MARGIN

    without = score_miner(_evals(0.2), GOOD, seed=1)
    base = [float(i % 5) for i in range(N)]
    raised = score_miner(_with_margins(base, [m + 1.0 for m in base]), GOOD, seed=1)
    assert raised.components[Component.MARGIN_DELTA] == 1.0
    assert math.isclose(
        raised.components[Component.IMPROVEMENT],
        without.components[Component.IMPROVEMENT] + W_MARGIN,
    )
    lowered = score_miner(_with_margins(base, [m - 1.0 for m in base]), GOOD, seed=1)
    assert lowered.score < without.score < raised.score


def test_items_without_near_misses_add_nothing_and_bad_margins_are_refused() -> None:
    base = [float("nan")] * (N // 2) + [0.0] * (N // 2)
    tuned = [float("nan")] * (N // 2) + [2.0] * (N // 2)
    half = score_miner(_with_margins(base, tuned), GOOD, seed=1)
    assert half.components[Component.MARGIN_DELTA] == 1.0  # 2.0 on half the items, 0 on the rest
    inf = score_miner(_with_margins([0.0] * N, [math.inf] * N), GOOD, seed=1)
    assert inf.score == 0.0 and "contrast margins" in inf.reasons[0]
    lost = score_miner(_with_margins([0.0] * N, [float("nan")] * N), GOOD, seed=1)
    assert lost.score == 0.0  # the tuned model lost a margin the base had
    try:
        score_miner(_with_margins([0.0] * 3, [0.0] * 3), GOOD, seed=1)
    except ValueError as exc:
        assert "margin arrays" in str(exc)
    else:
        raise AssertionError("margin arrays of the wrong length must be refused")
