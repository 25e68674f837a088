"""One validator round, start to finish.

The round, in the order the code below follows it:
1. Sync: read the metagraph; every other uid with an endpoint is a miner to query.
2. Eval set: draw this round's private eval items from the pool (secret + round id).
3. Pull: query the miners concurrently, signed; log requests and responses (hashes, sizes).
4. Screen: dedup (within a submission, across miners, against history in Redis) and the
   contamination gate against the eval pool — before any training.
5. Base: evaluate the base model once (not once per miner).
6. Train + measure: per miner, a fresh LoRA adapter on its accepted samples under the fixed
   recipe, then the same evaluation; paired per-item deltas against the base.
7. Score: improvement with a bootstrap CI, penalties, zero for contamination or NaN.
8. Weights: EMA per uid (reset on a new hotkey), normalised; set on chain once per epoch
   within the rate limit.
9. Record: the round directory, and the leaderboard in Redis (through the outbox, so a
   Redis outage loses nothing).

Steps 2-7 run per competition, CoT first (below), then preference
(``validator/stages/preference.py``), each only when it has a share > 0 in ``ctx.shares``. A
competition without one is skipped whole (no eval set drawn, no pull, no training, no eval):
its entry in ``RoundRecord.competitions`` says so, and it keeps its EMA untouched and takes no
part in this round's weights. Each competition that ran records the versions that define its
scores and publishes its held-out set in ``eval_set.json`` (``validator/evalsets/publish.py``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bittensor.sp_core import Keypair
from tqdm import tqdm

from protocol.chain.base import Chain, ChainError, Neuron
from protocol.schemas import Competition, CotSample, PreferenceSample, SubmissionRequest
from scoring.preference_score import PREFERENCE_SCORING_VERSION
from scoring.refusal import CachedJudge
from scoring.score import SCORING_VERSION, SampleCounts
from scoring.weights import combine, update_ema
from validator.evalsets.pool import EvalPool
from validator.evalsets.preference import PREFERENCE_EVAL_VERSION, draw_preference_eval
from validator.evalsets.publish import preference_sha256, published_preference
from validator.model.recipe import TrainRecipe
from validator.pull import PullResult, pull_all
from validator.stages.cot_validate import BaseEval, evaluate_base, validate_and_score
from validator.stages.preference import PreferenceConfig, run_stage
from validator.stages.screening import DedupHistory, Screened, screen_round
from validator.store.outbox import Outbox
from validator.store.records import (
    CompetitionRecord,
    MinerRoundRecord,
    RoundRecord,
    apply_score,
    screened_record,
)
from validator.store.run_log import RoundDir
from validator.store.state import ValidatorState
from validator.weights_policy import epoch_id, should_set_weights

log = logging.getLogger(__name__)

COMPETITION = Competition.COT_SFT
RULE_JUDGE = "rule"  # how the round record names scoring/refusal.py's rule_judge


@dataclass
class RoundContext:
    """Everything a round uses, built once by the entry point."""

    keypair: Keypair
    chain: Chain
    model: Any
    tokenizer: Any
    recipe: TrainRecipe
    pool: EvalPool
    history: DedupHistory
    outbox: Outbox
    store: Any  # LeaderboardStore
    state: ValidatorState
    state_path: Path
    run_root: Path
    samples_per_miner: int
    eval_items: int
    pull_deadline_s: float
    general_texts: tuple[str, ...]
    progress: bool = True
    # Competition -> its share of the weights (normalised over those with earners). A
    # competition with share 0, or left out, is skipped whole (module docstring).
    shares: dict[str, float] = field(default_factory=lambda: {COMPETITION.value: 1.0})
    preference: PreferenceConfig = field(default_factory=PreferenceConfig)
    # What ``preference.judge`` is, for the round record: RULE_JUDGE or the model judge's name.
    preference_judge: str = RULE_JUDGE


@dataclass
class Part:
    """One competition's contribution to a round: its records and what defined them."""

    competition: CompetitionRecord
    records: list[MinerRoundRecord] = field(default_factory=list)
    base_metrics: dict[str, float] = field(default_factory=dict)
    seeds: dict[str, int | str] = field(default_factory=dict)
    published: dict[str, Any] = field(default_factory=dict)  # its part of eval_set.json


def _miners(metagraph: list[Neuron], own_hotkey: str) -> list[Neuron]:
    return [n for n in metagraph if n.hotkey != own_hotkey and n.endpoint]


def _log_exchange(
    run: RoundDir, request: SubmissionRequest, results: list[PullResult], miners: list[Neuron]
) -> None:
    by_uid = {m.uid: m for m in miners}
    for result in results:
        run.request(
            {
                "uid": result.uid,
                "hotkey": result.hotkey,
                "endpoint": by_uid[result.uid].endpoint,
                "request": request.model_dump(mode="json"),
                "nonce_ns": result.request_nonce_ns,
            }
        )
        run.response(
            {
                "uid": result.uid,
                "hotkey": result.hotkey,
                "ok": result.ok,
                "error": result.error,
                "status": result.status,
                "bytes": result.body_bytes,
                "body_sha256": result.body_sha256,
                "samples": len(result.response.samples) if result.response else 0,
                "manifest_sha256": result.response.manifest_sha256 if result.response else None,
                "elapsed_s": round(result.elapsed_s, 4),
            }
        )


def _update_weights(
    ctx: RoundContext,
    records: list[MinerRoundRecord],
    metagraph: list[Neuron],
    ran: list[str],
) -> dict[int, float]:
    """EMA per competition that ran (each uid's slot in each), combined by their shares.

    A competition that did not run has no evidence this round: its EMA stays as it was and
    it takes no part in the weights.
    """
    own = ctx.keypair.ss58_address
    hotkeys = {n.uid: n.hotkey for n in metagraph if n.hotkey != own}
    per_competition: dict[str, dict[int, float]] = {}
    for competition in ran:
        scored = [r for r in records if r.competition == competition]
        table = update_ema(
            ctx.state.ema.get(competition, {}), {r.uid: r.score for r in scored}, hotkeys
        )
        ctx.state.ema[competition] = table
        for record in scored:
            record.ema = table[record.uid].value if record.uid in table else 0.0
        per_competition[competition] = {uid: entry.value for uid, entry in table.items()}
    weights = combine(per_competition, {c: ctx.shares[c] for c in ran})
    for record in records:
        record.weight = weights.get(record.uid, 0.0)
    return weights


def _set_weights(
    ctx: RoundContext, weights: dict[int, float], metagraph: list[Neuron]
) -> tuple[bool, str | None]:
    me = next((n for n in metagraph if n.hotkey == ctx.keypair.ss58_address), None)
    if me is None:
        return False, "validator is not registered"
    block = ctx.chain.block()
    rules = ctx.chain.weight_rules()
    current = epoch_id(block, ctx.chain.blocks_until_next_epoch())
    if not any(w > 0 for w in weights.values()):
        return False, "no miner has a positive score yet"
    if not should_set_weights(
        block, me.last_update, rules.weights_rate_limit, current, ctx.state.last_weights_epoch
    ):
        return False, "already set this epoch or inside the rate limit"
    try:
        ctx.chain.set_weights(ctx.keypair, weights)
    except ChainError as exc:
        return False, f"{type(exc).__name__}: {exc}"
    ctx.state.last_weights_epoch = current
    return True, None


def _bar(ctx: RoundContext, total: int, desc: str) -> tqdm:  # type: ignore[type-arg]
    return tqdm(total=total, desc=desc, disable=not ctx.progress, leave=False, unit="miner")


def _share(ctx: RoundContext, competition: Competition) -> float:
    return ctx.shares.get(competition.value, 0.0)


def run_round(ctx: RoundContext, round_id: str) -> RoundRecord:
    """Run one round (steps in the module docstring) and return its record."""
    started = time.time()
    run = RoundDir(ctx.run_root, round_id)
    # 1. Sync
    metagraph = ctx.chain.metagraph()
    block = ctx.chain.block()
    miners = _miners(metagraph, ctx.keypair.ss58_address)
    # 2-7, per competition that has a share
    parts: dict[str, Part] = {}
    for competition, run_part in ((COMPETITION, _cot_part), (Competition.PREFERENCE, _pref_part)):
        share = _share(ctx, competition)
        if share > 0:
            parts[competition.value] = run_part(ctx, round_id, miners, run)
        else:
            reason = "share 0: no pull, training or eval this round"
            parts[competition.value] = Part(CompetitionRecord(share, False, reason))
    records = [r for part in parts.values() for r in part.records]
    # 8. Weights
    ran = [c for c, part in parts.items() if part.competition.ran]
    weights = _update_weights(ctx, records, metagraph, ran)
    weights_set, weights_error = _set_weights(ctx, weights, metagraph)
    ctx.state.rounds_done += 1
    ctx.state.save(ctx.state_path)
    # 9. Record (the top-level versions are CoT's, as in round-record/1; empty if it was off)
    cot = parts[COMPETITION.value].competition
    record = RoundRecord(
        round_id=round_id,
        validator_hotkey=ctx.keypair.ss58_address,
        started_at=started,
        finished_at=time.time(),
        block=block,
        eval_set_sha256=cot.eval_set_sha256 or "",
        eval_version=cot.eval_version or "",
        scoring_version=cot.scoring_version or "",
        recipe_version=cot.recipe_version or "",
        seeds={k: v for part in parts.values() for k, v in part.seeds.items()},
        base_metrics={k: v for part in parts.values() for k, v in part.base_metrics.items()},
        miners=records,
        weights=weights,
        weights_set=weights_set,
        weights_error=weights_error,
        competitions={c: part.competition for c, part in parts.items()},
    )
    run.finish(record, {k: v for part in parts.values() for k, v in part.published.items()})
    ctx.outbox.submit(record, ctx.store)
    return record


def _cot_part(ctx: RoundContext, round_id: str, miners: list[Neuron], run: RoundDir) -> Part:
    """Steps 2-7 for the CoT competition."""
    # 2. Eval set
    eval_set = ctx.pool.draw(round_id, ctx.eval_items)
    # 3. Pull
    request = SubmissionRequest(
        competition=COMPETITION, round_id=round_id, num_samples=ctx.samples_per_miner
    )
    with _bar(ctx, 1, "pull") as bar:
        results = asyncio.run(pull_all(ctx.keypair, miners, request, ctx.pull_deadline_s))
        bar.update(1)
    _log_exchange(run, request, results, miners)
    # 4. Screen
    submissions: dict[int, tuple[str, Sequence[CotSample | PreferenceSample]]] = {
        r.uid: (r.hotkey, r.response.samples) for r in results if r.response is not None
    }
    with _bar(ctx, 1, "dedup + contamination") as bar:
        screened: dict[int, Screened] = screen_round(
            submissions, round_id, ctx.history, ctx.pool.index()
        )
        bar.update(1)
    # 5. Base, once
    t0 = time.perf_counter()
    items = list(eval_set.items)
    base = evaluate_base(ctx.model, ctx.tokenizer, items, ctx.general_texts)
    base_eval_s = time.perf_counter() - t0
    # 6-7. Train, measure, score
    records: list[MinerRoundRecord] = []
    with _bar(ctx, len(results), "train + eval") as bar:
        for result in results:
            records.append(
                _miner_round(ctx, result, screened.get(result.uid), base, items, round_id)
            )
            bar.update(1)
    return Part(
        CompetitionRecord(
            share=_share(ctx, COMPETITION),
            ran=True,
            eval_set_sha256=eval_set.sha256(),
            eval_version=eval_set.version,
            recipe_version=ctx.recipe.version,
            scoring_version=SCORING_VERSION,
        ),
        records,
        {
            "accuracy": base.result.accuracy(),
            "rouge_l": _mean(base.rouge),
            "answer_loss": _mean(base.result.answer_loss),
            "completion_loss": _mean(base.result.completion_loss),
            "general_loss": _mean(base.result.general_loss),
            "eval_s": base_eval_s,
        },
        {"eval": eval_set.seed, "train": ctx.recipe.seed},
        ctx.pool.published(),
    )


def _pref_part(ctx: RoundContext, round_id: str, miners: list[Neuron], run: RoundDir) -> Part:
    """Steps 2-7 for the preference competition (validator/stages/preference.py)."""
    config = ctx.preference
    pref_set = draw_preference_eval(
        ctx.pool.secret,
        round_id,
        config.harmful_prompts,
        config.benign_prompts,
        config.heldout_pairs,
    )
    request = SubmissionRequest(
        competition=Competition.PREFERENCE, round_id=round_id, num_samples=ctx.samples_per_miner
    )
    # One verdict per distinct (prompt, answer) this round: a tuned model often repeats the
    # base's answer, and a model judge is paid per call. Per round, so memory stays bounded.
    stage_ctx = replace(ctx, preference=replace(config, judge=CachedJudge(config.judge)))
    with _bar(ctx, 1, "preference") as bar:
        results = asyncio.run(pull_all(ctx.keypair, miners, request, ctx.pull_deadline_s))
        _log_exchange(run, request, results, miners)
        stage = run_stage(stage_ctx, round_id, pref_set, results, run)
        bar.update(1)
    return Part(
        CompetitionRecord(
            share=_share(ctx, Competition.PREFERENCE),
            ran=True,
            eval_set_sha256=preference_sha256(pref_set),
            eval_version=PREFERENCE_EVAL_VERSION,
            recipe_version=config.recipe.version,
            scoring_version=PREFERENCE_SCORING_VERSION,
            judge=ctx.preference_judge,
        ),
        stage.records,
        stage.base_metrics,
        {"preference_eval": stage.seed, "preference_train": config.recipe.seed},
        {Competition.PREFERENCE.value: published_preference(pref_set)},
    )


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _miner_round(
    ctx: RoundContext,
    result: PullResult,
    screened: Screened | None,
    base: BaseEval,
    items: list[Any],
    round_id: str,
) -> MinerRoundRecord:
    record, trainable = screened_record(
        result.uid,
        result.hotkey,
        COMPETITION.value,
        result.elapsed_s,
        len(result.response.samples) if result.response is not None else None,
        result.error,
        screened,
    )
    if not trainable or screened is None:
        return record
    scored = validate_and_score(
        ctx.model,
        ctx.tokenizer,
        screened.kept,
        items,
        ctx.recipe,
        base=base,
        general_texts=ctx.general_texts,
        prior=SampleCounts(
            offered=record.offered,
            duplicates=record.duplicates,
            invalid=record.invalid,
        ),
        requested=ctx.samples_per_miner,
        seed=hash_seed(round_id, result.uid),
    )
    if scored.measured is not None:
        record.train_losses = scored.measured.train_losses
        record.timings_s.update({k: round(v, 4) for k, v in scored.measured.timings_s.items()})
    record.wrong_answers = scored.counts.wrong_answers
    score = scored.score
    apply_score(record, score)
    return record


def hash_seed(round_id: str, uid: int) -> int:
    """A bootstrap seed from the round and uid: reproducible, different per miner."""
    return int.from_bytes(hashlib.sha256(f"{round_id}|{uid}".encode()).digest()[:4], "big")
