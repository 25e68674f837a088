"""Chance rates measured against a real pool: addition, the small space, meets it most."""

from __future__ import annotations

from tasks.families import generate_many
from tasks.registry import REGISTRY
from validator.evalsets.chance import CALIBRATION_ITEMS, ChanceRates, measure_chance
from validator.evalsets.cot import EVAL_SIZE
from validator.evalsets.pool import EvalPool


def _index():
    pool = EvalPool("chance-secret")
    for r in range(6):
        pool.draw(f"c{r}", EVAL_SIZE)
    return pool.index()


def test_rates_are_measured_per_family_and_reproducible() -> None:
    index = _index()
    rates = measure_chance(index, "c5", per_family=256)
    assert set(rates.rates) == set(REGISTRY.names())
    assert all(1 / 257 <= r < 1 for r in rates.rates.values())  # add-one: never 0
    assert max(rates.rates, key=rates.rates.__getitem__) == "addition"
    assert rates.rates["addition"] > 5 * rates.rates["list_reverse"]
    assert measure_chance(index, "c5", per_family=256) == rates  # seeded by the round
    assert CALIBRATION_ITEMS >= 256


def test_a_prompt_is_priced_at_its_familys_rate_and_an_unread_one_at_the_highest() -> None:
    rates = ChanceRates({name: 0.01 * (i + 1) for i, name in enumerate(REGISTRY.names())})
    for item in generate_many(3, 20):
        assert rates.rate(item.prompt) == rates.rates[item.family]
    assert rates.rate("Why is the sky blue?") == max(rates.rates.values())
    prompts = [it.prompt for it in generate_many(4, 10)]
    assert rates.expected(prompts) == sum(rates.rate(p) for p in prompts)
