"""One validator round, start to finish.

The round, in the order ``run_round`` follows it:
1. Sync: read the metagraph; every other uid with an endpoint is a miner to query.
2. Eval sets: each competition with a share > 0 (``validator/stages/``: one ``Stage`` each)
   draws this round's private held-out set (secret + round id).
3. Commit: the sets' hashes, salted, go on chain before any miner is asked
   (``validator/eval_commitment.py``); the sets and the salt are published after the round.
4-8. Per competition, CoT first:
   4. Pull: query the miners concurrently, signed; log requests and responses (hashes,
      sizes) — ``validator/pull.py``; then hold each response to its miner's on-chain manifest
      commitment (``validator/manifests.py``): unproven samples are dropped, a response without
      a commitment binding its root to the hotkey is refused, and the commitment block is
      the earliest-holder order of dedup. Each verified response is kept as signed (for the
      audit: ``validator/audit.py``).
   5. Screen: dedup (within a submission, across miners, against history in Redis) and the
      contamination gate against the held-out pool — before any training.
   6. Base: evaluate the base model once (not once per miner).
   7. Train + measure: per miner, a fresh adapter on its accepted samples under the fixed
      recipe, then the same evaluation; paired per-item deltas against the base.
   8. Score: improvement with a bootstrap CI, penalties, zero for contamination or NaN.
9. Weights: EMA per competition and uid (reset on a new hotkey), combined by the shares,
   normalised; set on chain once per epoch within the rate limit.
10. Record: the round directory, and the leaderboard in Redis (through the outbox, so a
   Redis outage loses nothing).

A competition without a share is skipped whole (no eval set drawn, no pull, no training, no
eval): its entry in ``RoundRecord.competitions`` says so, it keeps its EMA untouched and takes
no part in this round's weights. Each competition that ran records the versions that define
its scores and publishes its held-out set in ``eval_set.json`` (``validator/evalsets/publish.py``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bittensor.sp_core import Keypair
from tqdm import tqdm

from protocol.chain import LOCAL_EMBEDDED, public_network
from protocol.chain.base import Chain, ChainError, Neuron
from protocol.schemas import Competition, SubmissionRequest
from scoring.weights import combine, update_ema
from validator.eval_commitment import commit_eval_sets
from validator.manifests import held_to_commitments
from validator.pull import PullResult, pull_all
from validator.stages.registry import StageConfigs, build_stage, competitions
from validator.stages.screening import DedupHistory
from validator.stages.stage import Stage, StageInputs, StageOutcome, price_submissions
from validator.store.leaderboard import LeaderboardStore
from validator.store.outbox import Outbox
from validator.store.records import CompetitionRecord, MinerRoundRecord, RoundRecord
from validator.store.run_log import RoundDir
from validator.store.state import ValidatorState
from validator.weights_policy import epoch_id, should_set_weights

log = logging.getLogger(__name__)


@dataclass
class RoundContext:
    """Everything a round uses, built once by the entry point."""

    keypair: Keypair
    chain: Chain
    model: Any  # a transformers causal LM (the embedded Llama or a Hugging Face model)
    tokenizer: Any  # its tokenizer
    stages: StageConfigs  # each competition's settings (eval pool, recipes, judge)
    history: DedupHistory
    outbox: Outbox
    store: LeaderboardStore
    state: ValidatorState
    state_path: Path
    run_root: Path
    samples_per_miner: int
    pull_deadline_s: float
    general_texts: tuple[str, ...]
    progress: bool = True
    # Competition -> its share of the weights (normalised over those with earners). A
    # competition with share 0, or left out, is skipped whole (module docstring).
    shares: dict[Competition, float] = field(default_factory=lambda: {Competition.COT_SFT: 1.0})
    # What ``model`` and ``chain`` are, by the names the settings gave (``--model``,
    # ``--subtensor.network``): the round record carries them for audits.
    base_model: str = "tiny"
    network: str = LOCAL_EMBEDDED


def run_round(ctx: RoundContext, round_id: str) -> RoundRecord:
    """Run one round (steps in the module docstring) and return its record."""
    started = time.time()
    run = RoundDir(ctx.run_root, round_id)
    # 1. Sync
    metagraph = ctx.chain.metagraph()
    block = ctx.chain.block()
    miners = _miners(metagraph, ctx.keypair.ss58_address)
    # What every stage of this round shares
    inputs = StageInputs(
        round_id=round_id,
        run=run,
        secret=ctx.stages.cot.pool.secret,
        model=ctx.model,
        tokenizer=ctx.tokenizer,
        history=ctx.history,
        general_texts=ctx.general_texts,
        samples_per_miner=ctx.samples_per_miner,
        progress=ctx.progress,
    )
    # 2. Eval sets
    stages = {
        c: build_stage(c, inputs, ctx.stages) for c in competitions() if ctx.shares.get(c, 0.0) > 0
    }
    eval_sets = {c: stage.eval_set() for c, stage in stages.items()}
    # 3. Commit
    commitment = commit_eval_sets(
        ctx.chain,
        ctx.keypair,
        inputs.secret,
        round_id,
        {c: stage.eval_set_sha256(eval_sets[c]) for c, stage in stages.items()},
    )
    # 4-8. Per competition
    outcomes: dict[Competition, StageOutcome] = {}
    commitments_block: dict[str, int] = {}
    for competition in competitions():
        share = ctx.shares.get(competition, 0.0)
        if competition in stages:
            outcome, read_at = run_stage(
                ctx, stages[competition], eval_sets[competition], miners, share
            )
            outcomes[competition] = outcome
            commitments_block[competition.value] = read_at
        else:
            reason = "share 0: no pull, training or eval this round"
            outcomes[competition] = StageOutcome(CompetitionRecord(share, False, reason))
    records = [r for outcome in outcomes.values() for r in outcome.records]
    # 9. Weights
    ran = [c for c, outcome in outcomes.items() if outcome.competition.ran]
    weights = _update_weights(ctx, records, metagraph, ran)
    weights_set, weights_error = _set_weights(ctx, weights, metagraph)
    ctx.state.rounds_done += 1
    ctx.state.save(ctx.state_path)
    # 10. Record
    record = _round_record(ctx, round_id, started, block, outcomes, weights)
    record.weights_set, record.weights_error = weights_set, weights_error
    record.eval_commitment, record.commitments_block = commitment, commitments_block
    published = {k: v for o in outcomes.values() for k, v in o.published.items()}
    published["commitment"] = {**asdict(commitment), "round_id": round_id}
    run.finish(record, published)
    ctx.outbox.submit(record, ctx.store)
    return record


def run_stage(
    ctx: RoundContext,
    stage: Stage[Any, Any],
    eval_set: Any,
    miners: list[Neuron],
    share: float,
) -> tuple[StageOutcome, int]:
    """Steps 4-8 for one competition: pull and hold to commitments, screen, base, train, score.

    Returns the outcome and the block at which the miners' commitments were read.
    """
    inputs = stage.inputs
    competition = stage.competition
    # 4. Pull, then hold each response to its miner's manifest commitment
    request = SubmissionRequest(
        competition=competition, round_id=inputs.round_id, num_samples=ctx.samples_per_miner
    )
    with _bar(ctx, 1, f"{competition.value}: pull") as bar:
        results = asyncio.run(pull_all(ctx.keypair, miners, request, ctx.pull_deadline_s))
        bar.update(1)
    _log_exchange(inputs.run, request, results, miners)
    read_at = ctx.chain.block()
    held, checks = held_to_commitments(results, ctx.chain.commitments(read_at))
    # 5-8. Screen, base, train + measure, score
    outcome = price_submissions(stage, eval_set, held, share, checks)
    _keep_signed(inputs.run, ctx.keypair.ss58_address, request, results, outcome)
    return outcome, read_at


def _keep_signed(
    run: RoundDir,
    validator_hotkey: str,
    request: SubmissionRequest,
    results: list[PullResult],
    outcome: StageOutcome,
) -> None:
    """Keep each verified response as the miner signed it, with what screening kept of it."""
    for result in results:
        if result.body is None:
            continue
        run.signed_response(
            request.competition.value,
            result.uid,
            {
                "uid": result.uid,
                "miner_hotkey": result.hotkey,
                "validator_hotkey": validator_hotkey,
                "request_nonce_ns": result.request_nonce_ns,
                "request": request.model_dump(mode="json"),
                "signature_headers": dict(result.signature_headers),
                "body": result.body.decode("utf-8"),
                "kept_sha256": outcome.kept.get(result.uid, []),
            },
        )


def _round_record(
    ctx: RoundContext,
    round_id: str,
    started: float,
    block: int,
    outcomes: dict[Competition, StageOutcome],
    weights: dict[int, float],
) -> RoundRecord:
    """The round's record; the top-level versions are CoT's (round-record/1), empty if off."""
    cot = outcomes[Competition.COT_SFT].competition
    return RoundRecord(
        round_id=round_id,
        validator_hotkey=ctx.keypair.ss58_address,
        started_at=started,
        finished_at=time.time(),
        block=block,
        eval_set_sha256=cot.eval_set_sha256 or "",
        eval_version=cot.eval_version or "",
        scoring_version=cot.scoring_version or "",
        recipe_version=cot.recipe_version or "",
        seeds={k: v for o in outcomes.values() for k, v in o.seeds.items()},
        base_metrics={k: v for o in outcomes.values() for k, v in o.base_metrics.items()},
        miners=[r for o in outcomes.values() for r in o.records],
        weights=weights,
        weights_set=False,
        competitions={c: o.competition for c, o in outcomes.items()},
        base_model=ctx.base_model,
        network=public_network(ctx.network),
        netuid=ctx.chain.netuid,
    )


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
                "samples_sha256": result.response.samples_sha256 if result.response else None,
                "manifest_root": result.response.manifest_root if result.response else None,
                "elapsed_s": round(result.elapsed_s, 4),
            }
        )


def _update_weights(
    ctx: RoundContext,
    records: list[MinerRoundRecord],
    metagraph: list[Neuron],
    ran: list[Competition],
) -> dict[int, float]:
    """EMA per competition that ran (each uid's slot in each), combined by their shares.

    A competition that did not run has no evidence this round: its EMA stays as it was and
    it takes no part in the weights.
    """
    own = ctx.keypair.ss58_address
    hotkeys = {n.uid: n.hotkey for n in metagraph if n.hotkey != own}
    per_competition: dict[Competition, dict[int, float]] = {}
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


def _bar(ctx: RoundContext, total: int, desc: str) -> tqdm:
    return tqdm(total=total, desc=desc, disable=not ctx.progress, leave=False, unit="miner")
