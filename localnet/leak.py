"""An attacker's data source for the local network: the validator's own eval set, leaked.

Knowing the validator's secret, it regenerates the exact eval set of the round it is asked
for and serves it as training data — train-on-test at its purest. The contamination gate
must catch it before any training (the demo checks that it scores zero).
"""

from __future__ import annotations

from miner.sources import DataSourceError, Sample
from protocol.schemas import Competition, CotSample
from validator.evalsets.cot import draw_eval_set


class LeakedEvalSource:
    """Serves the round's eval items (requires the validator's secret)."""

    def __init__(self, secret: str, eval_items: int):
        self._secret = secret
        self._eval_items = eval_items

    def competitions(self) -> tuple[Competition, ...]:
        """CoT only."""
        return (Competition.COT_SFT,)

    def samples(self, competition: Competition, count: int, round_id: str) -> list[Sample]:
        """The round's eval items, as many as asked (repeated if fewer)."""
        if competition != Competition.COT_SFT:
            raise DataSourceError("the leak serves cot_sft only")
        items = draw_eval_set(self._secret, round_id, self._eval_items).items
        return [
            CotSample(
                prompt=it.prompt, chain_of_thought=it.chain_of_thought, final_answer=it.final_answer
            )
            for it in (items * (count // len(items) + 1))[:count]
        ]
