"""Re-train and re-score miners of a published round, through the round's own code.

CoT runs ``validator.stages.cot.score_cot_miners`` (what the round ran) on the samples
screening kept, with the recorded counts, the published held-out set, the recipe and score
rule the record names, and the recorded torch thread count. Preference runs
``validator.stages.preference.price_preference_miner`` the same way, with the rule judge
(a round judged by a model judge names it in its record; the audit refuses to guess its
answers) and the default generation settings. On CPU with the embedded
base the result is the recorded score bit for bit (CPU float reductions depend on the thread
count: the record carries it); on a GPU the audit reports the difference.

What is not re-derived: screening's verdicts against the validator's dedup history (the
history is the validator's Redis, not published). The audit takes the kept samples the
validator recorded and checks they are the miner's own, signed and proven; the counts
(offered, duplicates, invalid) are the record's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from protocol.schemas import Competition, CotSample, PreferenceSample, sample_sha256
from scoring.preference_score import PREFERENCE_SCORING_VERSION
from scoring.score import SCORING_VERSION
from validator.audit.checks import published_cot_set, published_preference_set
from validator.evalsets.cot import EvalSet, general_texts
from validator.evalsets.preference import PreferenceEvalSet
from validator.executor.local import LocalExecutor
from validator.model.dpo_train import DEFAULT_DPO_RECIPE
from validator.model.recipe import RECIPES, TrainRecipe
from validator.stages.cot import CotBase, CotRun, score_cot_miners
from validator.stages.cot_validate import BaseEval, evaluate_base
from validator.stages.preference import PreferenceRun, price_preference_miner
from validator.stages.preference_measure import RULE_JUDGE, ModelView, PreferenceConfig, view
from validator.stages.screening import Screened
from validator.store.records import MinerRoundRecord, RoundRecord


class AuditError(Exception):
    """The round cannot be re-scored here (an unknown version, a sample that is missing)."""


@dataclass(frozen=True)
class Rescored:
    """The recomputed record and the base numbers the re-run measured."""

    miner: MinerRoundRecord
    base_metrics: dict[str, float]


def recipe_for(version: str | None) -> TrainRecipe:
    """The training recipe a record names: the current one or an earlier one this code keeps."""
    recipe = RECIPES.get(version or "")
    if recipe is None:
        raise AuditError(
            f"the round trained with recipe {version}; this code re-runs {', '.join(RECIPES)}"
        )
    return recipe


def kept_samples(
    served: Sequence[CotSample | PreferenceSample], kept_sha256: Sequence[str]
) -> list[CotSample | PreferenceSample]:
    """The served samples screening kept, in the recorded order; ``AuditError`` if one is missing."""
    by_hash: dict[str, CotSample | PreferenceSample] = {sample_sha256(s): s for s in served}
    missing = [h for h in kept_sha256 if h not in by_hash]
    if missing:
        raise AuditError(f"{len(missing)} kept sample(s) are not in the signed response")
    return [by_hash[h] for h in kept_sha256]


class RoundRescorer:
    """Re-scores miners of one round on one loaded base, measuring each competition's base once.

    The round does the same (one base evaluation shared by every miner it scores), so a
    miner's numbers do not depend on how many are audited in one process; an audit of several
    miners pays the process start, the model load and the base evaluation once.
    """

    def __init__(
        self, record: RoundRecord, published: Mapping[str, Any], model: Any, tokenizer: Any
    ) -> None:
        self.record = record
        self.published = published
        self.model = model
        self.tokenizer = tokenizer
        self.texts = general_texts()
        self._cot: tuple[EvalSet, BaseEval] | None = None
        self._preference: tuple[PreferenceEvalSet, PreferenceConfig, ModelView] | None = None

    def rescore(
        self, miner: MinerRoundRecord, kept: list[CotSample | PreferenceSample], requested: int
    ) -> Rescored:
        """``miner``'s record recomputed from its kept samples, in its competition."""
        if miner.competition == Competition.COT_SFT:
            return self._rescore_cot(miner, kept, requested)
        return self._rescore_preference(miner, kept, requested)

    def _cot_base(self) -> tuple[EvalSet, BaseEval]:
        if self._cot is None:
            part = self.record.competitions.get(Competition.COT_SFT)
            if part is None or not part.ran:
                raise AuditError("the CoT competition did not run in this round")
            if part.scoring_version != SCORING_VERSION:
                raise AuditError(
                    f"scored with {part.scoring_version}; this code has {SCORING_VERSION}"
                )
            eval_set = published_cot_set(self.published)
            if part.eval_version != eval_set.version:
                raise AuditError(f"eval {part.eval_version} recorded, {eval_set.version} published")
            base = evaluate_base(self.model, self.tokenizer, list(eval_set.items), self.texts)
            self._cot = (eval_set, base)
        return self._cot

    def _rescore_cot(
        self, miner: MinerRoundRecord, kept: list[CotSample | PreferenceSample], requested: int
    ) -> Rescored:
        eval_set, base_eval = self._cot_base()
        part = self.record.competitions[Competition.COT_SFT]
        fresh = _fresh(miner)
        run = CotRun(
            LocalExecutor(self.model, self.tokenizer, threads=part.torch_threads),
            self.record.round_id,
            recipe_for(part.recipe_version),
            self.texts,
            requested,
        )
        score_cot_miners([(fresh, Screened(kept=kept))], eval_set, CotBase(base_eval, 0.0), run)
        result = base_eval.result
        base = {
            "accuracy": result.accuracy(),
            "answer_loss": sum(result.answer_loss) / max(1, len(result.answer_loss)),
        }
        return Rescored(fresh, base)

    def _preference_base(self) -> tuple[PreferenceEvalSet, PreferenceConfig, ModelView]:
        if self._preference is None:
            eval_set = published_preference_set(self.published)
            config = _preference_config(self.record, eval_set)
            base = view(self.model, self.tokenizer, eval_set, config, self.texts)
            self._preference = (eval_set, config, base)
        return self._preference

    def _rescore_preference(
        self, miner: MinerRoundRecord, kept: list[CotSample | PreferenceSample], requested: int
    ) -> Rescored:
        eval_set, config, base = self._preference_base()
        fresh = _fresh(miner)
        pairs = [s for s in kept if isinstance(s, PreferenceSample)]
        run = PreferenceRun(
            self.model, self.tokenizer, self.record.round_id, config, self.texts, requested
        )
        price_preference_miner(fresh, pairs, eval_set, base, run)
        return Rescored(fresh, {"preference.pref_accuracy": base.pairs.accuracy()})


def _fresh(miner: MinerRoundRecord) -> MinerRoundRecord:
    """A record with the miner's screening counts and nothing scored yet."""
    return MinerRoundRecord(
        uid=miner.uid,
        hotkey=miner.hotkey,
        competition=miner.competition,
        status=miner.status,
        offered=miner.offered,
        accepted=miner.accepted,
        duplicates=miner.duplicates,
        invalid=miner.invalid,
        contaminated=miner.contaminated,
        contamination_allowance=miner.contamination_allowance,
    )


def _preference_config(record: RoundRecord, eval_set: PreferenceEvalSet) -> PreferenceConfig:
    """The preference settings the round recorded, sized by its published set."""
    part = record.competitions.get(Competition.PREFERENCE)
    if part is None or not part.ran:
        raise AuditError("the preference competition did not run in this round")
    if part.scoring_version != PREFERENCE_SCORING_VERSION:
        raise AuditError(
            f"scored with {part.scoring_version}; this code has {PREFERENCE_SCORING_VERSION}"
        )
    if part.recipe_version != DEFAULT_DPO_RECIPE.version:
        raise AuditError(
            f"trained with {part.recipe_version}; this code has {DEFAULT_DPO_RECIPE.version}"
        )
    if part.judge != RULE_JUDGE:
        raise AuditError(f"judged by {part.judge}: the audit re-runs rule-judged rounds only")
    defaults = PreferenceConfig()
    return PreferenceConfig(
        harmful_prompts=len(eval_set.harmful),
        benign_prompts=len(eval_set.benign),
        heldout_pairs=len(eval_set.pairs),
        max_new_tokens=part.max_new_tokens or defaults.max_new_tokens,
    )
