"""The round-spread bench's summary: the share of three-round windows within 25% of their mean."""

from __future__ import annotations

import math

from bench.bench_round_spread import triples_within


def test_steady_rounds_are_within_and_an_outlier_is_not() -> None:
    assert triples_within([0.4, 0.4, 0.4]) == 1.0
    assert triples_within([0.3, 0.3, 0.6]) == 0.0  # mean 0.4: 0.6 is 50% above it
    assert triples_within([0.36, 0.4, 0.44]) == 1.0  # 10% either side
    # Four rounds, four triples; only the one without the outlier stays within.
    assert triples_within([0.4, 0.4, 0.4, 1.0]) == 0.25
    assert math.isnan(triples_within([0.4, 0.4]))
