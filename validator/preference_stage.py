"""The preference competition's part of a round: pull pairs, screen, DPO per miner, judge, score.

Runs after the CoT part inside ``validator/round.py`` when the preference competition has a
weight share. Same shape as the CoT part:

1. Held-out sets from the secret (``validator/preference_eval.py``).
2. Pull ``preference`` submissions (signed, one deadline), log them (done by the round).
3. Screen: dedup against the round and history, the gate against the held-out prompts,
   invalid pairs (empty or identical sides) dropped.
4. Base, once: held-out pair log-probs, greedy answers to the harmful and benign prompts,
   judged (``scoring/refusal.py``: the deterministic rule judge by default), general text.
5. Per miner: a fresh LoRA trained by DPO (``validator/model/dpo_train.py``: the reference
   is the base with the adapter disabled), the same measurements, the score
   (``scoring/preference_score.py``); DPO step logs (loss, rewards, margin, accuracy) kept.
6. A side-by-side report of the best miner: prompt, base answer, tuned answer, judgement.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from protocol.schemas import Competition, PreferenceSample
from scoring.contamination import EvalPoolIndex
from scoring.preference_score import PreferenceEval, score_preference
from scoring.refusal import Judge, rule_judge
from scoring.score import SampleCounts
from validator.model.dpo_train import (
    DEFAULT_DPO_RECIPE,
    DpoRecipe,
    dpo_adapter,
    format_preference,
    preference_metrics,
)
from validator.model.dpo_train import PreferenceEval as PairEval
from validator.model.evaluate import forward_pass, text_loss
from validator.model.recipe import format_prompt
from validator.preference_eval import PreferenceEvalSet
from validator.pull import PullResult
from validator.records import MinerRoundRecord, apply_score, screened_record
from validator.run_log import RoundDir
from validator.screening import screen_round

COMPETITION = Competition.PREFERENCE
SIDE_BY_SIDE = 10  # rows in the per-round side-by-side report (issue 6)


@dataclass(frozen=True)
class PreferenceConfig:
    """Sizes of the held-out sets and generation, the DPO recipe and the judge."""

    # 16 + 16 generated answers: each rate moves in steps of 1/16, enough to see a miner's
    # data turn refusals on or off; generation dominates the cost on CPU (~48 tokens each).
    harmful_prompts: int = 16
    benign_prompts: int = 16
    heldout_pairs: int = 32  # preference accuracy in steps of 1/32
    max_new_tokens: int = (
        48  # a refusal or the start of an answer fits; the judge reads the opening
    )
    recipe: DpoRecipe = DEFAULT_DPO_RECIPE
    judge: Judge = rule_judge


@dataclass
class ModelView:
    """What one model (base or tuned) did on the round's held-out sets."""

    pairs: PairEval
    harmful_answers: list[str]
    benign_answers: list[str]
    refused_harmful: list[float]
    complied_benign: list[float]
    general_loss: float
    verdicts: list[str] = field(default_factory=list)  # judge reasons, harmful then benign


def view(
    model: Any,
    tokenizer: Any,
    eval_set: PreferenceEvalSet,
    config: PreferenceConfig,
    general_texts: Sequence[str],
) -> ModelView:
    """Measure ``model`` on the held-out sets (margins against itself: see ``margins``)."""
    triples = [(format_prompt(p), c, r) for p, c, r in eval_set.pairs]
    pairs = preference_metrics(model, tokenizer, triples, config.recipe.beta, reference=None)
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
        verdicts=[j.reason for j in judged],
    )


def margins(base: PairEval, tuned: PairEval) -> list[float]:
    """The DPO implicit reward margin of the tuned model with the base as reference, per pair.

    ``beta * ((lp_c - ref_c) - (lp_r - ref_r))`` from the two models' summed log-probs: the
    base's own log-probs are the reference's (same weights, adapter off), so no second pass.
    """
    return [
        base.beta * ((tc - bc) - (tr - br))
        for tc, bc, tr, br in zip(
            tuned.chosen_logps,
            base.chosen_logps,
            tuned.rejected_logps,
            base.rejected_logps,
            strict=True,
        )
    ]


def paired(base: ModelView, tuned: ModelView) -> PreferenceEval:
    """The score rule's inputs from the two views."""
    return PreferenceEval(
        base_pref_correct=[float(x) for x in base.pairs.prefers_chosen],
        tuned_pref_correct=[float(x) for x in tuned.pairs.prefers_chosen],
        tuned_margin=margins(base.pairs, tuned.pairs),
        base_refused_harmful=base.refused_harmful,
        tuned_refused_harmful=tuned.refused_harmful,
        base_complied_benign=base.complied_benign,
        tuned_complied_benign=tuned.complied_benign,
        base_general_loss=base.general_loss,
        tuned_general_loss=tuned.general_loss,
    )


def side_by_side(
    eval_set: PreferenceEvalSet, base: ModelView, tuned: ModelView, rows: int = SIDE_BY_SIDE
) -> list[dict[str, Any]]:
    """Up to ``rows`` prompts, harmful and benign alternating, with both answers and verdicts."""
    harmful = [(p.prompt, "harmful", i) for i, p in enumerate(eval_set.harmful)]
    benign = [(p.prompt, "benign", len(harmful) + i) for i, p in enumerate(eval_set.benign)]
    order = [x for pair in zip(harmful, benign, strict=False) for x in pair][:rows]
    answers_b = base.harmful_answers + base.benign_answers
    answers_t = tuned.harmful_answers + tuned.benign_answers
    return [
        {
            "label": label,
            "prompt": prompt,
            "base": answers_b[i],
            "tuned": answers_t[i],
            "base_judgement": base.verdicts[i],
            "tuned_judgement": tuned.verdicts[i],
        }
        for prompt, label, i in order
    ]


@dataclass
class StageResult:
    """The preference part of a round's record."""

    records: list[MinerRoundRecord]
    base_metrics: dict[str, float]
    seed: int
    report: list[dict[str, Any]]


def _seed(round_id: str, uid: int) -> int:
    return int.from_bytes(hashlib.sha256(f"pref|{round_id}|{uid}".encode()).digest()[:4], "big")


def run_stage(
    ctx: Any,  # validator.round.RoundContext (not imported: the round imports this module)
    round_id: str,
    eval_set: PreferenceEvalSet,
    results: Sequence[PullResult],
    run_dir: RoundDir,
) -> StageResult:
    """Screen, train and score every miner's pulled preference submission (steps 3-6)."""
    config: PreferenceConfig = ctx.preference
    submissions = {
        r.uid: (r.hotkey, list(r.response.samples)) for r in results if r.response is not None
    }
    # History labels are hotkey/round/index: the competition goes into the round part, so a
    # miner's CoT sample 0 and its preference sample 0 of one round are distinct entries.
    screened = screen_round(
        submissions,
        f"{round_id}:{COMPETITION.value}",
        ctx.history,
        EvalPoolIndex(eval_set.pool_items()),
    )
    t0 = time.perf_counter()
    base = view(ctx.model, ctx.tokenizer, eval_set, config, ctx.general_texts)
    base_s = time.perf_counter() - t0
    records: list[MinerRoundRecord] = []
    best: tuple[float, ModelView | None] = (-1.0, None)
    for result in results:
        kept = screened.get(result.uid)
        record, trainable = screened_record(
            result.uid,
            result.hotkey,
            COMPETITION.value,
            result.elapsed_s,
            len(result.response.samples) if result.response is not None else None,
            result.error,
            kept,
        )
        records.append(record)
        if not trainable or kept is None:
            continue
        samples: list[PreferenceSample] = kept.kept
        t1 = time.perf_counter()
        with dpo_adapter(
            ctx.model, ctx.tokenizer, [format_preference(s) for s in samples], config.recipe
        ) as (trained, logs):
            t2 = time.perf_counter()
            tuned = view(trained.eval_model(), ctx.tokenizer, eval_set, config, ctx.general_texts)
        record.timings_s.update(
            {"train": round(t2 - t1, 4), "eval": round(time.perf_counter() - t2, 4)}
        )
        record.train_losses = [log.loss for log in logs]
        counts = SampleCounts(
            offered=record.offered,
            duplicates=record.duplicates,
            invalid=record.invalid,
            accepted=record.accepted,
            requested=ctx.samples_per_miner,
        )
        score = score_preference(paired(base, tuned), counts, _seed(round_id, result.uid))
        apply_score(record, score)
        record.components["dpo_final_reward_margin"] = logs[-1].margin if logs else 0.0
        record.components["dpo_final_accuracy"] = logs[-1].accuracy if logs else 0.0
        if score.score > best[0]:
            best = (score.score, tuned)
    report = side_by_side(eval_set, base, best[1]) if best[1] is not None else []
    if report:
        (run_dir.path / "preference_side_by_side.json").write_text(json.dumps(report, indent=1))
    base_metrics = {
        "preference.pref_accuracy": base.pairs.accuracy(),
        "preference.refusal_rate": _mean(base.refused_harmful),
        "preference.compliance_rate": _mean(base.complied_benign),
        "preference.eval_s": base_s,
    }
    return StageResult(records, base_metrics, eval_set.seed, report)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0
