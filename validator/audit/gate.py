"""The contamination gate, re-run by the audit on published data alone.

What the gate checked a miner's samples against is public once the round is over: the
round's own held-out set and canaries (``eval_set.json``) and, for CoT, the published sets
its record names in ``gate_window`` (each round's own ``eval_set.json``). So are the miner's
served samples (its signed response; screening saw the proven ones). The audit rebuilds the
gate's index from those files (``validator.evalsets.pool.pool_index``), measures the round's
chance rates on it exactly as the round did (``validator.evalsets.chance``: seeded by the
round id) and re-runs ``gate_miner``: the matched count, the chance allowance and whether the
round was zeroed must equal the record's. A validator that zeroed an honest miner for
"contamination", or waved a copier through, is caught here; the dedup verdicts are not
re-derived (they depend on the validator's history, which is not published).

Pure: explicit inputs, ``Finding`` out; ``validator/audit/cli.py`` reads the files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from protocol.schemas import Competition, CotSample, PreferenceSample
from scoring.contamination import EvalPoolIndex
from tasks.registry import TaskItem
from validator.audit.checks import Finding, published_preference_set
from validator.evalsets.chance import measure_chance
from validator.evalsets.cot import EvalSet
from validator.evalsets.pool import pool_index, published_round
from validator.stages.screening import GateResult, gate_miner
from validator.store.records import MinerRoundRecord, MinerStatus, RoundRecord

GATE_CHECK = "contamination gate re-derived"
WINDOW_CHECK = "the gate's published sets"


def gate_findings(
    record: RoundRecord,
    miner: MinerRoundRecord,
    proven: Sequence[CotSample | PreferenceSample],
    published: Mapping[str, Any],
    window: Mapping[str, Mapping[str, Any] | None],
) -> list[Finding]:
    """The gate re-run on ``proven`` (the response's proven samples, in order).

    ``published`` is the round's ``eval_set.json``; ``window`` maps each round id the record
    names in ``gate_window`` to that round's ``eval_set.json`` (None: not found).
    """
    if miner.competition is Competition.PREFERENCE:
        index = EvalPoolIndex(published_preference_set(published).pool_items())
        return [_verdict(gate_miner(proven, index, None), miner, len(proven))]
    part = record.competitions.get(Competition.COT_SFT)
    names = part.gate_window if part is not None else None
    if names is None:
        return [
            Finding(
                GATE_CHECK,
                True,
                f"not re-derived: a {record.record_version} record names no gate window",
            )
        ]
    rounds, problems = _window_rounds(names, window)
    found = Finding(
        WINDOW_CHECK,
        not problems,
        "; ".join(problems) or f"{len(rounds)} published set(s), each as the record hashes it",
    )
    if problems:
        return [found]
    current = published_round(published)
    index = pool_index([*rounds, current])
    gate = gate_miner(proven, index, measure_chance(index, record.round_id))
    return [found, _verdict(gate, miner, len(proven))]


def _window_rounds(
    names: Mapping[str, str], window: Mapping[str, Mapping[str, Any] | None]
) -> tuple[list[tuple[EvalSet, list[TaskItem]]], list[str]]:
    """The window's sets and canaries in the record's order, and what is wrong with them."""
    rounds: list[tuple[EvalSet, list[TaskItem]]] = []
    problems: list[str] = []
    for round_id, sha256 in names.items():
        body = window.get(round_id)
        if body is None:
            problems.append(f"round {round_id}'s published set not found")
            continue
        try:
            eval_set, canaries = published_round(body)
        except ValueError as exc:
            problems.append(f"round {round_id}: {exc}")
            continue
        if eval_set.sha256() != sha256:
            problems.append(
                f"round {round_id} hashes to {eval_set.sha256()[:12]}, the record names {sha256[:12]}"
            )
            continue
        rounds.append((eval_set, canaries))
    return rounds, problems


def _verdict(gate: GateResult, miner: MinerRoundRecord, served: int) -> Finding:
    zeroed = miner.status is MinerStatus.CONTAMINATED
    ok = (
        gate.matched == miner.contaminated
        and gate.allowance == miner.contamination_allowance
        and gate.zeroed == zeroed
    )
    return Finding(
        GATE_CHECK,
        ok,
        f"{gate.matched} of {served} samples match the pool (recorded {miner.contaminated});"
        f" chance allows {gate.allowance} (expected {gate.expected:.2f}; recorded"
        f" {miner.contamination_allowance}); zeroed {gate.zeroed} (recorded {zeroed})",
    )
