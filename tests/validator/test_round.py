"""A real round against honest and hostile miners: attacks earn (almost) nothing, crash nothing,
and leave the honest miner's score exactly what it is without them (issue 5, attack catalog).

Two rounds on fresh state: honest alone (with the whole split dataset on one hotkey), then
honest among every attacker of the catalog. Data attacks reach screening (and, if anything
survives it, training); transport and signature attacks are HostileMiner services that fail
at pull. Each must come out with at most ``ATTACK_SHARE`` of the honest score and a reason
that names its cause.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from bittensor.sp_core import Keypair

from localnet.leak import LeakedEvalSource
from miner.sources import GeneratorSource
from protocol.keys import Keys
from protocol.redis_conn import start_embedded, stop_embedded
from protocol.schemas import Competition, SubmissionRequest
from scoring.score import SCORING_VERSION
from tests.support.attack_sources import (
    CanaryPlanter,
    NanBait,
    ParaphrasedCopy,
    Perturbed,
    Repeater,
    RougePadder,
    SplitShare,
)
from tests.support.hostile_miner import BEHAVIOURS, MORE_BEHAVIOURS, HostileMiner
from tests.support.validator_fixture import EVAL_ITEMS, MinerSpec, RoundNetwork, round_network
from validator.evalsets.pool import EvalPool
from validator.model.base import TINY_RANDOM, load_base
from validator.pull import pull_all
from validator.store.records import MinerRoundRecord, RoundRecord

# Two real rounds, ~17 LoRA trainings in all on the tiny model: about two minutes on 2 busy
# cores with one torch thread (see ``TORCH_THREADS``); the limit leaves room for a busier box.
pytestmark = pytest.mark.timeout(900)

ROUND_ID = "test-round-1"
# The round before it: its eval set and canaries are published, so an attacker may have them.
PREVIOUS_ROUND = "test-round-0"
SECRET = "round-test-secret"
# An attack may earn at most this share of the honest miner's score (issue 5).
ATTACK_SHARE = 0.05
# The split-dataset attack: one dataset over this many hotkeys; together they may earn at most
# what the whole earns on one hotkey, within the noise of scoring 3-sample shares (5%).
SPLIT_PARTS = 10
SPLIT_SLACK = 1.05
# One intra-op thread: on 2 cores shared with other jobs, torch's default of 2 threads made
# each LoRA step wait on the slower thread (measured 28-80 s per miner against 7 s with one).
# Both rounds run under the same setting, so the bit-identical comparison holds.
TORCH_THREADS = 1

# Attacks that die at pull, and the words their recorded error must contain.
PULL_ATTACKS = {
    "garbage": "invalid response",  # not JSON, not UTF-8
    "offline": "transport error",  # registered, nothing listening
    "drip": "no complete response within",  # slow drip: one byte every 0.5 s
    "stall": "no complete response within",
    "huge": "over the",  # 64 MiB streamed without a length: the byte cap stops it
    "declared_huge": "declares",  # a Content-Length over the cap: refused unread
    "gzip_bomb": "compressed response refused",
    "nested": "invalid response",  # 100k levels of nested JSON
    "huge_json": "invalid response",  # ~9 MiB of valid JSON, 150k samples
    "bad_utf8": "invalid unicode",  # signed JSON with invalid UTF-8 in a string
    "unsigned": "not signed",
    "tampered": "does not verify",  # signed one body, served another (mismatched signature)
    "forged": "does not verify",  # random bytes as the signature
    "impersonator": "another hotkey",  # signed by the honest miner's hotkey, claims to be it
    "replay": "does not verify",  # an earlier honest exchange's signed response, re-served
    "relay": "HTTP 401",  # replays the validator's signed request to the honest miner
    "die_midway": "transport error",  # killed mid-response
    "wrong_round": "another round",
    "server_error": "HTTP 500",
}

# Attacks whose data reaches screening, and the words one of their reasons must contain.
DATA_ATTACKS = {
    "copycat": "duplicate_of_miner",  # an exact copy of the honest miner's data
    "paraphraser": "duplicate_of_miner",  # the same, paraphrased (<=10% of words and more)
    "contaminator": "from the eval pool",  # this round's eval items, verbatim
    "eval-perturbed": "from the eval pool",  # the same, paraphrased
    "canary": "canary",  # a published set's canaries planted among good data
    "repeater": "duplicate_within",  # one sample repeated to fill the request
    "rouge-padder": "wrong answer",  # right answers padded with common words
    "nan-bait": "",  # NaN bait: any outcome is fine as long as it is finite and near zero
}


def _published_canaries() -> list[dict[str, str]]:
    """What an attacker reads in the previous round's published eval set: its canaries."""
    pool = EvalPool(SECRET)
    pool.draw(PREVIOUS_ROUND, EVAL_ITEMS)
    canaries = pool.published()["canaries"]
    assert isinstance(canaries, list) and canaries
    return canaries


def _hostile(name: str, behaviour: str, signer: Keypair | None = None) -> MinerSpec:
    # round_network registers ``//Miner/<name>``: the hostile service holds that same key.
    key = Keypair.create_from_uri(f"//Miner/{name}")
    return MinerSpec(name, app=HostileMiner(key, behaviour, signer=signer))


def _attackers() -> list[MinerSpec]:
    honest_key = Keypair.create_from_uri("//Miner/honest")
    splits = [SplitShare("split", i, SPLIT_PARTS) for i in range(SPLIT_PARTS)]
    return [
        MinerSpec("copycat", GeneratorSource("honest")),
        MinerSpec("paraphraser", ParaphrasedCopy("honest")),
        MinerSpec("contaminator", LeakedEvalSource(SECRET, EVAL_ITEMS)),
        MinerSpec("eval-perturbed", Perturbed(LeakedEvalSource(SECRET, EVAL_ITEMS))),
        MinerSpec("canary", CanaryPlanter("canary", _published_canaries())),
        MinerSpec("repeater", Repeater("repeat")),
        MinerSpec("rouge-padder", RougePadder("padder")),
        MinerSpec("nan-bait", NanBait()),
        *[MinerSpec(f"split{i}", source) for i, source in enumerate(splits)],
        *[_hostile(b, b) for b in (*BEHAVIOURS, *MORE_BEHAVIOURS)],
        _hostile("impersonator", "honest", signer=honest_key),
        _hostile("replay", "replay"),
        _hostile("relay", "relay"),
        MinerSpec("offline", online=False),
    ]


@pytest.fixture(scope="module")
def model() -> Iterator[tuple[Any, Any]]:
    threads = torch.get_num_threads()
    torch.set_num_threads(TORCH_THREADS)
    yield load_base(TINY_RANDOM, "cpu")
    torch.set_num_threads(threads)


def _publish_previous_round(net: RoundNetwork) -> None:
    """Both rounds follow the same previous round: its set and canaries sit in the pool."""
    net.ctx.stages.cot.pool.draw(PREVIOUS_ROUND, EVAL_ITEMS)


def _arm(net: RoundNetwork, attackers: list[MinerSpec]) -> HostileMiner:
    """Point the relay at the honest miner; give the replayer its honest first exchange."""
    apps = {spec.name: spec.app for spec in attackers if spec.app is not None}
    endpoints = {n.uid: n for n in net.chain.metagraph()}
    relay: HostileMiner = apps["relay"]
    relay.relay_to = endpoints[net.uids["honest"]].endpoint
    request = SubmissionRequest(competition=Competition.COT_SFT, round_id=ROUND_ID, num_samples=4)
    replayer = endpoints[net.uids["replay"]]
    [first] = asyncio.run(pull_all(net.ctx.keypair, [replayer], request, net.ctx.pull_deadline_s))
    assert first.ok, first.error  # the captured exchange was a good one
    return relay


@dataclass
class Rounds:
    """Both rounds' records, the crowd's network, the alone round's uids, the relay."""

    alone: RoundRecord
    crowd: RoundRecord
    net: RoundNetwork
    alone_uids: dict[str, int]
    relay: HostileMiner

    def alone_miners(self) -> dict[str, MinerRoundRecord]:
        by_uid = {m.uid: m for m in self.alone.miners}
        return {name: by_uid[uid] for name, uid in self.alone_uids.items()}

    def crowd_miners(self) -> dict[str, MinerRoundRecord]:
        by_uid = {m.uid: m for m in self.crowd.miners}
        return {name: by_uid[uid] for name, uid in self.net.uids.items() if uid in by_uid}


@pytest.fixture(scope="module")
def rounds(tmp_path_factory: pytest.TempPathFactory, model: tuple[Any, Any]) -> Iterator[Rounds]:
    """The same round twice: honest alone, then honest among attackers (fresh state each)."""
    client = start_embedded(tmp_path_factory.mktemp("redis") / "r.rdb")
    alone_dir, crowd_dir = tmp_path_factory.mktemp("alone"), tmp_path_factory.mktemp("crowd")
    honest = MinerSpec("honest", GeneratorSource("honest"))
    whole = MinerSpec("full-split", GeneratorSource("split"))  # the split dataset, on one key
    attackers = _attackers()
    alone_keys, crowd_keys = Keys.for_network("alone", 1), Keys.for_network("crowd", 1)
    t0 = time.perf_counter()
    with round_network(alone_dir, client, alone_keys, model, [honest, whole], SECRET) as net:
        _publish_previous_round(net)
        alone = net.run(ROUND_ID)
        alone_uids = dict(net.uids)
    t1 = time.perf_counter()
    with round_network(crowd_dir, client, crowd_keys, model, [honest, *attackers], SECRET) as net:
        _publish_previous_round(net)
        relay = _arm(net, attackers)
        crowd = net.run(ROUND_ID)
        t2 = time.perf_counter()
        print(f"\nround alone {t1 - t0:.1f}s, round with {len(attackers)} attackers {t2 - t1:.1f}s")
        rounds = Rounds(alone, crowd, net, alone_uids, relay)
        print(_share_table(rounds))  # docs/SCORING.md's attack table: pytest -s this file
        yield rounds
    stop_embedded(client)


def _share_table(rounds: Rounds) -> str:
    """Each miner's score as a share of the honest miner's, with its first reason."""
    miners = rounds.crowd_miners()
    honest = miners["honest"].score
    lines = [f"honest score {honest:.4f} (alone: {rounds.alone_miners()['honest'].score:.4f})"]
    for name, m in sorted(miners.items()):
        why = (m.reasons or [""])[0][:70]
        lines.append(f"{name:<15} {m.status:<13} {m.score:.4f}  {m.score / honest:6.1%}  {why}")
    return "\n".join(lines)


def test_honest_scores_and_is_unchanged_by_attackers(rounds: Rounds) -> None:
    honest_alone = rounds.alone_miners()["honest"]
    honest_crowd = rounds.crowd_miners()["honest"]
    assert honest_alone.uid == honest_crowd.uid
    assert honest_alone.status == "scored" and honest_alone.score > 0, honest_alone.reasons
    # Bit-identical: same data, same seeds, same eval set -> the same score, attackers or not.
    assert honest_crowd.score == honest_alone.score
    assert honest_crowd.components == honest_alone.components
    assert honest_crowd.train_losses == honest_alone.train_losses
    assert honest_crowd.accepted == honest_alone.accepted == honest_crowd.offered


def test_catalog_is_all_in_the_round() -> None:
    """Every HostileMiner behaviour and every data attack takes part in the round."""
    names = {spec.name for spec in _attackers()}
    assert names >= {*BEHAVIOURS, *MORE_BEHAVIOURS} and names >= {*PULL_ATTACKS, *DATA_ATTACKS}
    assert len(names) == len(PULL_ATTACKS) + len(DATA_ATTACKS) + SPLIT_PARTS


def test_every_miner_has_a_finite_record(rounds: Rounds) -> None:
    """Nothing crashed: the round recorded every registered miner, attacker or not."""
    assert set(rounds.crowd_miners()) == set(rounds.net.uids)
    assert all(math.isfinite(m.score) and m.score >= 0 for m in rounds.crowd.miners)


# rouge-padder is here on purpose: its well-formed CoT gains ~1.66 on this random-init base
# (honest 1.80), and only the answer check's multiplier (not a charge in nats) zeroes it.
@pytest.mark.parametrize("attacker", (*PULL_ATTACKS, *DATA_ATTACKS))
def test_attack_earns_at_most_five_percent(rounds: Rounds, attacker: str) -> None:
    miners = rounds.crowd_miners()
    honest = miners["honest"].score
    attack = miners[attacker]
    assert math.isfinite(attack.score)
    assert attack.score <= ATTACK_SHARE * honest, (attacker, attack.score, honest, attack.reasons)
    assert attack.reasons, "every zero comes with its reason"


@pytest.mark.parametrize("attacker", PULL_ATTACKS)
def test_pull_attack_reason(rounds: Rounds, attacker: str) -> None:
    attack = rounds.crowd_miners()[attacker]
    assert attack.status == "failed" and attack.score == 0.0 and attack.offered == 0
    assert PULL_ATTACKS[attacker] in (attack.error or ""), (attacker, attack.error)
    assert any(PULL_ATTACKS[attacker] in r for r in attack.reasons), attack.reasons


@pytest.mark.parametrize("attacker", [a for a, why in DATA_ATTACKS.items() if why])
def test_data_attack_reason(rounds: Rounds, attacker: str) -> None:
    attack = rounds.crowd_miners()[attacker]
    assert attack.offered > 0, attack.reasons  # it got through pull: screening stopped it
    assert any(DATA_ATTACKS[attacker] in r for r in attack.reasons), attack.reasons


def test_data_attack_counts(rounds: Rounds) -> None:
    miners = rounds.crowd_miners()
    assert miners["copycat"].duplicates == miners["copycat"].offered
    assert miners["paraphraser"].duplicates >= 0.95 * miners["paraphraser"].offered
    for name in ("contaminator", "eval-perturbed", "canary"):
        assert miners[name].status == "contaminated" and miners[name].score == 0.0, name
    assert miners["contaminator"].contaminated == miners["contaminator"].offered
    perturbed = miners["eval-perturbed"]
    assert perturbed.contaminated >= 0.9 * perturbed.offered, perturbed.reasons
    canary = miners["canary"]
    # The canaries, and only they: the planter's own filler is not mistaken for eval items.
    assert canary.contaminated == len(_published_canaries()), canary.reasons
    assert sum(f"{PREVIOUS_ROUND}/canary" in r for r in canary.reasons) == min(
        3, canary.contaminated
    )
    assert miners["repeater"].accepted == 1
    padder = miners["rouge-padder"]
    assert padder.accepted > 0 and padder.wrong_answers == padder.accepted, padder.reasons


def test_replayed_request_is_refused_by_the_honest_miner(rounds: Rounds) -> None:
    """The relay forwarded the validator's signed request to the honest miner: refused."""
    assert rounds.relay.relayed == [401]


def test_split_dataset_earns_no_more_than_once(rounds: Rounds) -> None:
    whole = rounds.alone_miners()["full-split"]
    parts = [m for name, m in rounds.crowd_miners().items() if name.startswith("split")]
    assert len(parts) == SPLIT_PARTS
    assert whole.score > 0, whole.reasons
    assert sum(p.accepted for p in parts) == whole.accepted  # the same dataset, all of it kept
    total = sum(p.score for p in parts)
    assert total <= whole.score * SPLIT_SLACK, (total, whole.score, [p.score for p in parts])
    honest = rounds.crowd_miners()["honest"].score
    assert total <= honest * SPLIT_SLACK, (total, honest)


def test_weights_record_and_leaderboard(rounds: Rounds) -> None:
    crowd, net = rounds.crowd, rounds.net
    assert crowd.weights_set, crowd.weights_error
    assert math.isclose(sum(crowd.weights.values()), 1.0)
    assert all(math.isfinite(w) and w >= 0 for w in crowd.weights.values())
    written = net.chain.weights(net.chain.metagraph()[0].uid)
    assert max(written.values()) == 65535
    run = Path(net.ctx.run_root) / ROUND_ID
    for name in (
        "requests.jsonl",
        "responses.jsonl",
        "scores.jsonl",
        "summary.json",
        "eval_set.json",
    ):
        assert (run / name).exists(), name
    published = json.loads((run / "eval_set.json").read_text())
    assert published["sha256"] == crowd.eval_set_sha256 and len(published["canaries"]) > 0
    # The CoT part's versions, per competition as at the top level; preference was off.
    cot = crowd.competitions[Competition.COT_SFT]
    assert cot.ran and cot.eval_set_sha256 == crowd.eval_set_sha256
    assert (cot.eval_version, cot.recipe_version) == (crowd.eval_version, crowd.recipe_version)
    assert cot.scoring_version == crowd.scoring_version == SCORING_VERSION
    assert not crowd.competitions[Competition.PREFERENCE].ran and "preference" not in published
    responses = (run / "responses.jsonl").read_text()
    assert "chain_of_thought" not in responses  # hashes and sizes, never payloads
    assert len(responses.splitlines()) == len(net.uids)  # every exchange logged, failed or not
    assert SECRET not in (run / "summary.json").read_text()
    page = net.store.leaderboard("cot_sft")
    assert page.rows[0].uid == net.uids["honest"]
    assert net.store.round(ROUND_ID) is not None
