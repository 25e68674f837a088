"""How many eval-pool matches chance explains in one honest miner's submission.

The task families' instance spaces are small (two 2-digit addends: 4,095 unordered pairs),
and the eval pool the contamination gate checks holds ~2,100 items (this round's set, the 32
published before it, canaries). An honest generator miner's data meets the same *problem* as
some eval item by chance: the gate cannot tell that sample from a copy (the problem, its
numbers and often its worked solution are the same), but it can tell a copier from a
coincidence by the *count*. The validator measures each family's per-sample chance rate
against its own pool (``validator/evalsets/chance.py``); a miner's expected chance matches are
the sum over its samples; chance explains a count up to the Poisson quantile below.

A matched sample is never trained on, whatever the count: a coincidence would be train-on-test
all the same. The count only decides whether the round is zeroed (a copier's) or the matched
samples are merely dropped (a coincidence's).

Poisson, not the exact Poisson-binomial of per-sample rates: with the same mean it has the
larger variance, so its quantile is the more lenient to honest miners; and ``poisson.isf``
is scipy's, exact.
"""

from __future__ import annotations

import math

from scipy.stats import poisson

# The chance that an honest miner whose samples are drawn like the validator's calibration
# items is zeroed in a round. 1e-3: one false zero in a thousand rounds, against the old
# rule's 45 of 48 once the window was full (bench/bench_honest_collisions.py). Lower alpha raises the allowance a copier may hide in,
# but every matched sample is dropped anyway, so hiding in it gains nothing (docs/SCREENING.md).
CHANCE_ALPHA = 1e-3


def chance_allowance(expected: float, alpha: float = CHANCE_ALPHA) -> int:
    """The most eval-pool matches chance explains: the least k with P(X > k) <= alpha.

    ``X ~ Poisson(expected)``; 0 for ``expected`` 0 (no chance model, or a family split that
    makes coincidences impossible: then any match is a copy). Non-finite or negative
    ``expected`` is a caller's bug (``ValueError``).
    """
    if not math.isfinite(expected) or expected < 0:
        raise ValueError(f"expected chance matches must be finite and >= 0, got {expected}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if expected == 0:
        return 0
    k = int(poisson.isf(alpha, expected))
    # isf returns the least k with sf(k) <= alpha; guard the float edge either way.
    while poisson.sf(k, expected) > alpha:
        k += 1
    while k > 0 and poisson.sf(k - 1, expected) <= alpha:
        k -= 1
    return k
