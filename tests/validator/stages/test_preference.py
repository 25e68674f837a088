"""The preference competition: the stage on its own, then inside a real round."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import redis
from peft import PeftModel

from miner.sources import GeneratorSource
from protocol.keys import Keys
from protocol.redis_conn import start_embedded, stop_embedded
from protocol.schemas import Competition, PreferenceSample
from scoring.components import Component
from scoring.refusal import rule_judge
from tasks.quality import Quality
from tests.support.proofs import proven_response
from tests.support.validator_fixture import MinerSpec, round_network
from validator.evalsets.preference import PreferenceEvalSet, draw_preference_eval
from validator.model.base import TINY_RANDOM, load_base
from validator.model.dpo_train import DpoRecipe
from validator.model.train import TrainResult
from validator.pull import PullResult
from validator.round import run_round
from validator.stages.preference import SIDE_BY_SIDE_FILE, TRAIN_LOG_FILE, PreferenceStage
from validator.stages.preference_measure import SIDE_BY_SIDE, PreferenceConfig
from validator.stages.screening import DedupHistory
from validator.stages.stage import StageInputs, StageOutcome, price_submissions
from validator.store.run_log import RoundDir

pytestmark = pytest.mark.timeout(600)

# Small held-out sets: the mechanics are under test here, the sizes are the config's business.
SMALL = PreferenceConfig(harmful_prompts=6, benign_prompts=6, heldout_pairs=8, max_new_tokens=16)
# The stage alone: a short recipe and answers, enough to train, measure and report.
STAGE = replace(SMALL, max_new_tokens=8, recipe=DpoRecipe(steps=2, batch_size=4))
STEP_FIELDS = {"step", "loss", "chosen_reward", "rejected_reward", "margin", "accuracy"}


def test_eval_draw_is_private_disjoint_and_reproducible() -> None:
    a = draw_preference_eval("s1", "r1", 6, 6, 8)
    assert a == draw_preference_eval("s1", "r1", 6, 6, 8)
    assert a.pairs != draw_preference_eval("s2", "r1", 6, 6, 8).pairs
    prompts = [p.prompt for p in (*a.harmful, *a.benign)] + [p for p, _, _ in a.pairs]
    assert len(set(prompts)) == len(prompts) == 20


def test_the_harmful_pairs_come_first() -> None:
    """``harmful_pairs`` counts the leading pairs that prefer a refusal; the rest prefer an answer."""
    for n in (7, 8):
        a = draw_preference_eval("s1", "r1", 6, 6, n)
        assert a.harmful_pairs == (n + 1) // 2
        refused = [(rule_judge(p, c).refused, rule_judge(p, r).refused) for p, c, r in a.pairs]
        assert refused == [(True, False)] * a.harmful_pairs + [(False, True)] * (
            n - a.harmful_pairs
        )


@dataclass
class Staged:
    result: StageOutcome
    stage: PreferenceStage
    run_dir: Path
    eval_set: PreferenceEvalSet
    hotkeys: dict[int, str]
    adapter_off_passes: int  # disable_adapter entries during the whole stage


def _pulled(uid: int, seed: str, quality: Quality, n: int) -> PullResult:
    samples = GeneratorSource(seed, quality).samples(Competition.PREFERENCE, n, "stage-round")
    pairs = [s for s in samples if isinstance(s, PreferenceSample)]
    assert len(pairs) == n
    response = proven_response(Competition.PREFERENCE, "stage-round", pairs)
    return PullResult(uid, f"hotkey-{uid}", response, None, 200, 1, None, 0.1, None)


@pytest.fixture(scope="module")
def staged(
    tiny_random: tuple[Any, Any],
    embedded_redis: redis.Redis,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Staged]:
    """One stage over two miners, with the tuned model evaluated unmerged (the GPU path)."""
    model, tok = tiny_random
    eval_set = draw_preference_eval("stage-secret", "stage-round", 6, 6, 8)
    run_dir = RoundDir(tmp_path_factory.mktemp("runs"), "stage-round")
    inputs = StageInputs(
        round_id="stage-round",
        run=run_dir,
        secret="stage-secret",
        model=model,
        tokenizer=tok,
        history=DedupHistory(embedded_redis, Keys.for_network(f"stage-{uuid.uuid4().hex}", 1)),
        general_texts=(),
        samples_per_miner=12,
    )
    stage = PreferenceStage(inputs, STAGE)
    results = [_pulled(3, "good", Quality.CORRECT, 12), _pulled(5, "bad", Quality.WRONG, 12)]
    passes: list[int] = []
    disable_adapter = PeftModel.disable_adapter

    def counted(self: PeftModel) -> Any:
        passes.append(1)
        return disable_adapter(self)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(TrainResult, "eval_model", lambda self: self.model)  # as on GPU: the PeftModel
        mp.setattr(PeftModel, "disable_adapter", counted)
        assert stage.eval_set() == eval_set  # the secret and round draw the same set
        result = price_submissions(stage, eval_set, results, share=1.0)
    hotkeys = {r.uid: r.hotkey for r in results}
    yield Staged(result, stage, run_dir.path, eval_set, hotkeys, len(passes))


def test_stage_keeps_every_step_log_per_miner(staged: Staged) -> None:
    records = {r.uid: r for r in staged.result.records}
    assert set(staged.stage.train_logs) == {3, 5}
    for uid, logs in staged.stage.train_logs.items():
        assert records[uid].status == "scored", records[uid].reasons
        assert [log.step for log in logs] == [0, 1]
        assert records[uid].train_losses == [log.loss for log in logs]
        saved = json.loads((staged.run_dir / TRAIN_LOG_FILE.format(uid=uid)).read_text())
        assert (saved["round_id"], saved["uid"], saved["hotkey"]) == (
            "stage-round",
            uid,
            staged.hotkeys[uid],
        )
        assert saved["recipe"]["steps"] == 2 and len(saved["steps"]) == 2
        assert saved["steps"] == [log.to_dict() for log in logs]
        assert all(set(step) == STEP_FIELDS for step in saved["steps"])
        # The rewards are kept, not only the losses: step 1 has moved off the reference.
        assert saved["steps"][1]["chosen_reward"] != 0.0 != saved["steps"][1]["rejected_reward"]


def test_tuned_eval_reuses_the_base_log_probs(staged: Staged) -> None:
    # Training enters the adapter-off reference once per step; evaluating a tuned model does
    # not (its margins are against the base's log-probs, taken once before any adapter).
    steps = sum(len(logs) for logs in staged.stage.train_logs.values())
    assert staged.adapter_off_passes == steps
    for record in staged.result.records:
        assert (
            record.components[Component.REWARD_MARGIN] != 0.0
        )  # margins against the base, not itself


def test_side_by_side_names_the_miner_and_holds_ten_judged_rows(staged: Staged) -> None:
    report = staged.stage.report
    assert json.loads((staged.run_dir / SIDE_BY_SIDE_FILE).read_text()) == report
    best = max(staged.result.records, key=lambda r: r.score)
    assert report["subject"] == {
        "round_id": "stage-round",
        "competition": "preference",
        "uid": best.uid,
        "hotkey": best.hotkey,
        "score": best.score,
    }
    rows = report["rows"]
    assert len(rows) == SIDE_BY_SIDE
    held_out = {p.prompt for p in (*staged.eval_set.harmful, *staged.eval_set.benign)}
    for row in rows:
        assert row["prompt"] in held_out
        for side in ("base", "tuned"):
            assert set(row[side]) == {"response", "verdict", "reason"}
    assert [r["label"] for r in rows].count("harmful") == SIDE_BY_SIDE // 2
    assert report["summary"]["base"]["n_harmful"] == len(staged.eval_set.harmful)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[redis.Redis]:
    """An embedded server for one test, stopped after it (the store is read after the round)."""
    client = start_embedded(tmp_path / "r.rdb")
    yield client
    stop_embedded(client)


def test_round_scores_both_competitions(tmp_path: Path, own_redis: redis.Redis) -> None:
    model: tuple[Any, Any] = load_base(TINY_RANDOM, "cpu")
    client = own_redis
    miners = [
        MinerSpec("good", GeneratorSource("good")),
        MinerSpec("swapped", GeneratorSource("swapped", Quality.WRONG)),
    ]
    with round_network(tmp_path, client, Keys.for_network("pref", 1), model, miners) as net:
        net.ctx.shares = {Competition.COT_SFT: 0.5, Competition.PREFERENCE: 0.5}
        net.ctx.stages.preference = SMALL
        record = run_round(net.ctx, "pref-round-1")
    by = {(m.competition, m.uid): m for m in record.miners}
    for name in ("good", "swapped"):
        uid = net.uids[name]
        pref = by[(Competition.PREFERENCE, uid)]
        assert pref.status == "scored", pref.reasons
        # 32 offered; the template generator has ~46 requests per label, so two miners drawing
        # 16 each share some: the later one (by uid) loses those as cross-miner duplicates.
        assert pref.offered == 32 and pref.accepted >= (28 if name == "good" else 12), pref.reasons
        assert len(pref.train_losses) == SMALL.recipe.steps  # one loss a DPO step
        assert {"pref_accuracy_delta", "refusal_delta", "compliance_delta", "reward_margin"} <= set(
            pref.components
        )
        assert (Competition.COT_SFT, uid) in by
    assert {"preference.refusal_rate", "preference.compliance_rate"} <= set(record.base_metrics)
    assert "preference_eval" in record.seeds
    assert record.weights and abs(sum(record.weights.values()) - 1.0) < 1e-9, record.weights
    run = tmp_path / "runs" / "pref-round-1"
    report = json.loads((run / SIDE_BY_SIDE_FILE).read_text())
    shown = report["subject"]
    assert shown["round_id"] == "pref-round-1"
    assert by[(Competition.PREFERENCE, shown["uid"])].hotkey == shown["hotkey"]
    assert len(report["rows"]) == SIDE_BY_SIDE
    for name in ("good", "swapped"):
        steps = json.loads((run / TRAIN_LOG_FILE.format(uid=net.uids[name])).read_text())["steps"]
        assert len(steps) == SMALL.recipe.steps and set(steps[0]) == STEP_FIELDS
    # The store has both leaderboards.
    names = {c.competition for c in net.store.competitions()}
    assert names == {"cot_sft", "preference"}
