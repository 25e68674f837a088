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
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bittensor.sp_core import Keypair
from tqdm import tqdm

from protocol.chain.base import Chain, ChainError, Neuron
from protocol.schemas import Competition, CotSample, SubmissionRequest
from scoring.score import SCORING_VERSION, SampleCounts
from scoring.weights import normalise, update_ema
from validator.eval_pool import EvalPool
from validator.model.evaluate import EvalResult, evaluate
from validator.model.recipe import TrainRecipe, format_pair
from validator.model.train import lora_adapter
from validator.outbox import Outbox
from validator.pull import PullResult, pull_all
from validator.records import MinerRoundRecord, RoundRecord
from validator.run_log import RoundDir
from validator.scorer import rouge_of, score_cot
from validator.screening import DedupHistory, Screened, screen_round
from validator.state import ValidatorState
from validator.weights_policy import epoch_id, should_set_weights

log = logging.getLogger(__name__)

COMPETITION = Competition.COT_SFT


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


def _train_and_eval(
    ctx: RoundContext, samples: list[CotSample], items: list[Any]
) -> tuple[EvalResult, list[float], dict[str, float]]:
    t0 = time.perf_counter()
    pairs = [format_pair(s) for s in samples]
    with lora_adapter(ctx.model, ctx.tokenizer, pairs, ctx.recipe) as trained:
        t1 = time.perf_counter()
        tuned = evaluate(trained.model, ctx.tokenizer, items, ctx.general_texts)
        t2 = time.perf_counter()
        losses = list(trained.per_step_losses)
    return tuned, losses, {"train": t1 - t0, "eval": t2 - t1}


def _update_weights(
    ctx: RoundContext, records: list[MinerRoundRecord], metagraph: list[Neuron]
) -> dict[int, float]:
    own = ctx.keypair.ss58_address
    hotkeys = {n.uid: n.hotkey for n in metagraph if n.hotkey != own}
    table = update_ema(
        ctx.state.ema.get(COMPETITION.value, {}), {r.uid: r.score for r in records}, hotkeys
    )
    ctx.state.ema[COMPETITION.value] = table
    for record in records:
        record.ema = table[record.uid].value if record.uid in table else 0.0
    weights = normalise({uid: entry.value for uid, entry in table.items()})
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


def run_round(ctx: RoundContext, round_id: str) -> RoundRecord:
    """Run one round (steps in the module docstring) and return its record."""
    started = time.time()
    run = RoundDir(ctx.run_root, round_id)
    # 1. Sync
    metagraph = ctx.chain.metagraph()
    block = ctx.chain.block()
    miners = _miners(metagraph, ctx.keypair.ss58_address)
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
    submissions = {
        r.uid: (r.hotkey, list(r.response.samples)) for r in results if r.response is not None
    }
    with _bar(ctx, 1, "dedup + contamination") as bar:
        screened: dict[int, Screened] = screen_round(
            submissions, round_id, ctx.history, ctx.pool.index()
        )
        bar.update(1)
    # 5. Base, once
    t0 = time.perf_counter()
    items = list(eval_set.items)
    base = evaluate(ctx.model, ctx.tokenizer, items, ctx.general_texts)
    base_rouge = rouge_of(base)
    base_eval_s = time.perf_counter() - t0
    # 6-7. Train, measure, score
    records: list[MinerRoundRecord] = []
    with _bar(ctx, len(results), "train + eval") as bar:
        for result in results:
            records.append(
                _miner_round(
                    ctx, result, screened.get(result.uid), base, base_rouge, items, round_id
                )
            )
            bar.update(1)
    # 8. Weights
    weights = _update_weights(ctx, records, metagraph)
    weights_set, weights_error = _set_weights(ctx, weights, metagraph)
    ctx.state.rounds_done += 1
    ctx.state.save(ctx.state_path)
    # 9. Record
    record = RoundRecord(
        round_id=round_id,
        validator_hotkey=ctx.keypair.ss58_address,
        started_at=started,
        finished_at=time.time(),
        block=block,
        eval_set_sha256=eval_set.sha256(),
        eval_version=eval_set.version,
        scoring_version=SCORING_VERSION,
        recipe_version=ctx.recipe.version,
        seeds={"eval": eval_set.seed, "train": ctx.recipe.seed},
        base_metrics={
            "accuracy": base.accuracy(),
            "rouge_l": _mean(base_rouge),
            "answer_loss": _mean(base.answer_loss),
            "completion_loss": _mean(base.completion_loss),
            "general_loss": _mean(base.general_loss),
            "eval_s": base_eval_s,
        },
        miners=records,
        weights=weights,
        weights_set=weights_set,
        weights_error=weights_error,
    )
    run.finish(record, ctx.pool.published())
    ctx.outbox.submit(record, ctx.store)
    return record


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _miner_round(
    ctx: RoundContext,
    result: PullResult,
    screened: Screened | None,
    base: EvalResult,
    base_rouge: list[float],
    items: list[Any],
    round_id: str,
) -> MinerRoundRecord:
    record = MinerRoundRecord(
        uid=result.uid, hotkey=result.hotkey, competition=COMPETITION.value, status="failed"
    )
    record.timings_s["pull"] = round(result.elapsed_s, 4)
    if result.response is None or screened is None:
        record.error = result.error or "no response"
        record.reasons.append(f"no usable response: {record.error}")
        return record
    record.offered = len(result.response.samples)
    record.accepted = len(screened.kept)
    record.duplicates = screened.duplicates
    record.contaminated = screened.contaminated
    record.reasons.extend(screened.reasons)
    if screened.contaminated:
        record.status = "contaminated"
        return record
    if not screened.kept:
        record.status = "empty"
        record.reasons.append("no sample survived screening")
        return record
    tuned, losses, timings = _train_and_eval(ctx, screened.kept, items)
    record.train_losses = losses
    record.timings_s.update({k: round(v, 4) for k, v in timings.items()})
    counts = SampleCounts(
        offered=record.offered,
        duplicates=record.duplicates,
        accepted=record.accepted,
        requested=ctx.samples_per_miner,
    )
    score = score_cot(base, tuned, base_rouge, counts, seed=hash_seed(round_id, result.uid))
    record.status = "scored"
    record.score = score.score
    record.components = dict(score.components)
    if score.ci is not None:
        record.ci_low, record.ci_high = score.ci[1], score.ci[2]
    record.reasons.extend(score.reasons)
    return record


def hash_seed(round_id: str, uid: int) -> int:
    """A bootstrap seed from the round and uid: reproducible, different per miner."""
    return int.from_bytes(hashlib.sha256(f"{round_id}|{uid}".encode()).digest()[:4], "big")
