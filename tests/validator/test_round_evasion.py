"""Issue 11's first table, re-run against real rounds: each row ends in 0% of honest.

Two rounds on one Redis and one run directory. Round 1: the honest miner alone; it publishes
its eval set. Then the validator "restarts": a new round context whose eval pool is built the
way ``validator.service.build`` builds it at start (``load_pool``: the published sets read
back from the run directory), with the dedup history read back from Redis. Round 2: honest
among the table's attackers:

| row | attacker                                                        | expected            |
|-----|-----------------------------------------------------------------|---------------------|
| 1   | 100% wrong answers, one space appended to each prompt            | all counted wrong   |
| 2   | honest's data with ``[123456] `` prepended to each prompt        | all duplicates      |
| 3   | honest's data with Latin letters swapped for look-alikes         | all duplicates      |
| 4   | the published set perturbed, only what the public gate misses    | nothing to serve    |
| 5   | after the restart, the published set served verbatim             | contaminated        |
| 5b  | after the restart, the published set perturbed (every kind)      | contaminated        |

Rows 6-8 (processes left running) are ``tests/localnet/test_processes.py``; row 9 (no
default secret on a public network) is ``tests/validator/test_config.py``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
import torch

from miner.sources import GeneratorSource
from protocol.keys import Keys
from protocol.redis_conn import start_embedded, stop_embedded
from tasks.quality import Quality
from tests.support.evasion_sources import (
    AdaptiveAttacker,
    PublishedSet,
    Transformed,
    cyrillic,
    id_prefixed,
    space_appended,
)
from tests.support.validator_fixture import MinerSpec, round_network
from validator.model.base import TINY_RANDOM, load_base
from validator.service import load_pool
from validator.store.records import MinerRoundRecord, RoundRecord

# Two real rounds, 8 LoRA trainings on the tiny model: well under two minutes on 2 cores.
pytestmark = pytest.mark.timeout(900)

SECRET = "evasion-test-secret"
# An attack may earn at most this share of the honest miner's score (issues 5 and 11).
ATTACK_SHARE = 0.05
# One torch thread: see tests/validator/test_round.py.
TORCH_THREADS = 1


@dataclass
class Evasion:
    """Round 2's record by miner name, the adaptive attacker, and round 1's record."""

    first: RoundRecord
    second: dict[str, MinerRoundRecord]
    adaptive: AdaptiveAttacker
    reloaded: int


def _two_rounds(tmp_path_factory: pytest.TempPathFactory, client: redis.Redis) -> Evasion:
    """Round 1 with the honest miner alone, then round 2 after a restart among attackers."""
    model = load_base(TINY_RANDOM, "cpu")
    keys = Keys.for_network("evasion", 1)
    run_root = tmp_path_factory.mktemp("runs")
    honest = MinerSpec("honest", GeneratorSource("honest"))
    with round_network(
        tmp_path_factory.mktemp("one"), client, keys, model, [honest], SECRET
    ) as net:
        net.ctx.run_root = run_root
        first = net.run("evasion-1")
    assert (run_root / "evasion-1" / "eval_set.json").exists()
    adaptive = AdaptiveAttacker(run_root)
    attackers = [
        MinerSpec("wrong-space", Transformed(GeneratorSource("w", Quality.WRONG), space_appended)),
        MinerSpec("id-copy", Transformed(GeneratorSource("honest"), id_prefixed)),
        MinerSpec("lookalike-copy", Transformed(GeneratorSource("honest"), cyrillic)),
        MinerSpec("adaptive", adaptive),
        MinerSpec("published", PublishedSet(run_root)),
        MinerSpec("published-perturbed", PublishedSet(run_root, "all")),
    ]
    t0 = time.perf_counter()
    with round_network(
        tmp_path_factory.mktemp("two"), client, keys, model, [honest, *attackers], SECRET
    ) as net:
        # The restart: the pool as the service builds it at start, from the run directory.
        net.ctx.stages.cot.pool = load_pool(SECRET, run_root)
        reloaded = len(net.ctx.stages.cot.pool.published_sets())
        net.ctx.run_root = run_root
        record = net.run("evasion-2")
        by_uid = {m.uid: m for m in record.miners}
        second = {name: by_uid[uid] for name, uid in net.uids.items()}
    honest_score = second["honest"].score
    print(f"\nround 2 with {len(attackers)} attackers: {time.perf_counter() - t0:.1f}s")
    print(f"adaptive attacker: {adaptive.found} misses in {adaptive.attempts} tries")
    for name, m in second.items():
        share = m.score / honest_score if honest_score else float("nan")
        why = (m.reasons or [""])[0][:70]
        print(f"{name:<20} {m.status:<13} {m.score:.4f} {share:6.1%}  {why}")
    return Evasion(first, second, adaptive, reloaded)


@pytest.fixture(scope="module")
def evasion(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Evasion]:
    threads = torch.get_num_threads()
    torch.set_num_threads(TORCH_THREADS)
    client = None
    try:
        client = start_embedded(tmp_path_factory.mktemp("redis") / "r.rdb")
        rounds = _two_rounds(tmp_path_factory, client)
    except BaseException:
        if client is not None:
            stop_embedded(client)
        raise
    finally:
        torch.set_num_threads(threads)
    yield rounds
    stop_embedded(client)


def test_the_published_set_is_reloaded_after_the_restart(evasion: Evasion) -> None:
    assert evasion.reloaded == 1


def test_honest_scores(evasion: Evasion) -> None:
    honest = evasion.second["honest"]
    assert honest.status == "scored" and honest.score > 0, honest.reasons
    assert honest.accepted == honest.offered, honest.reasons


@pytest.mark.parametrize(
    "attacker",
    ["wrong-space", "id-copy", "lookalike-copy", "adaptive", "published", "published-perturbed"],
)
def test_attack_earns_at_most_five_percent(evasion: Evasion, attacker: str) -> None:
    honest = evasion.second["honest"].score
    attack = evasion.second[attacker]
    assert attack.score <= ATTACK_SHARE * honest, (attacker, attack.score, honest, attack.reasons)
    assert attack.reasons, "every zero comes with its reason"


def test_row_1_wrong_answers_behind_a_trailing_space_are_counted(evasion: Evasion) -> None:
    attack = evasion.second["wrong-space"]
    assert attack.accepted > 0 and attack.wrong_answers == attack.accepted, attack.reasons


@pytest.mark.parametrize("attacker", ["id-copy", "lookalike-copy"])
def test_rows_2_3_disguised_copies_are_duplicates(evasion: Evasion, attacker: str) -> None:
    attack = evasion.second[attacker]
    assert attack.offered > 0 and attack.duplicates == attack.offered, attack.reasons
    assert any("duplicate_of_miner" in r for r in attack.reasons), attack.reasons


def test_row_4_the_adaptive_attacker_finds_nothing_to_serve(evasion: Evasion) -> None:
    assert evasion.adaptive.attempts > 0 and evasion.adaptive.found == 0
    assert evasion.second["adaptive"].score == 0.0


@pytest.mark.parametrize("attacker", ["published", "published-perturbed"])
def test_row_5_the_published_set_is_caught_after_a_restart(evasion: Evasion, attacker: str) -> None:
    attack = evasion.second[attacker]
    assert attack.status == "contaminated" and attack.score == 0.0, attack.reasons
    assert attack.contaminated >= 0.95 * attack.offered, attack.reasons
    assert any("evasion-1/" in r for r in attack.reasons), attack.reasons
