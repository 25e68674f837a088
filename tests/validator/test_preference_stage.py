"""The preference competition inside a real round: both competitions scored, weights combined."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from miner.sources import GeneratorSource
from protocol.keys import Keys
from protocol.redis_conn import connect
from protocol.schemas import Competition
from tasks.quality import Quality
from tests.support.validator_fixture import MinerSpec, round_network
from validator.model.base import TINY_RANDOM, load_base
from validator.model.dpo_train import PreferenceEval as PairEval
from validator.preference_eval import draw_preference_eval
from validator.preference_stage import SIDE_BY_SIDE, PreferenceConfig, margins
from validator.round import run_round

pytestmark = pytest.mark.timeout(600)

# Small held-out sets: the mechanics are under test here, the sizes are the config's business.
SMALL = PreferenceConfig(harmful_prompts=6, benign_prompts=6, heldout_pairs=8, max_new_tokens=16)


def test_eval_draw_is_private_disjoint_and_reproducible() -> None:
    a = draw_preference_eval("s1", "r1", 6, 6, 8)
    assert a == draw_preference_eval("s1", "r1", 6, 6, 8)
    assert a.pairs != draw_preference_eval("s2", "r1", 6, 6, 8).pairs
    prompts = [p.prompt for p in (*a.harmful, *a.benign)] + [p for p, _, _ in a.pairs]
    assert len(set(prompts)) == len(prompts) == 20


def test_margins_use_the_base_as_reference() -> None:
    def pe(c: list[float], r: list[float]) -> PairEval:
        return PairEval(
            0.1, c, r, c, r, c, r, [0.0] * len(c), [int(x > y) for x, y in zip(c, r, strict=True)]
        )

    base = pe([-10.0, -5.0], [-10.0, -5.0])
    tuned = pe([-8.0, -6.0], [-12.0, -5.0])
    assert margins(base, tuned) == pytest.approx([0.1 * (2 + 2), 0.1 * (-1 - 0)])
    assert margins(base, base) == [0.0, 0.0]


def test_round_scores_both_competitions(tmp_path: Path) -> None:
    model: tuple[Any, Any] = load_base(TINY_RANDOM, "cpu")
    client = connect(url="", embedded_db=tmp_path / "r.rdb")
    miners = [
        MinerSpec("good", GeneratorSource("good")),
        MinerSpec("swapped", GeneratorSource("swapped", Quality.WRONG)),
    ]
    with round_network(tmp_path, client, Keys.for_network("pref", 1), model, miners) as net:
        net.ctx.shares = {Competition.COT_SFT.value: 0.5, Competition.PREFERENCE.value: 0.5}
        net.ctx.preference = SMALL
        record = run_round(net.ctx, "pref-round-1")
    by = {(m.competition, m.uid): m for m in record.miners}
    for name in ("good", "swapped"):
        uid = net.uids[name]
        pref = by[("preference", uid)]
        assert pref.status == "scored", pref.reasons
        # 32 offered; the template generator has ~46 requests per label, so two miners drawing
        # 16 each share some: the later one (by uid) loses those as cross-miner duplicates.
        assert pref.offered == 32 and pref.accepted >= (28 if name == "good" else 12), pref.reasons
        assert len(pref.train_losses) == 8  # the DPO recipe's steps, one loss each
        assert {"pref_accuracy_delta", "refusal_delta", "compliance_delta", "reward_margin"} <= set(
            pref.components
        )
        assert ("cot_sft", uid) in by
    assert {"preference.refusal_rate", "preference.compliance_rate"} <= set(record.base_metrics)
    assert "preference_eval" in record.seeds
    assert abs(sum(record.weights.values()) - 1.0) < 1e-9 if record.weights else True
    report = tmp_path / "runs" / "pref-round-1" / "preference_side_by_side.json"
    if any(m.score > 0 for m in record.miners if m.competition == "preference"):
        rows = json.loads(report.read_text())
        assert 0 < len(rows) <= SIDE_BY_SIDE
        assert {"prompt", "base", "tuned", "base_judgement", "tuned_judgement"} <= set(rows[0])
    # The store has both leaderboards.
    names = {c.competition for c in net.store.competitions()}
    assert names == {"cot_sft", "preference"}
