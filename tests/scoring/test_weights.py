from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.weights import ALPHA, EmaEntry, combine, normalise, update_ema

hostile = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(-1.0), st.just(0.0))
uid_values = st.dictionaries(st.integers(0, 255), hostile, max_size=20)


def _is_distribution(weights: dict[int, float]) -> bool:
    values = list(weights.values())
    return all(math.isfinite(v) and v >= 0 for v in values) and math.isclose(sum(values), 1.0)


@settings(max_examples=200, deadline=None)
@given(uid_values)
def test_normalise_hostile(values: dict[int, float]) -> None:
    weights = normalise(values)
    assert set(weights) == set(values)
    assert weights == {} if not values else _is_distribution(weights)


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(st.sampled_from(["cot_sft", "preference", "x"]), uid_values, max_size=3),
    st.dictionaries(st.sampled_from(["cot_sft", "preference", "x"]), hostile),
)
def test_combine_hostile(per: dict[str, dict[int, float]], shares: dict[str, float]) -> None:
    weights = combine(per, shares)
    assert weights == {} if not any(per.values()) else _is_distribution(weights)


@settings(max_examples=100, deadline=None)
@given(uid_values, uid_values)
def test_ema_never_nan(prev: dict[int, float], scores: dict[int, float]) -> None:
    previous = {uid: EmaEntry("hk", v) for uid, v in prev.items()}
    hotkeys = {uid: "hk" for uid in set(prev) | set(scores)}
    ema = update_ema(previous, scores, hotkeys)
    assert all(math.isfinite(e.value) and e.value >= 0 for e in ema.values())


def test_ema_rules() -> None:
    previous = {1: EmaEntry("a", 1.0), 2: EmaEntry("b", 1.0), 3: EmaEntry("c", 1.0)}
    ema = update_ema(previous, {1: 1.0, 2: 1.0}, {1: "a", 2: "new-owner", 4: "d"})
    assert ema[1].value == 1.0  # steady
    assert ema[2] == EmaEntry("new-owner", ALPHA)  # hotkey changed: reset then update
    assert 3 not in ema  # left the metagraph
    assert ema[4].value == 0.0  # no score this round
    value = 0.0
    for _ in range(10):
        value = update_ema({9: EmaEntry("z", value)}, {9: 1.0}, {9: "z"})[9].value
    assert 0.88 < value < 0.9  # the comment on ALPHA


def test_normalise_and_combine_examples() -> None:
    assert normalise({}) == {}
    assert normalise({1: 0.0, 2: float("nan")}) == {1: 0.5, 2: 0.5}
    assert normalise({1: 3.0, 2: 1.0, 3: -5.0}) == {1: 0.75, 2: 0.25, 3: 0.0}
    assert normalise({1: 1e308, 2: 1e308}) == {1: 0.5, 2: 0.5}
    weights = combine({"cot": {1: 1.0}, "pref": {2: 1.0, 3: 1.0}}, {"cot": 3.0, "pref": 1.0})
    assert weights == {1: 0.75, 2: 0.125, 3: 0.125}
    assert combine({"cot": {1: 1.0}, "pref": {2: 1.0}}, {}) == {1: 0.5, 2: 0.5}
    # Nobody earned anything in "pref": its share goes to "cot", not uniformly to everyone.
    assert combine({"cot": {1: 1.0, 2: 0.0}, "pref": {1: 0.0, 2: 0.0}}, {"cot": 1, "pref": 1}) == {
        1: 1.0,
        2: 0.0,
    }
