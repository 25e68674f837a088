"""The preference competition's part of a round: pull pairs, screen, DPO per miner, judge, score.

Runs after the CoT part inside ``validator/round.py`` when the preference competition has a
weight share. Same shape as the CoT part:

1. Held-out sets from the secret (``validator/evalsets/preference.py``).
2. Pull ``preference`` submissions (signed, one deadline), log them (done by the round).
3. Screen: dedup against the round and history, the gate against the held-out prompts,
   invalid pairs (empty or identical sides) dropped.
4. Base, once: held-out pair log-probs, greedy answers to the harmful and benign prompts,
   judged (``scoring/refusal.py``: the deterministic rule judge by default), general text.
5. Per miner: a fresh LoRA trained by DPO (``validator/model/dpo_train.py``: the reference
   is the base with the adapter disabled), the same measurements (the held-out margins
   against the base's log-probs from step 4: no second pass), the score
   (``scoring/preference_score.py``). Every DPO step's loss, mean chosen and rejected
   rewards, reward margin and preference accuracy are kept: in ``StageResult.train_logs``
   and in ``preference_train_<uid>.json`` in the round directory (the record itself keeps
   the losses, ``train_losses``, and the last step's margin and accuracy).
6. A side-by-side report of the best miner (``safety/report.py``), naming the miner and the
   round: 10 prompts, each with the base answer, the tuned answer and both judgements, in
   ``preference_side_by_side.json``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from common.atomic_file import write_text_atomic
from protocol.schemas import Competition, CotSample, PreferenceSample
from safety.report import build_report
from scoring.contamination import EvalPoolIndex
from scoring.preference_score import PreferenceEval, score_preference
from scoring.refusal import Judge, rule_judge
from scoring.score import SampleCounts
from validator.evalsets.preference import PreferenceEvalSet
from validator.model.dpo_train import (
    DEFAULT_DPO_RECIPE,
    DpoRecipe,
    DpoStepLog,
    PairMetrics,
    dpo_adapter,
    format_preference,
    preference_metrics,
)
from validator.model.evaluate import forward_pass, text_loss
from validator.model.recipe import format_prompt
from validator.pull import PullResult
from validator.stages.screening import screen_round
from validator.store.records import MinerRoundRecord, apply_score, screened_record
from validator.store.run_log import RoundDir

COMPETITION = Competition.PREFERENCE
SIDE_BY_SIDE = 10  # rows in the per-round side-by-side report (issue 6)
SIDE_BY_SIDE_FILE = "preference_side_by_side.json"
TRAIN_LOG_FILE = "preference_train_{uid}.json"  # one per trained miner, beside the report


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


def paired(base: ModelView, tuned: ModelView) -> PreferenceEval:
    """The score rule's inputs from the two views (``tuned`` measured against ``base``)."""
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


@dataclass
class StageResult:
    """The preference part of a round's record."""

    records: list[MinerRoundRecord]
    base_metrics: dict[str, float]
    seed: int
    report: dict[str, Any]  # the side-by-side report; {} when no miner was trained
    train_logs: dict[int, list[DpoStepLog]]  # uid -> one log per DPO step, trained miners


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
    submissions: dict[int, tuple[str, Sequence[CotSample | PreferenceSample]]] = {
        r.uid: (r.hotkey, r.response.samples) for r in results if r.response is not None
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
    train_logs: dict[int, list[DpoStepLog]] = {}
    best: tuple[MinerRoundRecord, ModelView] | None = None
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
            tuned = view(
                trained.eval_model(),
                ctx.tokenizer,
                eval_set,
                config,
                ctx.general_texts,
                reference=base.pairs,
            )
        record.timings_s.update(
            {"train": round(t2 - t1, 4), "eval": round(time.perf_counter() - t2, 4)}
        )
        record.train_losses = [log.loss for log in logs]
        train_logs[result.uid] = logs
        write_text_atomic(
            run_dir.path / TRAIN_LOG_FILE.format(uid=result.uid),
            json.dumps(train_log(round_id, record, config.recipe, logs), indent=1),
        )
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
        if best is None or score.score > best[0].score:
            best = (record, tuned)
    report: dict[str, Any] = {}
    if best is not None:
        shown, tuned = best
        subject = {
            "round_id": round_id,
            "competition": COMPETITION.value,
            "uid": shown.uid,
            "hotkey": shown.hotkey,
            "score": shown.score,
        }
        report = side_by_side(eval_set, base, tuned, config.judge, subject)
        write_text_atomic(run_dir.path / SIDE_BY_SIDE_FILE, json.dumps(report, indent=1))
    base_metrics = {
        "preference.pref_accuracy": base.pairs.accuracy(),
        "preference.refusal_rate": _mean(base.refused_harmful),
        "preference.compliance_rate": _mean(base.complied_benign),
        "preference.eval_s": base_s,
    }
    return StageResult(records, base_metrics, eval_set.seed, report, train_logs)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0
