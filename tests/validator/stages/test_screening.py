"""Screening against a real Redis: the answer check counts wrong answers to task prompts only."""

from __future__ import annotations

from typing import cast

import pytest
import redis

from common.text import TEXT_NORMALISATION_VERSION, join_fields
from protocol.keys import Keys
from protocol.schemas import CotSample
from scoring.contamination import EvalItem, EvalPoolIndex
from scoring.dedup import DEDUP_RULE, history_fingerprint
from scoring.minhash import MinHashParams
from tasks.families import generate_many
from tasks.quality import Quality
from tasks.registry import TaskItem
from tests.support.cot_samples import degraded_samples
from validator.evalsets.chance import measure_chance
from validator.evalsets.pool import EvalPool
from validator.stages.screening import DedupHistory, MinerSubmission, screen_round


def test_wrong_answers_are_counted_and_kept(redis_client: redis.Redis, keys: Keys) -> None:
    history = DedupHistory(redis_client, keys)
    right = degraded_samples(1, Quality.CORRECT, 20)
    wrong = degraded_samples(2, Quality.WRONG, 20)
    mixed_right = degraded_samples(3, Quality.CORRECT, 10)
    mixed = mixed_right + degraded_samples(4, Quality.WRONG, 10)
    empty = degraded_samples(6, Quality.EMPTY, 5)
    teacher = [
        CotSample(
            prompt="Why is the sky blue?", chain_of_thought="Rayleigh.", final_answer="scattering"
        )
    ]
    out = screen_round(
        {
            1: MinerSubmission("hk-right", right),
            2: MinerSubmission("hk-wrong", wrong),
            3: MinerSubmission("hk-mixed", mixed),
            4: MinerSubmission("hk-open", teacher),
            6: MinerSubmission("hk-empty", empty),
        },
        "r1",
        history,
        EvalPoolIndex([]),
    )
    assert (len(out[1].kept), out[1].wrong_answers) == (20, 0)
    assert (len(out[2].kept), out[2].wrong_answers) == (20, 20)
    assert out[2].reasons[0].startswith("sample 0: wrong answer")
    assert "... 20 wrong answers in all" in out[2].reasons
    assert out[3].kept == mixed and out[3].wrong_answers == 10
    assert out[4].kept == teacher  # not a task template: nothing to check, the model judges it
    assert (out[6].kept, out[6].invalid) == ([], 5)
    assert out[6].reasons[0] == "sample 0: invalid, reasoning shorter than 8 characters"
    # Kept samples are credited to history, wrong ones too: a later copy earns nothing.
    again = screen_round(
        {5: MinerSubmission("hk-other", wrong)},
        "r2",
        DedupHistory(redis_client, keys),
        EvalPoolIndex([]),
    )
    assert again[5].duplicates == 20 and again[5].kept == []


def test_a_zeroed_miner_claims_nothing(redis_client: redis.Redis, keys: Keys) -> None:
    """A contaminator ranked before the honest miner, serving honest's data plus one eval
    item: it is zeroed, honest keeps every sample, and history credits honest only."""
    honest = degraded_samples(1, Quality.CORRECT, 10)
    [leak] = generate_many(99, 1)
    pool = EvalPoolIndex(
        [
            EvalItem(
                "r0/0",
                leak.prompt,
                join_fields(leak.prompt, leak.chain_of_thought, leak.final_answer),
                leak.final_answer,
            )
        ]
    )
    leaked = CotSample(
        prompt=leak.prompt, chain_of_thought=leak.chain_of_thought, final_answer=leak.final_answer
    )
    history = DedupHistory(redis_client, keys)
    out = screen_round(
        {
            1: MinerSubmission("hk-contaminator", [*honest, leaked]),
            2: MinerSubmission("hk-honest", honest),
        },
        "r1",
        history,
        pool,
    )
    assert out[1].contaminated == 1 and out[1].reasons[0].endswith("nothing credited to history")
    assert out[2].kept == honest and out[2].duplicates == 0
    owners = {
        key.decode().split("sig:", 1)[1].split("/")[0]
        # The test clients do not decode responses: keys come back as bytes.
        for key in cast("list[bytes]", redis_client.hkeys(keys.dedup_history()))
        if key.startswith(b"sig:")
    }
    assert owners == {"hk-honest"}


def test_a_history_made_under_other_parameters_is_renamed_aside(
    redis_client: redis.Redis, keys: Keys
) -> None:
    key = keys.dedup_history()
    redis_client.hset(key, mapping={"params": "minhash/v1:...:word3:perm128", "sig:x": "0:AA:"})
    history = DedupHistory(redis_client, keys)
    assert len(history.index) == 0 and not redis_client.exists(key)
    [aside] = [k for k in redis_client.scan_iter(match=f"{key}:retired:*")]
    assert redis_client.hget(aside, "sig:x") == b"0:AA:"
    redis_client.delete(aside)  # a shared server keeps nothing of this test


def test_a_history_signed_by_the_numpy_minhash_v1_is_renamed_aside(
    redis_client: redis.Redis, keys: Keys
) -> None:
    """Issue 13: signatures moved to rensa (minhash/v2); a v1 history cannot be compared."""
    p = MinHashParams()
    v1 = (
        "minhash/v1:blake2b64-word,poly-splitmix64-shingle,odd-multiply32:"
        f"{TEXT_NORMALISATION_VERSION}:word{p.ngram}:perm{p.num_perm}:seed{p.seed}|{DEDUP_RULE}"
    )
    assert v1 != history_fingerprint(p) and history_fingerprint(p).startswith("minhash/v2:")
    key = keys.dedup_history()
    redis_client.hset(key, mapping={"params": v1, "sig:y": "0:BB:"})
    history = DedupHistory(redis_client, keys)
    assert len(history.index) == 0 and not redis_client.exists(key)
    [aside] = [k for k in redis_client.scan_iter(match=f"{key}:retired:*")]
    assert redis_client.hget(aside, "sig:y") == b"0:BB:"
    redis_client.delete(aside)


@pytest.mark.parametrize(("blocks", "holder"), [((20, 10), 2), ((10, 20), 1), ((10, 10), 1)])
def test_the_earlier_commitment_holds_a_duplicate_cluster(
    redis_client: redis.Redis, keys: Keys, blocks: tuple[int, int], holder: int
) -> None:
    """Two miners serve one dataset: the one that committed it on chain first keeps it (same
    block: the lower uid), whatever the uids; the other's copies earn nothing."""
    data = degraded_samples(3, Quality.CORRECT, 12)
    out = screen_round(
        {
            1: MinerSubmission("hk-one", data, commit_block=blocks[0]),
            2: MinerSubmission("hk-two", data, commit_block=blocks[1]),
        },
        "r1",
        DedupHistory(redis_client, keys),
        EvalPoolIndex([]),
    )
    copier = 3 - holder
    assert out[holder].kept == data and out[holder].duplicates == 0
    assert out[copier].kept == [] and out[copier].duplicates == 12
    assert f"duplicate_of_miner {holder}" in out[copier].reasons[0]


def _as_sample(item: TaskItem) -> CotSample:
    return CotSample(
        prompt=item.prompt, chain_of_thought=item.chain_of_thought, final_answer=item.final_answer
    )


def _window(secret: str = "screening-secret", rounds: int = 4) -> EvalPool:
    pool = EvalPool(secret)
    for r in range(rounds):
        pool.draw(f"w{r}", 64)
    return pool


def test_a_chance_match_drops_the_sample_and_a_copier_is_zeroed(
    redis_client: redis.Redis, keys: Keys
) -> None:
    """Within chance the matched samples are dropped (never trained on, never credited) and
    the rest kept; a miner serving more published items than chance explains is zeroed."""
    pool = _window()
    index = pool.index()
    chance = measure_chance(index, "w3")
    [(published, _)] = pool.published_sets()[:1]
    honest = degraded_samples(7, Quality.CORRECT, 40)
    one_match = [*honest[:39], _as_sample(published.items[0])]
    copier = [*degraded_samples(8, Quality.CORRECT, 30), *map(_as_sample, published.items[:30])]
    history = DedupHistory(redis_client, keys)
    out = screen_round(
        {1: MinerSubmission("hk-lucky", one_match), 2: MinerSubmission("hk-copier", copier)},
        "w3",
        history,
        index,
        chance,
    )
    lucky, copy = out[1], out[2]
    assert lucky.contamination_allowance >= 1 and lucky.chance_expected > 0
    assert lucky.contaminated == 1 and not lucky.zeroed
    assert lucky.kept == honest[:39]  # the matched sample is not among what is trained on
    assert lucky.reasons[0].startswith("1 sample(s) from the eval pool, chance explains at most")
    assert lucky.reasons[0].endswith("dropped, not trained on")
    assert copy.contaminated == 30 and copy.zeroed
    assert copy.reasons[0].endswith("round score zero, nothing credited to history")
    owners = {
        key.decode().split("sig:", 1)[1].split("/")[0]
        for key in cast("list[bytes]", redis_client.hkeys(keys.dedup_history()))
        if key.startswith(b"sig:")
    }
    assert owners == {"hk-lucky"}


def test_a_canary_with_its_tag_is_proof_without_it_a_coincidence(
    redis_client: redis.Redis, keys: Keys
) -> None:
    """A canary's tag is secret-derived: one sample holding it zeroes the round whatever
    chance allows. The same problem without the tag is no proof."""
    pool = _window()
    index = pool.index()
    chance = measure_chance(index, "w3")
    [(_, canaries)] = pool.published_sets()[:1]
    canary = _as_sample(canaries[0])
    untagged = CotSample(
        prompt=canary.prompt.split(" [ref ")[0],
        chain_of_thought=canary.chain_of_thought,
        final_answer=canary.final_answer,
    )
    honest = degraded_samples(9, Quality.CORRECT, 20)
    out = screen_round(
        {
            1: MinerSubmission("hk-tagged", [*honest, canary]),
            2: MinerSubmission(
                "hk-untagged", [*degraded_samples(10, Quality.CORRECT, 20), untagged]
            ),
        },
        "w3",
        DedupHistory(redis_client, keys),
        index,
        chance,
    )
    assert out[1].contamination_proof and out[1].zeroed
    assert out[1].contamination_allowance >= 1  # chance would have allowed one match
    assert out[1].reasons[0].startswith("1 sample(s) from the eval pool, a canary's tag")
    # Without the tag it is at most an ordinary match (here the tag's word was part of what
    # made the canary's text close enough): never a proof.
    assert out[2].contaminated <= 1 and not out[2].contamination_proof and not out[2].zeroed


def test_without_a_chance_model_any_match_zeroes(redis_client: redis.Redis, keys: Keys) -> None:
    """The preference competition passes no chance rates: its split makes coincidence
    impossible, so one match is a copy."""
    pool = _window()
    [(published, _)] = pool.published_sets()[:1]
    out = screen_round(
        {
            1: MinerSubmission(
                "hk", [*degraded_samples(11, Quality.CORRECT, 20), _as_sample(published.items[0])]
            )
        },
        "w3",
        DedupHistory(redis_client, keys),
        pool.index(),
    )
    assert out[1].contamination_allowance == 0 and out[1].zeroed
