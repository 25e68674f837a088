"""The GPU node's path without a GPU: ``--model PATH`` on a Qwen2-class checkpoint, end to end.

The README's GPU validator runs ``--model Qwen/Qwen2.5-0.5B --device cuda``. That path is the
embedded base's path with another checkpoint: ``load_base`` goes to ``AutoModelForCausalLM`` /
``AutoTokenizer``. Here a small Qwen2 checkpoint with Qwen2's tokenizer (built locally at a
random init, ``tests/support/qwen2_checkpoint.py``) goes through every part that runs a model:

1. a whole validator round, built by ``validator.service.build`` from the command line
   ``--model PATH --device cpu`` (wallet, embedded chain and Redis, both competitions), against
   real miners over HTTP: every miner is scored, with finite numbers;
2. the quality ladder at one seed (``bench.ladder.ladder_round``, smaller sizes);
3. the preference stage's DPO step, the tuned model evaluated unmerged as on a GPU;
4. token attribution, directly and through ``POST /v1/attribution`` with the API's provider
   loading the same path.

The model is not competent, so nothing here ranks anything: these tests prove the path runs
and measures, and ``tests/validator/model/test_load_by_path.py`` checks the differences of
such a checkpoint one by one. About a minute on one core.
"""

from __future__ import annotations

import math
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import torch
from bittensor.sp_core import Keypair
from peft import PeftModel

from bench.ladder import RUNGS, ladder_round
from miner.app import MinerContext, create_app
from miner.gate import ValidatorGate
from miner.ledger import Ledger
from miner.manifests import ServeTimeBook
from miner.sources import GeneratorSource
from protocol.chain.local import LocalChain
from protocol.cli import parse_settings
from protocol.keys import Keys
from protocol.nonce_store import RedisNonceStore
from protocol.redis_conn import connect, stop_embedded
from protocol.schemas import Competition, PreferenceSample
from scoring.components import Component
from tasks.quality import Quality
from tests.support.proofs import proven_response
from tests.support.qwen2_checkpoint import IM_END
from tests.support.servers import free_port, serve_in_thread
from validator.api.app import create_app as create_api
from validator.api.attribution import base_model
from validator.api.schemas import ATTRIBUTION_MAX_TOKENS
from validator.attribution.methods import attribute
from validator.config import ValidatorSettings
from validator.evalsets.cot import general_texts
from validator.evalsets.preference import draw_preference_eval
from validator.model.base import load_base
from validator.model.dpo_train import DpoRecipe
from validator.model.recipe import DEFAULT_RECIPE
from validator.model.train import TrainResult
from validator.pull import PullResult
from validator.service import build, run_rounds
from validator.stages.preference import PreferenceStage
from validator.stages.preference_measure import PreferenceConfig
from validator.stages.screening import DedupHistory
from validator.stages.stage import StageInputs, StageOutcome, price_submissions
from validator.store.leaderboard import LeaderboardStore
from validator.store.records import RoundRecord
from validator.store.run_log import RoundDir

pytestmark = [pytest.mark.timeout(600), pytest.mark.usefixtures("one_torch_thread")]

# Small sizes: the path is under test, not the statistics. The CoT recipe is the real one.
SAMPLES_PER_MINER = 16
EVAL_ITEMS = 8  # the settings' minimum
PREFERENCE = PreferenceConfig(
    harmful_prompts=4, benign_prompts=4, heldout_pairs=6, max_new_tokens=8
)
DPO_STAGE = replace(PREFERENCE, recipe=DpoRecipe(steps=2, batch_size=4))
MINERS = {"honest": Quality.CORRECT, "sloppy": Quality.WRONG}
COT_COMPONENTS = {
    Component.IMPROVEMENT,
    Component.ANSWER_LOSS_DELTA,
    Component.ACCURACY_DELTA,
    Component.GENERAL_LOSS_INCREASE,
    Component.TUNED_ANSWER_LOSS,
}
PREF_COMPONENTS = {
    Component.PREF_ACCURACY_DELTA,
    Component.REFUSAL_DELTA,
    Component.COMPLIANCE_DELTA,
    Component.REWARD_MARGIN,
}
PROMPT = "Ana has 363 coins and gets 635 more. How many coins now?"
COMPLETION = "Ones: 3+5=8, carry 0. Tens: 6+3+0=9. Hundreds: 3+6=9. So 998.\nAnswer: 998"


@pytest.fixture(scope="module")
def checkpoint(qwen2_checkpoint: Path) -> Path:
    return qwen2_checkpoint  # built once per session (tests/conftest.py)


@pytest.fixture(scope="module")
def qwen2(checkpoint: Path) -> tuple[Any, Any]:
    return load_base(str(checkpoint), "cpu")


def _all_finite(values: dict[str, float]) -> bool:
    return all(math.isfinite(v) for v in values.values())


# 1. A validator round, from the command line to the leaderboard.


@dataclass
class Round:
    record: RoundRecord
    uids: dict[str, int]
    settings: ValidatorSettings
    model: Any
    tokenizer: Any
    store: LeaderboardStore


def _serve_miners(
    stack: ExitStack, chain: LocalChain, client: redis.Redis, ledgers: Path
) -> dict[str, int]:
    """Register and serve the generator miners of ``MINERS`` on ``chain``; their uids."""
    keys = Keys.for_network(f"miners-{uuid.uuid4().hex[:8]}", 1)
    uids: dict[str, int] = {}
    for name, quality in MINERS.items():
        key = Keypair.create_from_uri(f"//Miner/{name}")
        uids[name] = chain.register(key, key.ss58_address)
        app = create_app(
            MinerContext(
                keypair=key,
                gate=ValidatorGate(chain.metagraph, min_stake=1.0),
                nonce_store=RedisNonceStore(client, keys),
                source=GeneratorSource(name, quality),
                ledger=Ledger(ledgers / f"{name}.jsonl"),
                manifests=ServeTimeBook(chain, key),
            )
        )
        host, port = stack.enter_context(serve_in_thread(app)).split(":")
        chain.serve(key, host, int(port))
    return uids


@pytest.fixture(scope="module")
def validator_round(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Round]:
    """``neurons/validator.py --model PATH --device cpu ...``'s build, and one round of it."""
    tmp = tmp_path_factory.mktemp("validator")
    argv = [
        *("--model", str(checkpoint), "--device", "cpu"),
        *("--wallet.path", str(tmp / "wallets"), "--create-wallet"),
        *("--chain.path", str(tmp / "chain.sqlite"), "--model-cache", str(tmp / "cache")),
        *("--run-dir", str(tmp / "runs"), "--state-path", str(tmp / "state.json")),
        *("--outbox-dir", str(tmp / "outbox"), "--no-progress"),
        *("--samples-per-miner", str(SAMPLES_PER_MINER), "--eval-items", str(EVAL_ITEMS)),
        *("--competition.shares", '{"cot_sft": 0.5, "preference": 0.5}'),
    ]
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("REDIS_URL", raising=False)  # the embedded server, in a run dir not made yet
        settings = parse_settings(ValidatorSettings, argv, "test")
        ctx, store = build(settings)  # loads the model from the path
    try:
        assert isinstance(ctx.chain, LocalChain)
        ctx.chain.add_stake(ctx.keypair.ss58_address, 1000.0)  # the miners' gate asks for stake
        ctx.stages.preference = replace(
            ctx.stages.preference,
            harmful_prompts=PREFERENCE.harmful_prompts,
            benign_prompts=PREFERENCE.benign_prompts,
            heldout_pairs=PREFERENCE.heldout_pairs,
            max_new_tokens=PREFERENCE.max_new_tokens,
        )
        with ExitStack() as stack:
            uids = _serve_miners(stack, ctx.chain, store.client, tmp / "ledgers")
            [record] = run_rounds(ctx, rounds=1, interval_s=0.0)
        yield Round(record, uids, settings, ctx.model, ctx.tokenizer, store)
    finally:
        stop_embedded(store.client)


def test_the_round_loads_the_path_as_a_qwen2(validator_round: Round, checkpoint: Path) -> None:
    assert validator_round.settings.model == str(checkpoint)
    assert type(validator_round.model).__name__ == "Qwen2ForCausalLM"
    assert type(validator_round.tokenizer).__name__ == "Qwen2Tokenizer"
    assert validator_round.tokenizer.bos_token_id is None
    assert {p.dtype for p in validator_round.model.parameters()} == {torch.float32}


def test_the_round_scores_every_miner_in_both_competitions(validator_round: Round) -> None:
    record = validator_round.record
    by = {(m.competition, m.uid): m for m in record.miners}
    for name, uid in validator_round.uids.items():
        cot = by[(Competition.COT_SFT, uid)]
        assert cot.status == "scored", (name, cot.reasons)
        assert cot.offered == SAMPLES_PER_MINER and cot.accepted > 0
        assert math.isfinite(cot.score) and cot.score >= 0
        assert COT_COMPONENTS <= set(cot.components) and _all_finite(cot.components), cot.components
        assert len(cot.train_losses) == DEFAULT_RECIPE.steps
        assert all(math.isfinite(x) for x in cot.train_losses)
        pref = by[(Competition.PREFERENCE, uid)]
        assert pref.status == "scored", (name, pref.reasons)
        assert math.isfinite(pref.score) and pref.score >= 0
        assert PREF_COMPONENTS <= set(pref.components) and _all_finite(pref.components)
        assert len(pref.train_losses) == PREFERENCE.recipe.steps
    # The wrong-answer miner's answers fail the validator's check whatever the model.
    assert by[(Competition.COT_SFT, validator_round.uids["sloppy"])].wrong_answers > 0
    # The base's measurements, the guard's general-text loss among them (no bos: the first
    # token of each text is not scored, every other one is).
    assert {"accuracy", "answer_loss", "general_loss", "preference.refusal_rate"} <= set(
        record.base_metrics
    )
    assert _all_finite(record.base_metrics), record.base_metrics
    assert record.competitions[Competition.COT_SFT].ran
    assert record.competitions[Competition.PREFERENCE].ran
    assert validator_round.store.round(record.round_id) is not None  # the leaderboard has it


# 2. The quality ladder, one seed.


def test_the_ladder_runs_every_rung_with_finite_numbers(qwen2: tuple[Any, Any]) -> None:
    model, tok = qwen2
    results = ladder_round(
        model,
        tok,
        "ladder-qwen2",
        "ladder-0",
        "ladder-data-0",
        samples_per_miner=SAMPLES_PER_MINER,
        eval_items=EVAL_ITEMS,
        recipe=replace(DEFAULT_RECIPE, steps=4),
    )
    assert [r.quality for r in results] == list(RUNGS)
    for r in results:
        assert math.isfinite(r.improvement), (r.quality, r.components)
        assert math.isfinite(r.score_model_only) and math.isfinite(r.score_checked)
        assert r.score_model_only >= 0 and r.score_checked >= 0
        assert Component.IMPROVEMENT in r.components
        assert math.isfinite(r.components[Component.GENERAL_LOSS_INCREASE])
    # The answer check reads the wrong rung's answers as wrong, whatever the model makes of it.
    wrong = next(r for r in results if r.quality is Quality.WRONG)
    assert wrong.score_checked == 0.0 and wrong.components[Component.WRONG_ANSWER_SHARE] > 0


# 3. The preference stage's DPO step, the tuned model unmerged (the GPU path).


def _pulled(uid: int, seed: str, quality: Quality, n: int) -> PullResult:
    samples = GeneratorSource(seed, quality).samples(Competition.PREFERENCE, n, "stage-round")
    pairs = [s for s in samples if isinstance(s, PreferenceSample)]
    response = proven_response(Competition.PREFERENCE, "stage-round", pairs)
    return PullResult(uid, f"hotkey-{uid}", response, None, 200, 1, None, 0.1, None)


@dataclass
class Staged:
    result: StageOutcome
    stage: PreferenceStage
    peft_evals: int  # tuned models evaluated as the PeftModel itself (unmerged)


@pytest.fixture(scope="module")
def staged(
    qwen2: tuple[Any, Any], embedded_redis: redis.Redis, tmp_path_factory: pytest.TempPathFactory
) -> Staged:
    model, tok = qwen2
    inputs = StageInputs(
        round_id="stage-round",
        run=RoundDir(tmp_path_factory.mktemp("runs"), "stage-round"),
        secret="stage-secret",
        model=model,
        tokenizer=tok,
        history=DedupHistory(embedded_redis, Keys.for_network(f"stage-{uuid.uuid4().hex}", 1)),
        general_texts=general_texts(),  # the guard's text loss runs on this tokenizer too
        samples_per_miner=12,
    )
    stage = PreferenceStage(inputs, DPO_STAGE)
    eval_set = draw_preference_eval(
        "stage-secret",
        "stage-round",
        PREFERENCE.harmful_prompts,
        PREFERENCE.benign_prompts,
        PREFERENCE.heldout_pairs,
    )
    results = [_pulled(3, "good", Quality.CORRECT, 12), _pulled(5, "bad", Quality.WRONG, 12)]
    evals: list[int] = []

    def unmerged(self: TrainResult) -> Any:
        evals.append(1)
        return self.model  # what eval_model gives on a GPU: the PeftModel, adapter active

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(TrainResult, "eval_model", unmerged)
        result = price_submissions(stage, eval_set, results, share=1.0)
    return Staged(result, stage, len(evals))


def test_dpo_trains_and_scores_each_miner_on_the_qwen2(
    staged: Staged, qwen2: tuple[Any, Any]
) -> None:
    assert staged.peft_evals == 2
    for record in staged.result.records:
        assert record.status == "scored", record.reasons
        assert math.isfinite(record.score) and record.score >= 0
        assert PREF_COMPONENTS <= set(record.components) and _all_finite(record.components)
        logs = staged.stage.train_logs[record.uid]
        assert [log.step for log in logs] == [0, 1]
        # Step 0: the adapter starts at B = 0, so policy and reference agree: loss log 2.
        assert logs[0].loss == pytest.approx(math.log(2), abs=1e-6)
        assert logs[1].chosen_reward != 0.0  # the step moved the policy off the reference
    assert _all_finite(staged.result.base_metrics), staged.result.base_metrics
    model, _ = qwen2
    assert not isinstance(model, PeftModel) and not hasattr(model, "peft_config")  # released
    assert not any(p.requires_grad for p in model.parameters())


# 4. Attribution, directly and through the API.


def test_attribution_reads_qwen2_tokens_back(qwen2: tuple[Any, Any]) -> None:
    model, tok = qwen2
    for method in ("occlusion", "gradient"):
        result = attribute(model, tok, PROMPT, COMPLETION, method)
        assert result.method == method and "".join(result.tokens) == PROMPT
        assert all(math.isfinite(s) for s in result.scores)
        # No bos: an eos leads the row as context, and the eos after the completion is scored.
        assert result.completion_tokens == len(tok.encode(COMPLETION, add_special_tokens=False)) + 1
        # Qwen2 glues "?" and the format's newline into one token: no separator stands apart.
        assert result.separator_score is None and result.tokens[-1] == "?"
    # A prompt ending in a word keeps the newline as its own token: the separator, reported apart.
    apart = attribute(model, tok, "add 37 43", "Ones: 7+3=10.\nAnswer: 80")
    assert apart.separator_score is not None and "".join(apart.tokens) == "add 37 43"
    typed = attribute(model, tok, f"say {IM_END} é 😀", "ok")
    assert "".join(typed.tokens) == f"say {IM_END} é 😀"
    assert [t for t, s in zip(typed.tokens, typed.special, strict=True) if s] == [IM_END]
    # Qwen2 normalises to NFC: a decomposed character reads back composed (the embedded
    # tokenizer has no normaliser, so there the tokens join back to any prompt byte for byte).
    decomposed = "cafe\u0301 menu"
    composed = attribute(model, tok, decomposed, "ok").tokens
    assert "".join(composed) == unicodedata.normalize("NFC", decomposed) != decomposed


@pytest.fixture(scope="module")
def api(checkpoint: Path) -> Iterator[httpx.Client]:
    """The API with ``--attribution.model PATH``'s provider; no Redis behind it."""
    store = LeaderboardStore(
        connect(f"redis://127.0.0.1:{free_port()}/0"), Keys.for_network("t", 1)
    )
    app = create_api(store, base_model(str(checkpoint), "cpu"))
    with serve_in_thread(app) as address:
        with httpx.Client(base_url=f"http://{address}", timeout=120) as client:
            yield client


def test_attribution_route_loads_the_path(
    api: httpx.Client, qwen2: tuple[Any, Any], checkpoint: Path
) -> None:
    res = api.post("/v1/attribution", json={"prompt": PROMPT, "completion": COMPLETION})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["model"] == str(checkpoint) and body["method"] == "occlusion"
    assert "".join(t["token"] for t in body["tokens"]) == PROMPT
    model, tok = qwen2
    direct = attribute(model, tok, PROMPT, COMPLETION, max_seq_len=ATTRIBUTION_MAX_TOKENS)
    assert [t["score"] for t in body["tokens"]] == pytest.approx(direct.scores, abs=1e-5)
    assert body["completion_logprob"] == pytest.approx(direct.completion_logprob, abs=1e-4)
    gradient = api.post(
        "/v1/attribution", json={"prompt": PROMPT, "completion": COMPLETION, "method": "gradient"}
    )
    assert gradient.status_code == 200 and gradient.json()["method"] == "gradient"
