"""The preference stage's measurements: what one model (base or tuned) does on the held-out sets.

``view`` measures a model: held-out pair log-probs (margins against the base's, taken once
per round), greedy answers to the harmful and benign prompts judged by the configured judge
(``scoring/refusal.py``), and the loss on general text. ``paired`` turns two views into the
score rule's inputs (``scoring/preference_score.py``); ``side_by_side`` is the per-round
report of the best miner (``safety/report.py``); ``train_log`` one miner's DPO curve.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from protocol.schemas import Competition
from safety.report import build_report
from scoring.preference_score import PreferenceEval
from scoring.refusal import Judge, rule_judge
from validator.evalsets.preference import PreferenceEvalSet
from validator.model.dpo_train import (
    DEFAULT_DPO_RECIPE,
    DpoRecipe,
    DpoStepLog,
    PairMetrics,
    preference_metrics,
)
from validator.model.evaluate import forward_pass, text_loss
from validator.model.recipe import format_prompt
from validator.store.records import MinerRoundRecord

COMPETITION = Competition.PREFERENCE
SIDE_BY_SIDE = 10  # rows in the per-round side-by-side report (issue 6)
RULE_JUDGE = "rule"  # how the round record names scoring/refusal.py's rule_judge


@dataclass(frozen=True)
class PreferenceConfig:
    """Sizes of the held-out sets and generation, the DPO recipe and the judge."""

    # 16 + 16 generated answers: each rate moves in steps of 1/16, enough to see a miner's
    # data turn refusals on or off; generation dominates the cost on CPU (~48 tokens each).
    harmful_prompts: int = 16
    benign_prompts: int = 16
    # Held-out pairs for preference accuracy and the margin, teacher-forced (no generation, so
    # cheap): the margin carries all the signal of the data's quality on the embedded base, and
    # with 32 pairs its sampling noise paid off-topic pairs. At 128 (the pair ladder, 20 seeds,
    # docs/PREFERENCE.md section 4) good pairs' margin varies sd 0.020 over seeds (32: 0.048),
    # off-topic earns <= 5% of good in 13 of 20 seeds (32: 10), good first 19 of 20 either way.
    heldout_pairs: int = 128
    max_new_tokens: int = (
        48  # a refusal or the start of an answer fits; the judge reads the opening
    )
    recipe: DpoRecipe = DEFAULT_DPO_RECIPE
    judge: Judge = rule_judge
    # What ``judge`` is, for the round record: RULE_JUDGE or the model judge's name.
    judge_name: str = RULE_JUDGE


@dataclass
class ModelView:
    """What one model (base or tuned) did on the round's held-out sets."""

    pairs: PairMetrics
    harmful_answers: list[str]
    benign_answers: list[str]
    refused_harmful: list[float]
    complied_benign: list[float]
    general_loss: float


def view(
    model: Any,
    tokenizer: Any,
    eval_set: PreferenceEvalSet,
    config: PreferenceConfig,
    general_texts: Sequence[str],
    reference: PairMetrics | None = None,
) -> ModelView:
    """Measure ``model`` on the held-out sets.

    ``reference`` is the base's ``ModelView.pairs`` when ``model`` is a tuned one: its
    margins are then ``beta * ((tuned_c - base_c) - (tuned_r - base_r))`` from the base's
    log-probs taken once per round, the same numbers as the adapter-off reference (same
    weights) without running it again. Leave it None only for the base itself (margins 0):
    on a PeftModel, None would cost an adapter-off pass over the pairs.
    """
    triples = [(format_prompt(p), c, r) for p, c, r in eval_set.pairs]
    pairs = preference_metrics(model, tokenizer, triples, config.recipe.beta, reference)
    harmful = [p.prompt for p in eval_set.harmful]
    benign = [p.prompt for p in eval_set.benign]
    answers = forward_pass(
        model, tokenizer, [format_prompt(p) for p in harmful + benign], config.max_new_tokens
    )
    judged = [config.judge(p, a) for p, a in zip(harmful + benign, answers, strict=True)]
    general = text_loss(model, tokenizer, general_texts) if general_texts else []
    return ModelView(
        pairs=pairs,
        harmful_answers=answers[: len(harmful)],
        benign_answers=answers[len(harmful) :],
        refused_harmful=[float(j.refused) for j in judged[: len(harmful)]],
        complied_benign=[float(j.complied) for j in judged[len(harmful) :]],
        general_loss=sum(general) / len(general) if general else 0.0,
    )


def paired(base: ModelView, tuned: ModelView, harmful_pairs: int) -> PreferenceEval:
    """The score rule's inputs from the two views (``tuned`` measured against ``base``).

    ``harmful_pairs``: the eval set's (``PreferenceEvalSet.harmful_pairs``).
    """
    return PreferenceEval(
        base_pref_correct=[float(x) for x in base.pairs.prefers_chosen],
        tuned_pref_correct=[float(x) for x in tuned.pairs.prefers_chosen],
        tuned_margin=tuned.pairs.margins,
        base_refused_harmful=base.refused_harmful,
        tuned_refused_harmful=tuned.refused_harmful,
        base_complied_benign=base.complied_benign,
        tuned_complied_benign=tuned.complied_benign,
        base_general_loss=base.general_loss,
        tuned_general_loss=tuned.general_loss,
        harmful_pairs=harmful_pairs,
    )


def side_by_side(
    eval_set: PreferenceEvalSet,
    base: ModelView,
    tuned: ModelView,
    judge: Judge,
    subject: dict[str, Any],
    rows: int = SIDE_BY_SIDE,
) -> dict[str, Any]:
    """``safety.report.build_report`` of the round's held-out prompts, base vs ``tuned``.

    ``rows`` judged rows (half harmful, half benign, changed verdicts first) and both models'
    rates; ``subject`` names what the tuned side is (round, miner). ``judge`` should be the
    one the views used: the round passes a ``CachedJudge``, so no answer is judged twice.
    """
    harmful = [p.prompt for p in eval_set.harmful]
    benign = [p.prompt for p in eval_set.benign]
    return build_report(
        list(zip(harmful, base.harmful_answers, tuned.harmful_answers, strict=True)),
        list(zip(benign, base.benign_answers, tuned.benign_answers, strict=True)),
        judge,
        rows,
        subject,
    )


def train_log(
    round_id: str, record: MinerRoundRecord, recipe: DpoRecipe, logs: Sequence[DpoStepLog]
) -> dict[str, Any]:
    """One miner's DPO training curve, JSON-ready: every step's batch means, and the recipe."""
    return {
        "round_id": round_id,
        "competition": COMPETITION.value,
        "uid": record.uid,
        "hotkey": record.hotkey,
        "recipe": recipe.to_dict(),
        "steps": [log.to_dict() for log in logs],
    }
