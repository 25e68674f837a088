"""Competition shares in a real round: a competition at share 0 is skipped whole, and the record
says which ran, under which versions, and publishes each held-out set that was used."""

from __future__ import annotations

import json
from contextlib import ExitStack, closing
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from bittensor.sp_core import Keypair

from protocol.chain.base import Neuron
from protocol.keys import Keys
from protocol.redis_conn import start_embedded, stop_embedded
from protocol.schemas import Competition
from scoring.preference_score import PREFERENCE_SCORING_VERSION
from scoring.weights import EmaEntry
from tests.support.fake_chat import chat_app
from tests.support.servers import serve_in_thread
from tests.support.validator_fixture import MinerSpec, round_network
from validator.config import ValidatorSettings
from validator.evalsets.preference import PREFERENCE_EVAL_VERSION, draw_preference_eval
from validator.evalsets.publish import preference_sha256
from validator.model.base import TINY_RANDOM, load_base
from validator.round import RoundContext, _update_weights
from validator.service import preference_judge
from validator.stages.preference_measure import PreferenceConfig
from validator.store.records import CompetitionRecord, MinerRoundRecord, MinerStatus
from validator.store.state import ValidatorState

pytestmark = pytest.mark.timeout(300)

SECRET = "shares-secret"
ROUND = "shares-round-1"
SIZES = (4, 4, 4)  # harmful, benign, pairs: the mechanics are under test, not the sizes


def _never(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the CoT competition is switched off: nothing of it may run")


def test_cot_at_share_zero_is_skipped_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("validator.stages.cot.evaluate_base", _never)
    monkeypatch.setattr("validator.stages.cot.prepare_samples", _never)
    judge_app = chat_app(lambda messages: "REFUSED: fake judge")
    client = start_embedded(tmp_path / "r.rdb")
    model = load_base(TINY_RANDOM, "cpu")
    miners = [MinerSpec("gone", online=False)]
    with (
        ExitStack() as stack,
        serve_in_thread(judge_app) as address,
        round_network(tmp_path, client, Keys.for_network("sh", 1), model, miners, SECRET) as net,
    ):
        settings = ValidatorSettings(
            shares={"cot_sft": 0.0, "preference": 1.0},
            preference_judge_endpoint=f"http://{address}/v1",
            preference_judge_model="judge-m",
        )
        stack.callback(stop_embedded, client)  # unwound last, after the round's network
        judge = stack.enter_context(closing(preference_judge(settings)))
        net.ctx.shares = settings.active_shares()
        net.ctx.stages.preference = PreferenceConfig(
            *SIZES, max_new_tokens=8, judge=judge.judge, judge_name=judge.name
        )
        uid = net.uids["gone"]
        prior = {uid: EmaEntry(Keypair.create_from_uri("//Miner/gone").ss58_address, 0.9)}
        net.ctx.state.ema["cot_sft"] = dict(prior)
        monkeypatch.setattr(net.ctx.stages.cot.pool, "draw", _never)
        record = net.run(ROUND)

    cot = record.competitions[Competition.COT_SFT]
    pref = record.competitions[Competition.PREFERENCE]
    assert cot == CompetitionRecord(0.0, False, "share 0: no pull, training or eval this round")
    assert (record.eval_set_sha256, record.scoring_version, record.recipe_version) == ("", "", "")
    assert all(m.competition == "preference" for m in record.miners)
    assert all(k.startswith("preference.") for k in record.base_metrics)
    assert set(record.seeds) == {"preference_eval", "preference_train"}
    run = tmp_path / "runs" / ROUND
    requests = [json.loads(line) for line in (run / "requests.jsonl").read_text().splitlines()]
    assert [r["request"]["competition"] for r in requests] == ["preference"]
    assert net.ctx.state.ema["cot_sft"] == prior  # no evidence this round: left as it was

    # The preference part: its versions, the judge that judged it, its published set.
    assert pref.ran and pref.share == 1.0
    assert pref.eval_version == PREFERENCE_EVAL_VERSION
    assert pref.recipe_version == PreferenceConfig().recipe.version
    assert pref.scoring_version == PREFERENCE_SCORING_VERSION
    assert pref.judge == f"model:judge-m@http://{address}/v1"
    assert judge_app.state.calls  # the base's answers went to the model judge
    published = json.loads((run / "eval_set.json").read_text())
    # No CoT set drawn, none published; the commitment to the preference set, with its salt.
    assert set(published) == {"preference", "commitment"}
    assert set(published["commitment"]["eval_sets"]) == {"preference"}
    assert published["preference"]["sha256"] == pref.eval_set_sha256
    redrawn = draw_preference_eval(SECRET, ROUND, *SIZES)  # what an auditor with the secret does
    assert preference_sha256(redrawn) == pref.eval_set_sha256
    assert len(published["preference"]["pairs"]) == SIZES[2]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["competitions"]["cot_sft"]["ran"] is False


def _scored(uid: int, competition: Competition, score: float) -> MinerRoundRecord:
    return MinerRoundRecord(uid, f"hk{uid}", competition, MinerStatus.SCORED, score=score)


def test_weights_combine_only_competitions_that_ran() -> None:
    """CoT off (share 0): its old EMA neither decays nor pays; preference gets every weight."""
    own = Keypair.create_from_uri("//Validator")
    metagraph = [Neuron(u, f"hk{u}", "ck", 0.0, False, "127.0.0.1:1", 0) for u in (1, 2)]
    state = ValidatorState(ema={"cot_sft": {1: EmaEntry("hk1", 0.9), 2: EmaEntry("hk2", 0.0)}})
    shares = {Competition.COT_SFT: 0.0, Competition.PREFERENCE: 1.0}
    # Only what _update_weights reads: the validator's key, the state and the shares.
    ctx = cast(RoundContext, SimpleNamespace(keypair=own, state=state, shares=shares))
    records = [_scored(1, Competition.PREFERENCE, 0.0), _scored(2, Competition.PREFERENCE, 0.5)]
    weights = _update_weights(ctx, records, metagraph, ran=[Competition.PREFERENCE])
    assert weights == {1: 0.0, 2: 1.0}
    assert state.ema["cot_sft"][1].value == 0.9
    # Both on at 0.5/0.5: uid 1's CoT EMA earns it half (decayed by this round's zero).
    ctx.shares = {Competition.COT_SFT: 0.5, Competition.PREFERENCE: 0.5}
    both = _update_weights(
        ctx, records, metagraph, ran=[Competition.COT_SFT, Competition.PREFERENCE]
    )
    assert both[1] == pytest.approx(0.5) and both[2] == pytest.approx(0.5)
