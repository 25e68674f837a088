"""The chance allowance: the Poisson quantile, checked against the distribution summed by hand."""

from __future__ import annotations

import math

import pytest

from scoring.chance import CHANCE_ALPHA, chance_allowance


def _tail(k: int, mean: float) -> float:
    """P(X > k) for X ~ Poisson(mean), summed from the mass function."""
    return 1.0 - sum(math.exp(-mean) * mean**i / math.factorial(i) for i in range(k + 1))


@pytest.mark.parametrize("mean", [0.01, 0.19, 0.5, 1.0, 2.3, 4.0, 7.4, 15.0, 40.0])
def test_the_allowance_is_the_least_count_chance_exceeds_with_at_most_alpha(mean: float) -> None:
    k = chance_allowance(mean)
    assert _tail(k, mean) <= CHANCE_ALPHA + 1e-12
    assert k == 0 or _tail(k - 1, mean) > CHANCE_ALPHA


def test_no_chance_allows_nothing_and_more_chance_allows_more() -> None:
    assert chance_allowance(0.0) == 0
    allowances = [chance_allowance(m / 10) for m in range(0, 200)]
    assert allowances == sorted(allowances)
    assert chance_allowance(2.0, alpha=1e-6) > chance_allowance(2.0, alpha=1e-2)


@pytest.mark.parametrize("mean", [-0.1, math.nan, math.inf])
def test_a_bad_mean_is_refused(mean: float) -> None:
    with pytest.raises(ValueError, match="expected chance matches"):
        chance_allowance(mean)


@pytest.mark.parametrize("alpha", [0.0, 1.0, -1e-3])
def test_a_bad_alpha_is_refused(alpha: float) -> None:
    with pytest.raises(ValueError, match="alpha"):
        chance_allowance(1.0, alpha=alpha)
