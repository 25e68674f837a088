"""The quality ladder, one seed: the score orders five rungs of data by quality.

The five-seed, two-validator run with its figures is ``bench/bench_ladder.py``
(docs/SCORING.md); this is the same measurement at one seed, kept in CI so a change to the
recipe, the screening or the rule that breaks the order fails a test.
"""

from __future__ import annotations

import math
from typing import Any

from localnet.ladder import RUNGS, ladder_round, spearman_to_ladder
from tasks.quality import Quality


def test_one_seed_orders_the_rungs(pretrained: tuple[Any, Any]) -> None:
    model, tokenizer = pretrained
    results = ladder_round(model, tokenizer, "ladder-validator-a", "ladder-0", "data-0")
    assert [r.quality for r in results] == list(RUNGS)
    by_rung = {r.quality: r for r in results}
    signed = [r.signed for r in results]
    assert spearman_to_ladder(signed) >= 0.9, signed
    # What weights see: right answers with their reasoning earn; wrong, off-topic, empty don't.
    assert by_rung[Quality.CORRECT].score > 0, by_rung[Quality.CORRECT].components
    for bad in (Quality.WRONG, Quality.OFF_TOPIC, Quality.EMPTY):
        assert by_rung[bad].score == 0.0, (bad, by_rung[bad].components)
    assert by_rung[Quality.EMPTY].signed == -math.inf  # rejected before training
    assert all(math.isfinite(r.score) for r in results)
