"""The CoT competition as a ``Stage``: worked solutions in, a LoRA per miner, scored on eval.

Its steps (``validator/stages/stage.py``): the eval set is drawn from the pool
(``validator/evalsets/pool.py``: secret + round id); screening is dedup and the gate against
the whole pool of published sets; the base is evaluated once (``evaluate_base``); each miner
is priced by ``validate_and_score`` (``validator/stages/cot_validate.py``), the function the
quality ladder uses too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from common.seeds import joined_seed
from protocol.schemas import Competition, CotSample
from scoring.score import SCORING_VERSION, SampleCounts
from validator.evalsets.cot import EvalSet
from validator.evalsets.pool import EvalPool
from validator.model.recipe import DEFAULT_RECIPE, TrainRecipe
from validator.stages.cot_validate import BaseEval, evaluate_base, validate_and_score
from validator.stages.screening import Screened, screen_round
from validator.stages.stage import (
    Stage,
    StageInputs,
    StageOutcome,
    Submissions,
    apply_score,
    mean,
)
from validator.store.records import CompetitionRecord, MinerRoundRecord


@dataclass
class CotConfig:
    """The CoT stage's settings: the eval pool, the eval size and the training recipe."""

    pool: EvalPool
    eval_items: int
    recipe: TrainRecipe = DEFAULT_RECIPE


@dataclass(frozen=True)
class CotBase:
    """The base's eval numbers and the seconds they took (a base metric of the round)."""

    eval: BaseEval
    seconds: float


def miner_seed(round_id: str, uid: int) -> int:
    """A bootstrap seed from the round and uid: reproducible, different per miner."""
    return joined_seed(round_id, uid)


class CotStage(Stage[EvalSet, CotBase]):
    """Chain-of-thought SFT: one round's steps (module docstring)."""

    competition = Competition.COT_SFT

    def __init__(self, inputs: StageInputs, config: CotConfig) -> None:
        super().__init__(inputs)
        self.config = config

    def eval_set(self) -> EvalSet:
        """The round's items, drawn from the pool (which keeps them for the gate)."""
        return self.config.pool.draw(self.inputs.round_id, self.config.eval_items)

    def screen(self, submissions: Submissions, eval_set: EvalSet) -> dict[int, Screened]:
        """Dedup and the gate against every published set in the pool, this one included."""
        return screen_round(
            submissions, self.inputs.round_id, self.inputs.history, self.config.pool.index()
        )

    def evaluate_base(self, eval_set: EvalSet) -> CotBase:
        """The base on the round's items and the guard texts, once."""
        t0 = time.perf_counter()
        base = evaluate_base(
            self.inputs.model,
            self.inputs.tokenizer,
            list(eval_set.items),
            self.inputs.general_texts,
        )
        return CotBase(base, time.perf_counter() - t0)

    def train_and_score(
        self, record: MinerRoundRecord, screened: Screened, eval_set: EvalSet, base: CotBase
    ) -> None:
        """``validate_and_score`` on the kept samples, against the shared base evaluation."""
        # The pull parsed this competition's schema: every kept sample is a CotSample.
        kept = [s for s in screened.kept if isinstance(s, CotSample)]
        scored = validate_and_score(
            self.inputs.model,
            self.inputs.tokenizer,
            kept,
            list(eval_set.items),
            self.config.recipe,
            base=base.eval,
            general_texts=self.inputs.general_texts,
            prior=SampleCounts(
                offered=record.offered, duplicates=record.duplicates, invalid=record.invalid
            ),
            requested=self.inputs.samples_per_miner,
            seed=miner_seed(self.inputs.round_id, record.uid),
        )
        if scored.measured is not None:
            record.train_losses = scored.measured.train_losses
            record.timings_s.update({k: round(v, 4) for k, v in scored.measured.timings_s.items()})
        record.wrong_answers = scored.counts.wrong_answers
        apply_score(record, scored.score)

    def outcome(
        self, eval_set: EvalSet, base: CotBase, records: list[MinerRoundRecord], share: float
    ) -> StageOutcome:
        """The versions behind the scores, the base's numbers and the published pool."""
        result = base.eval.result
        return StageOutcome(
            CompetitionRecord(
                share=share,
                ran=True,
                eval_set_sha256=eval_set.sha256(),
                eval_version=eval_set.version,
                recipe_version=self.config.recipe.version,
                scoring_version=SCORING_VERSION,
            ),
            records,
            {
                "accuracy": result.accuracy(),
                "rouge_l": mean(base.eval.rouge),
                "answer_loss": mean(result.answer_loss),
                "completion_loss": mean(result.completion_loss),
                "general_loss": mean(result.general_loss),
                "eval_s": base.seconds,
            },
            {"eval": eval_set.seed, "train": self.config.recipe.seed},
            self.config.pool.published(),
        )
