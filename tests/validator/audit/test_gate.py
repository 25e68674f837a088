"""The audit re-runs the contamination gate from published files alone (validator/audit/gate.py).

A real pool of two rounds (the second's gate checks the first's published set), real
screening verdicts recorded as a round records them, then the audit's re-derivation: it
agrees with an honest record and catches each kind of tampering.
"""

from __future__ import annotations

import copy
import json
import random
from dataclasses import replace
from typing import Any

import pytest

from protocol.schemas import Competition, CotSample
from tasks.families import generate_many
from tasks.quality import Quality, degrade
from tests.support.rounds import make_round, miner_record
from validator.audit.gate import GATE_CHECK, WINDOW_CHECK, gate_findings
from validator.evalsets.chance import measure_chance
from validator.evalsets.pool import EvalPool
from validator.stages.screening import gate_miner
from validator.store.records import CompetitionRecord, MinerRoundRecord, MinerStatus, RoundRecord

ROUND = "r00001"


def _honest(seed: int, count: int) -> list[CotSample]:
    rng = random.Random(seed)
    return [
        CotSample(prompt=p, chain_of_thought=c, final_answer=a)
        for p, c, a in (degrade(it, Quality.CORRECT, rng) for it in generate_many(seed, count))
    ]


class Published:
    """Two rounds of one validator: the first's set published, the second's round recorded."""

    def __init__(self) -> None:
        pool = EvalPool("audit-gate-secret")
        pool.draw("r00000", 64)
        self.window = {"r00000": json.loads(json.dumps(pool.published()))}
        pool.draw(ROUND, 64)
        self.published = json.loads(json.dumps(pool.published()))
        self.pool = pool
        self.gate_window = {s.round_id: s.sha256() for s, _ in pool.published_sets()}

    def record(self, samples: list[CotSample]) -> tuple[RoundRecord, MinerRoundRecord]:
        """The round's record of one miner, screened by the round's own gate."""
        index = self.pool.index()
        gate = gate_miner(samples, index, measure_chance(index, ROUND))
        miner = miner_record(
            1,
            1,
            contaminated=gate.matched,
            contamination_allowance=gate.allowance,
            status=MinerStatus.CONTAMINATED if gate.zeroed else MinerStatus.SCORED,
            competition=Competition.COT_SFT,
        )
        record = make_round(1, [])
        record.miners = [miner]
        record.competitions = {
            Competition.COT_SFT: CompetitionRecord(1.0, True, gate_window=dict(self.gate_window))
        }
        return record, miner


@pytest.fixture(scope="module")
def published() -> Published:
    return Published()


def _copier(published: Published, copies: int) -> list[CotSample]:
    """An honest miner that also serves ``copies`` items of the first round's published set."""
    items: list[dict[str, Any]] = published.window["r00000"]["items"][:copies]
    stolen = [
        CotSample(
            prompt=it["prompt"],
            chain_of_thought=it["chain_of_thought"],
            final_answer=it["final_answer"],
        )
        for it in items
    ]
    return _honest(7, 64 - copies) + stolen


def _ok(findings: list[Any]) -> dict[str, bool]:
    return {f.check: f.ok for f in findings}


def test_an_honest_record_is_re_derived(published: Published) -> None:
    samples = _honest(3, 64)
    record, miner = published.record(samples)
    findings = gate_findings(record, miner, samples, published.published, published.window)
    assert _ok(findings) == {WINDOW_CHECK: True, GATE_CHECK: True}, findings


def test_a_copier_of_a_published_set_is_re_derived_zeroed(published: Published) -> None:
    samples = _copier(published, 30)
    record, miner = published.record(samples)
    assert miner.status is MinerStatus.CONTAMINATED and miner.contaminated >= 29
    findings = gate_findings(record, miner, samples, published.published, published.window)
    assert _ok(findings) == {WINDOW_CHECK: True, GATE_CHECK: True}, findings


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda m: replace(m, contaminated=m.contaminated + 1), id="matched count"),
        pytest.param(
            lambda m: replace(m, contamination_allowance=m.contamination_allowance + 3),
            id="allowance",
        ),
        pytest.param(lambda m: replace(m, status=MinerStatus.SCORED), id="copier waved through"),
    ],
)
def test_a_record_the_gate_does_not_give_fails(published: Published, tamper: Any) -> None:
    samples = _copier(published, 30)
    record, miner = published.record(samples)
    findings = gate_findings(record, tamper(miner), samples, published.published, published.window)
    assert _ok(findings) == {WINDOW_CHECK: True, GATE_CHECK: False}, findings


def test_an_honest_miner_zeroed_for_contamination_is_caught(published: Published) -> None:
    samples = _honest(3, 64)
    record, miner = published.record(samples)
    zeroed = replace(miner, status=MinerStatus.CONTAMINATED, contaminated=40)
    findings = gate_findings(record, zeroed, samples, published.published, published.window)
    assert not _ok(findings)[GATE_CHECK]
    assert "recorded 40" in next(f.detail for f in findings if f.check == GATE_CHECK)


def test_a_missing_or_edited_window_set_fails_and_nothing_is_re_derived(
    published: Published,
) -> None:
    samples = _honest(3, 64)
    record, miner = published.record(samples)
    missing = gate_findings(record, miner, samples, published.published, {"r00000": None})
    assert _ok(missing) == {WINDOW_CHECK: False}
    assert "r00000's published set not found" in missing[0].detail
    unreadable = gate_findings(record, miner, samples, published.published, {"r00000": {}})
    assert _ok(unreadable) == {WINDOW_CHECK: False}
    assert "not a published eval set" in unreadable[0].detail
    edited = copy.deepcopy(published.window)
    edited["r00000"]["items"][0]["final_answer"] += "1"
    assert _ok(gate_findings(record, miner, samples, published.published, edited)) == {
        WINDOW_CHECK: False
    }
    # A set swapped whole (it hashes to its own sha256, not to the one the record names).
    other = EvalPool("another-secret")
    other.draw("r00000", 64)
    swapped = {"r00000": json.loads(json.dumps(other.published()))}
    found = gate_findings(record, miner, samples, published.published, swapped)
    assert _ok(found) == {WINDOW_CHECK: False} and "the record names" in found[0].detail


def test_a_record_from_before_the_window_was_recorded_says_so(published: Published) -> None:
    samples = _honest(3, 64)
    record, miner = published.record(samples)
    record.competitions[Competition.COT_SFT].gate_window = None
    record.record_version = "round-record/4"
    [found] = gate_findings(record, miner, samples, published.published, {})
    assert found.ok and "not re-derived" in found.detail and "round-record/4" in found.detail
