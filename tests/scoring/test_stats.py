from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.stats import all_finite, non_finite_names, paired_bootstrap_ci


def test_seeded_and_covers_the_mean() -> None:
    deltas = np.random.default_rng(0).normal(0.2, 1.0, 200)
    first = paired_bootstrap_ci(deltas, seed=5)
    assert first == paired_bootstrap_ci(deltas, seed=5)
    assert first != paired_bootstrap_ci(deltas, seed=6)
    mean, lo, hi = first
    assert lo < mean < hi and math.isclose(mean, float(deltas.mean()))
    assert 0.1 < hi - lo < 0.4  # ~ 2 x 1.96 / sqrt(200)


def test_single_item_and_errors() -> None:
    assert paired_bootstrap_ci([0.5], seed=1) == (0.5, 0.5, 0.5)
    for bad in ([], [1.0, float("nan")], [float("inf")]):
        with pytest.raises(ValueError):
            paired_bootstrap_ci(bad, seed=1)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=50), st.integers(0, 2**32))
def test_interval_is_ordered(values: list[float], seed: int) -> None:
    mean, lo, hi = paired_bootstrap_ci(values, seed=seed, n_resamples=200)
    assert lo <= mean <= hi and all(map(math.isfinite, (mean, lo, hi)))


def test_finiteness_helpers() -> None:
    assert all_finite([1.0, 2.0], 3.0, np.zeros((2, 2)))
    assert not all_finite([1.0], [np.nan])
    assert non_finite_names([("a", [1.0]), ("b", [np.inf]), ("c", float("nan"))]) == ["b", "c"]
