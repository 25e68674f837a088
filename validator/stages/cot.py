"""The CoT competition as a ``Stage``: worked solutions in, a LoRA per miner, scored on eval.

Its steps (``validator/stages/stage.py``): the eval set is drawn from the pool
(``validator/evalsets/pool.py``: secret + round id); screening is dedup and the gate against
the whole pool of published sets; the base is evaluated once (``evaluate_base``); each miner
is priced as ``validate_and_score`` (``validator/stages/cot_validate.py``, the function the
quality ladder uses) prices it, with the model work of all miners handed to an executor
(``validator/executor/``: in process by default, or spread over Ray workers).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from common.seeds import joined_seed
from protocol.schemas import Competition, CotSample
from scoring.score import SCORING_VERSION
from validator.evalsets.chance import measure_chance
from validator.evalsets.cot import EvalSet
from validator.evalsets.pool import EvalPool
from validator.executor.jobs import Executor, JobFailure, RoundWork, TrainJob, job_key
from validator.executor.local import LocalExecutor
from validator.model.recipe import DEFAULT_RECIPE, TrainRecipe
from validator.stages.cot_validate import (
    BaseEval,
    Prepared,
    evaluate_base,
    prepare_samples,
    score_prepared,
)
from validator.stages.screening import Screened, screen_round
from validator.stages.stage import (
    Stage,
    StageInputs,
    StageOutcome,
    Submissions,
    apply_score,
    mean,
    screened_counts,
)
from validator.store.records import CompetitionRecord, MinerRoundRecord


@dataclass
class CotConfig:
    """The CoT stage's settings: the eval pool, the eval size and the training recipe."""

    pool: EvalPool
    eval_items: int
    recipe: TrainRecipe = DEFAULT_RECIPE
    # Where the model work runs (validator/executor/); None: in process, on the round's model.
    executor: Executor | None = None


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
        # Where the model work runs: the configured executor, or in process on the round's model.
        self.executor: Executor = config.executor or LocalExecutor(
            inputs.model, inputs.tokenizer, progress=inputs.progress
        )

    def eval_set(self) -> EvalSet:
        """The round's items, drawn from the pool (which keeps them for the gate)."""
        return self.config.pool.draw(self.inputs.round_id, self.config.eval_items)

    def eval_set_sha256(self, eval_set: EvalSet) -> str:
        """The set's hash over its canonical JSON (``EvalSet.sha256``)."""
        return eval_set.sha256()

    def screen(self, submissions: Submissions, eval_set: EvalSet) -> dict[int, Screened]:
        """Dedup and the gate against every published set in the pool, this one included.

        The gate's chance rates are measured on the same index, per round
        (``validator/evalsets/chance.py``).
        """
        index = self.config.pool.index()
        chance = measure_chance(index, self.inputs.round_id)
        return screen_round(submissions, self.inputs.round_id, self.inputs.history, index, chance)

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
        self,
        pending: Sequence[tuple[MinerRoundRecord, Screened]],
        eval_set: EvalSet,
        base: CotBase,
    ) -> None:
        """Validate each miner's kept samples, run the model work on the executor, score.

        The same numbers as ``validate_and_score`` per miner: validation and the answer check
        here, one ``TrainJob`` per miner with valid samples (``validator/executor/``), then
        the score rule against the shared base evaluation.
        """
        score_cot_miners(
            pending,
            eval_set,
            base,
            CotRun(
                self.executor,
                self.inputs.round_id,
                self.config.recipe,
                self.inputs.general_texts,
                self.inputs.samples_per_miner,
            ),
        )

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
                torch_threads=self.executor.threads,
                gate_window={
                    published.round_id: published.sha256()
                    for published, _ in self.config.pool.published_sets()
                },
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


@dataclass(frozen=True)
class CotRun:
    """What prices a round's CoT miners besides their samples: shared by the round and the audit."""

    executor: Executor
    round_id: str
    recipe: TrainRecipe
    general_texts: tuple[str, ...]
    requested: int  # samples asked of each miner


def score_cot_miners(
    pending: Sequence[tuple[MinerRoundRecord, Screened]],
    eval_set: EvalSet,
    base: CotBase,
    run: CotRun,
) -> None:
    """Validate each miner's kept samples, run the model work on the executor, score.

    The same numbers as ``validate_and_score`` per miner: validation and the answer check
    here, one ``TrainJob`` per miner with valid samples (``validator/executor/``), then the
    score rule against the shared base evaluation. ``validator/audit.py`` re-scores one miner
    through this same function.
    """
    prepared: dict[int, tuple[Prepared, str | None]] = {}
    jobs: list[TrainJob] = []
    for record, screened in pending:
        # The pull parsed this competition's schema: every kept sample is a CotSample.
        kept = [s for s in screened.kept if isinstance(s, CotSample)]
        prep = prepare_samples(
            kept,
            prior=screened_counts(record, run.requested),
            requested=run.requested,
        )
        key = None
        if prep.valid:
            key = job_key(
                run.round_id, record.hotkey, prep.valid, run.recipe.version, eval_set.version
            )
            jobs.append(TrainJob(key, record.uid, prep.valid))
        prepared[record.uid] = (prep, key)
    work = RoundWork(run.recipe, tuple(eval_set.items), run.general_texts, tuple(jobs))
    outcomes = run.executor.run(work) if jobs else {}
    for record, _ in pending:
        prep, key = prepared[record.uid]
        outcome = outcomes.get(key) if key is not None else None
        if isinstance(outcome, JobFailure):
            record.reasons.append(
                f"training failed {outcome.attempts} times: {outcome.reason}: score 0"
            )
            record.error = outcome.reason
            continue
        scored = score_prepared(prep, base.eval, outcome, miner_seed(run.round_id, record.uid))
        if scored.measured is not None:
            record.train_losses = scored.measured.train_losses
            timings = scored.measured.timings_s
            record.timings_s.update({k: round(v, 4) for k, v in timings.items()})
        record.wrong_answers = scored.counts.wrong_answers
        apply_score(record, scored.score)
