"""Redis killed in the middle of a real round: the round still lands, once, when Redis is back.

Issue 5, "Reliability under faults". A real redis-server (AOF on, as in production) holds the
leaderboard, the dedup history and the miners' nonces; a real ``run_round`` (tiny-random model,
real miner services over HTTP) runs while a hook kills it: after the pull (so screening, the
base evaluation, training and the record step all run without Redis), or at the record step.
Redis comes back after the round; the outbox flush the service does before each round applies
the record, and a later round runs normally on top.

Found here: a kill after the pull made ``DedupHistory.credit`` raise out of ``run_round``, so
the round was lost with its record; history rows now wait in memory until Redis is back.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import torch

from miner.sources import GeneratorSource
from protocol.keys import Keys
from protocol.schemas import Competition
from tests.support.durable_redis import DurableRedis
from tests.support.validator_fixture import MinerSpec, RoundNetwork, round_network
from validator.model.base import TINY_RANDOM, load_base
from validator.stages.screening import DedupHistory
from validator.store.leaderboard import LeaderboardStore
from validator.store.outbox import Outbox
from validator.store.records import RoundRecord

pytestmark = pytest.mark.timeout(600)

# One intra-op thread: on 2 shared cores torch's default of 2 made rounds ~20x slower.
TORCH_THREADS = 1


@pytest.fixture(scope="module")
def model() -> Iterator[tuple[Any, Any]]:
    threads = torch.get_num_threads()
    torch.set_num_threads(TORCH_THREADS)
    yield load_base(TINY_RANDOM, "cpu")
    torch.set_num_threads(threads)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DurableRedis]:
    durable = DurableRedis(tmp_path)
    durable.start()
    yield durable
    durable.kill()


class OutboxWithHook(Outbox):
    """The real outbox; ``before_first_submit`` runs once (the record step begins)."""

    def __init__(self, directory: Path, before_first_submit: Callable[[], None]):
        super().__init__(directory)
        self._before: Callable[[], None] | None = before_first_submit

    def submit(self, record: RoundRecord, store: LeaderboardStore) -> bool:
        if self._before is not None:
            hook, self._before = self._before, None
            hook()
        return super().submit(record, store)


class HistoryWithHook(DedupHistory):
    """The real dedup history; ``before_first_credit`` runs once (screening begins)."""

    def __init__(self, client: redis.Redis, keys: Keys, before_first_credit: Callable[[], None]):
        super().__init__(client, keys)
        self._before: Callable[[], None] | None = before_first_credit

    def credit(self, owner: str, signature: object, digest: str) -> None:
        if self._before is not None:
            hook, self._before = self._before, None
            hook()
        super().credit(owner, signature, digest)


def _network(tmp: Path, server: DurableRedis, model: tuple[Any, Any]) -> Any:
    keys = Keys.for_network(f"restart-{uuid.uuid4().hex[:8]}", 1)
    miners = [
        MinerSpec("honest", GeneratorSource("honest")),
        MinerSpec("other", GeneratorSource("other")),
    ]
    return round_network(tmp, server.client(), keys, model, miners)


def _assert_leaderboard(net: RoundNetwork, records: list[RoundRecord]) -> None:
    """Exactly these rounds, each once, and each miner's history and EMA from them."""
    store = net.store
    page = store.rounds(0, 50)
    assert page.total == len(records)
    assert [r.round_id for r in page.rounds] == [r.round_id for r in reversed(records)]
    for record in records:
        stored = store.round(record.round_id)
        assert stored is not None and stored.to_dict() == record.to_dict()
    assert store.metrics()["rounds_applied"] == len(records)
    for name, uid in net.uids.items():
        detail = store.miner(Competition.COT_SFT.value, uid)
        assert detail is not None, name
        assert [p.round_id for p in detail.history] == [r.round_id for r in records]
        last = next(m for m in records[-1].miners if m.uid == uid)
        assert detail.ema == pytest.approx(last.ema)
        assert detail.last_round.to_dict() == last.to_dict()
    honest = next(m for m in records[-1].miners if m.uid == net.uids["honest"])
    assert honest.status == "scored" and honest.score > 0, honest.reasons


@pytest.mark.parametrize("when", ["at-record", "after-pull"])
def test_a_round_outlives_a_redis_restart_and_lands_once(
    tmp_path: Path, server: DurableRedis, model: tuple[Any, Any], when: str
) -> None:
    with _network(tmp_path, server, model) as net:
        first = net.run("restart-1")
        assert net.ctx.outbox.pending() == []

        if when == "at-record":
            net.ctx.outbox = OutboxWithHook(net.ctx.outbox.directory, server.kill)
        else:
            net.ctx.history = HistoryWithHook(server.client(), net.store.keys, server.kill)
        second = net.run("restart-2")  # Redis dies inside; nothing may escape

        assert server.proc is None
        assert len(net.ctx.outbox.pending()) == 1  # the record waits on disk
        with pytest.raises(redis.ConnectionError):
            net.store.rounds()
        by_uid = {m.uid: m for m in second.miners}
        assert by_uid[net.uids["honest"]].status == "scored", by_uid[net.uids["honest"]].reasons

        # The dedup history rows of round 2 that Redis missed wait in memory.
        assert net.ctx.history.unsaved > 0 if when == "after-pull" else net.ctx.history.unsaved == 0

        server.start()  # same port; the AOF brings round 1 back
        _assert_leaderboard(net, [first])
        assert net.ctx.history.flush() and net.ctx.history.unsaved == 0
        stored = DedupHistory(server.client(), net.store.keys).index
        assert stored.to_dict() == net.ctx.history.index.to_dict()  # nothing lost
        # What the service does before every round (validator.service.run_rounds).
        assert net.ctx.outbox.flush(net.ctx.store) == 1
        assert net.ctx.outbox.flush(net.ctx.store) == 0
        assert net.ctx.outbox.pending() == []
        _assert_leaderboard(net, [first, second])

        third = net.run("restart-3")  # and the network goes on
        _assert_leaderboard(net, [first, second, third])
