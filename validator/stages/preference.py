"""The preference competition as a ``Stage``: pairs in, DPO per miner, refusals judged, scored.

Its steps (``validator/stages/stage.py``):

1. Held-out sets from the secret (``validator/evalsets/preference.py``): harmful and benign
   prompts to answer, held-out pairs to rank.
3. Screen: dedup against the round and history, the gate against the held-out prompts,
   invalid pairs (empty or identical sides) dropped.
4. Base, once: held-out pair log-probs, greedy answers to the harmful and benign prompts,
   judged (``scoring/refusal.py``: the deterministic rule judge by default), general text
   (``validator/stages/preference_measure.py``).
5. Per miner: a fresh LoRA trained by DPO (``validator/model/dpo_train.py``: the reference
   is the base with the adapter disabled), the same measurements (the held-out margins
   against the base's log-probs from step 4: no second pass), the score
   (``scoring/preference_score.py``). Every DPO step's loss, mean chosen and rejected
   rewards, reward margin and preference accuracy are kept: in ``PreferenceStage.train_logs``
   and in ``preference_train_<uid>.json`` in the round directory (the record itself keeps
   the losses, ``train_losses``, and the last step's margin and accuracy).
6. A side-by-side report of the best miner (``safety/report.py``), naming the miner and the
   round: 10 prompts, each with the base answer, the tuned answer and both judgements, in
   ``preference_side_by_side.json``.

One verdict per distinct (prompt, answer) per round: a tuned model often repeats the base's
answer, and a model judge is paid per call; the cache lives as long as the stage (a round).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from tqdm import tqdm

from common.atomic_file import write_text_atomic
from common.seeds import joined_seed
from protocol.schemas import Competition, PreferenceSample
from scoring.components import Component
from scoring.contamination import EvalPoolIndex
from scoring.preference_score import PREFERENCE_SCORING_VERSION, score_preference
from scoring.refusal import CachedJudge
from validator.evalsets.preference import (
    PREFERENCE_EVAL_VERSION,
    PreferenceEvalSet,
    draw_preference_eval,
)
from validator.evalsets.publish import preference_sha256, published_preference
from validator.model.dpo_train import DpoStepLog, dpo_adapter, format_preference
from validator.stages.preference_measure import (
    ModelView,
    PreferenceConfig,
    paired,
    side_by_side,
    train_log,
    view,
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

SIDE_BY_SIDE_FILE = "preference_side_by_side.json"
TRAIN_LOG_FILE = "preference_train_{uid}.json"  # one per trained miner, beside the report


@dataclass(frozen=True)
class PreferenceBase:
    """The base's view of the held-out sets and the seconds it took."""

    view: ModelView
    seconds: float


def miner_seed(round_id: str, uid: int) -> int:
    """A bootstrap seed per round and uid, apart from the CoT stage's (the "pref" part)."""
    return joined_seed("pref", round_id, uid)


class PreferenceStage(Stage[PreferenceEvalSet, PreferenceBase]):
    """Preference pairs and DPO: one round's steps (module docstring)."""

    competition = Competition.PREFERENCE

    def __init__(self, inputs: StageInputs, config: PreferenceConfig) -> None:
        super().__init__(inputs)
        self.config = replace(config, judge=CachedJudge(config.judge))
        self.train_logs: dict[int, list[DpoStepLog]] = {}  # uid -> one log per DPO step
        self.report: dict[str, Any] = {}  # the side-by-side report; {} when none was trained
        self._best: tuple[MinerRoundRecord, ModelView] | None = None

    def eval_set(self) -> PreferenceEvalSet:
        """The held-out prompts and pairs of this round, from the secret."""
        config = self.config
        return draw_preference_eval(
            self.inputs.secret,
            self.inputs.round_id,
            config.harmful_prompts,
            config.benign_prompts,
            config.heldout_pairs,
        )

    def eval_set_sha256(self, eval_set: PreferenceEvalSet) -> str:
        """The set's hash over its canonical JSON (``validator/evalsets/publish.py``)."""
        return preference_sha256(eval_set)

    def screen(self, submissions: Submissions, eval_set: PreferenceEvalSet) -> dict[int, Screened]:
        """Dedup and the gate against this round's held-out prompts.

        History labels are hotkey/round/index: the competition goes into the round part, so a
        miner's CoT sample 0 and its preference sample 0 of one round are distinct entries.
        """
        return screen_round(
            submissions,
            f"{self.inputs.round_id}:{self.competition.value}",
            self.inputs.history,
            EvalPoolIndex(eval_set.pool_items()),
        )

    def evaluate_base(self, eval_set: PreferenceEvalSet) -> PreferenceBase:
        """The base's pair log-probs, judged answers and general loss, once."""
        t0 = time.perf_counter()
        base = view(
            self.inputs.model,
            self.inputs.tokenizer,
            eval_set,
            self.config,
            self.inputs.general_texts,
        )
        return PreferenceBase(base, time.perf_counter() - t0)

    def train_and_score(
        self,
        pending: Sequence[tuple[MinerRoundRecord, Screened]],
        eval_set: PreferenceEvalSet,
        base: PreferenceBase,
    ) -> None:
        """Each miner in turn, on the round's model (DPO needs the adapter-off reference)."""
        desc = f"{self.competition.value}: train + eval"
        for record, screened in tqdm(pending, desc=desc, disable=not self.inputs.progress):
            self._train_and_score_one(record, screened, eval_set, base)

    def _train_and_score_one(
        self,
        record: MinerRoundRecord,
        screened: Screened,
        eval_set: PreferenceEvalSet,
        base: PreferenceBase,
    ) -> None:
        """Price one miner (``price_preference_miner``); log its curve, keep the best view."""
        # The pull parsed this competition's schema: every kept sample is a pair.
        samples = [s for s in screened.kept if isinstance(s, PreferenceSample)]
        inputs = self.inputs
        run = PreferenceRun(
            inputs.model,
            inputs.tokenizer,
            inputs.round_id,
            self.config,
            inputs.general_texts,
            inputs.samples_per_miner,
        )
        tuned, logs = price_preference_miner(record, samples, eval_set, base.view, run)
        self.train_logs[record.uid] = logs
        write_text_atomic(
            inputs.run.path / TRAIN_LOG_FILE.format(uid=record.uid),
            json.dumps(train_log(inputs.round_id, record, self.config.recipe, logs), indent=1),
        )
        if self._best is None or record.score > self._best[0].score:
            self._best = (record, tuned)

    def outcome(
        self,
        eval_set: PreferenceEvalSet,
        base: PreferenceBase,
        records: list[MinerRoundRecord],
        share: float,
    ) -> StageOutcome:
        """The versions and judge behind the scores, base rates, the best miner's report."""
        if self._best is not None:
            self._write_report(eval_set, base.view, *self._best)
        return StageOutcome(
            CompetitionRecord(
                share=share,
                ran=True,
                eval_set_sha256=preference_sha256(eval_set),
                eval_version=PREFERENCE_EVAL_VERSION,
                recipe_version=self.config.recipe.version,
                scoring_version=PREFERENCE_SCORING_VERSION,
                judge=self.config.judge_name,
                max_new_tokens=self.config.max_new_tokens,
            ),
            records,
            {
                "preference.pref_accuracy": base.view.pairs.accuracy(),
                "preference.refusal_rate": mean(base.view.refused_harmful),
                "preference.compliance_rate": mean(base.view.complied_benign),
                "preference.eval_s": base.seconds,
            },
            {"preference_eval": eval_set.seed, "preference_train": self.config.recipe.seed},
            {self.competition.value: published_preference(eval_set)},
        )

    def _write_report(
        self,
        eval_set: PreferenceEvalSet,
        base: ModelView,
        shown: MinerRoundRecord,
        tuned: ModelView,
    ) -> None:
        subject = {
            "round_id": self.inputs.round_id,
            "competition": self.competition.value,
            "uid": shown.uid,
            "hotkey": shown.hotkey,
            "score": shown.score,
        }
        self.report = side_by_side(eval_set, base, tuned, self.config.judge, subject)
        write_text_atomic(
            self.inputs.run.path / SIDE_BY_SIDE_FILE, json.dumps(self.report, indent=1)
        )


@dataclass(frozen=True)
class PreferenceRun:
    """What prices a preference miner besides its pairs: shared by the round and the audit."""

    model: Any  # the base (DPO's adapter-off reference)
    tokenizer: Any
    round_id: str
    config: PreferenceConfig
    general_texts: tuple[str, ...]
    requested: int  # pairs asked of each miner


def price_preference_miner(
    record: MinerRoundRecord,
    samples: Sequence[PreferenceSample],
    eval_set: PreferenceEvalSet,
    base: ModelView,
    run: PreferenceRun,
) -> tuple[ModelView, list[DpoStepLog]]:
    """DPO on ``samples``, the tuned view against the base's, the score written into ``record``.

    Returns the tuned view and the DPO log. ``validator/audit/`` re-scores through this too.
    """
    t1 = time.perf_counter()
    with dpo_adapter(
        run.model, run.tokenizer, [format_preference(s) for s in samples], run.config.recipe
    ) as (trained, logs):
        t2 = time.perf_counter()
        tuned = view(
            trained.eval_model(),
            run.tokenizer,
            eval_set,
            run.config,
            run.general_texts,
            reference=base.pairs,
        )
    record.timings_s.update(
        {"train": round(t2 - t1, 4), "eval": round(time.perf_counter() - t2, 4)}
    )
    record.train_losses = [log.loss for log in logs]
    counts = screened_counts(record, run.requested)
    score = score_preference(
        paired(base, tuned, eval_set.harmful_pairs), counts, miner_seed(run.round_id, record.uid)
    )
    apply_score(record, score)
    record.components[Component.DPO_FINAL_REWARD_MARGIN] = logs[-1].margin if logs else 0.0
    record.components[Component.DPO_FINAL_ACCURACY] = logs[-1].accuracy if logs else 0.0
    return tuned, logs
