from __future__ import annotations

import threading
from typing import Any

import pytest
import redis

from protocol.keys import Keys
from tests.support.rounds import make_round
from validator.store.leaderboard import LeaderboardStore


def snapshot(client: redis.Redis, keys: Keys) -> dict[bytes, Any]:
    """Every key under the test prefix with its value, type-aware."""
    out: dict[bytes, Any] = {}
    for key in client.scan_iter(match=keys.prefix + ":*", count=1000):
        kind = client.type(key)
        if kind == b"string":
            out[key] = client.get(key)
        elif kind == b"hash":
            out[key] = client.hgetall(key)
        elif kind == b"zset":
            out[key] = client.zrange(key, 0, -1, withscores=True)
        elif kind == b"set":
            out[key] = client.smembers(key)
        else:
            raise AssertionError(f"unexpected type {kind!r} at {key!r}")
    return out


def without_apply_timing(snap: dict[bytes, Any], keys: Keys) -> dict[bytes, Any]:
    snap = dict(snap)
    metrics = dict(snap.pop(keys.metrics().encode()))
    metrics.pop(b"apply_duration_s_sum")
    return {**snap, b"metrics": metrics}


def test_apply_is_idempotent_three_times(redis_client: redis.Redis, keys: Keys) -> None:
    store = LeaderboardStore(redis_client, keys)
    record = make_round(1, [0, 1, 2])
    assert store.apply_round(record) is True
    once = snapshot(redis_client, keys)
    assert store.apply_round(record) is False
    assert store.apply_round(record) is False
    assert snapshot(redis_client, keys) == once
    metrics = store.metrics()
    assert metrics["rounds_applied"] == 1
    assert metrics["miners_scored"] == 3
    assert metrics["apply_duration_s_count"] == 1


def test_same_round_from_many_clients_counts_once(redis_client: redis.Redis, keys: Keys) -> None:
    # A retried command racing its own first attempt: only one EXEC may win.
    record = make_round(1, list(range(10)))
    results: list[bool] = []
    barrier = threading.Barrier(6)

    def worker() -> None:
        store = LeaderboardStore(redis_client, keys)
        barrier.wait()
        results.append(store.apply_round(record))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 5 + [True]
    assert LeaderboardStore(redis_client, keys).metrics()["rounds_applied"] == 1


def test_concurrent_writers_lose_no_update(redis_client: redis.Redis, keys: Keys) -> None:
    uids = list(range(10))
    records = [make_round(n, uids) for n in range(1, 17)]
    stores = [LeaderboardStore(redis_client, keys) for _ in range(4)]
    barrier = threading.Barrier(len(stores))

    def worker(store: LeaderboardStore, mine: list[Any]) -> None:
        barrier.wait()
        for record in mine:
            assert store.apply_round(record)

    threads = [
        threading.Thread(target=worker, args=(s, records[i :: len(stores)]))
        for i, s in enumerate(stores)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reader = stores[0]
    metrics = reader.metrics()
    assert metrics["rounds_applied"] == len(records)
    assert metrics["miners_scored"] == len(records) * len(uids)
    assert reader.rounds(0, 100).total == len(records)
    newest = records[-1]
    for m in newest.miners:
        detail = reader.miner("cot_sft", m.uid)
        assert detail is not None
        assert len(detail.history) == len(records)  # every round's point is there
        assert [p.round_id for p in detail.history] == [
            r.round_id for r in records
        ]  # in time order
        assert detail.ema == pytest.approx(
            m.ema
        )  # the newest round wins, whatever the arrival order
        assert detail.last_round.score == pytest.approx(m.score)


def test_watch_conflict_is_retried(redis_client: redis.Redis, keys: Keys) -> None:
    store = LeaderboardStore(redis_client, keys)
    other = LeaderboardStore(redis_client, keys)
    original = store._read_newest
    calls = {"n": 0}

    def interfering(pipe: Any, miner_keys: list[str]) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:  # another writer commits between our WATCH and our EXEC
            assert other.apply_round(make_round(1, [0, 1]))
        return original(pipe, miner_keys)

    store._read_newest = interfering  # type: ignore[method-assign]
    assert store.apply_round(make_round(2, [0, 1]))
    assert store.watch_conflicts == 1 and calls["n"] == 2
    detail = store.miner("cot_sft", 0)
    assert detail is not None and [p.round_id for p in detail.history] == ["r00001", "r00002"]
    assert store.metrics()["rounds_applied"] == 2


def test_late_round_adds_history_but_does_not_overwrite(
    redis_client: redis.Redis, keys: Keys
) -> None:
    store = LeaderboardStore(redis_client, keys)
    r1, r2 = make_round(1, [3]), make_round(2, [3])
    store.apply_round(r2)
    store.apply_round(r1)
    detail = store.miner("cot_sft", 3)
    assert detail is not None
    assert detail.ema == pytest.approx(r2.miners[0].ema)
    assert detail.last_round.score == pytest.approx(r2.miners[0].score)
    assert [p.round_id for p in detail.history] == ["r00001", "r00002"]


def test_pagination_ranks_and_trend(redis_client: redis.Redis, keys: Keys) -> None:
    store = LeaderboardStore(redis_client, keys)
    uids = list(range(25))
    store.apply_round(make_round(1, uids))
    store.apply_round(make_round(2, uids))
    full = store.leaderboard("cot_sft", 0, 100)
    assert full.total == 25 and len(full.rows) == 25
    assert [r.rank for r in full.rows] == list(range(1, 26))
    assert [r.ema for r in full.rows] == sorted((r.ema for r in full.rows), reverse=True)
    assert full.rows[0].uid == 24  # the scores grow with uid in the fixture
    pages = [store.leaderboard("cot_sft", off, 10) for off in (0, 10, 20)]
    assert [r.uid for p in pages for r in p.rows] == [r.uid for r in full.rows]
    assert [r.rank for p in pages for r in p.rows] == list(range(1, 26))
    assert store.leaderboard("cot_sft", 100, 10).rows == []
    row = full.rows[0]
    assert row.hotkey == "5Hotkey0024" and row.round_id == "r00002" and row.status == "scored"
    assert row.trend == pytest.approx(0.01 * 0.9)  # ema moved by 0.009 between the rounds
    detail = store.miner("cot_sft", 24)
    assert detail is not None and detail.rank == 1


def test_history_is_capped(redis_client: redis.Redis, keys: Keys) -> None:
    store = LeaderboardStore(redis_client, keys, history_len=5)
    for n in range(1, 9):
        store.apply_round(make_round(n, [1]))
    detail = store.miner("cot_sft", 1)
    assert detail is not None
    assert [p.round_id for p in detail.history] == [f"r{n:05d}" for n in range(4, 9)]
    assert redis_client.zcard(keys.lb_history("cot_sft", 1)) == 5


def test_competitions_rounds_and_unknowns(redis_client: redis.Redis, keys: Keys) -> None:
    store = LeaderboardStore(redis_client, keys)
    assert store.competitions() == [] and store.rounds().total == 0
    for n in range(1, 6):
        store.apply_round(make_round(n, [0, 1]))
    store.apply_round(make_round(6, [7], competition="preference"))
    assert [(c.competition, c.miners) for c in store.competitions()] == [
        ("cot_sft", 2),
        ("preference", 1),
    ]
    assert store.has_competition("preference") and not store.has_competition("nope")
    page = store.rounds(1, 2)
    assert page.total == 6 and [r.round_id for r in page.rounds] == ["r00005", "r00004"]
    record = store.round("r00003")
    assert record == make_round(3, [0, 1])
    assert store.round("missing") is None
    assert store.miner("cot_sft", 7) is None and store.miner("preference", 7) is not None
    metrics = store.metrics()
    assert metrics["rounds_applied"] == 6
    assert metrics["weights_errors"] == 1  # round 3 of the fixture failed to set weights
    assert metrics["round_duration_s_sum"] == pytest.approx(6 * 42.5)
    assert metrics["round_duration_s_count"] == 6


def test_latest_round_of_a_hotkey(redis_client: redis.Redis, keys: Keys) -> None:
    store = LeaderboardStore(redis_client, keys)
    assert store.latest_round_of("cot_sft", "5Hotkey0001") is None  # nothing applied yet
    store.apply_round(make_round(1, [0, 1, 2]))
    store.apply_round(make_round(2, [0, 1]))  # uid 2 missed round 2
    store.apply_round(make_round(3, [5], competition="preference"))
    assert store.latest_round_of("cot_sft", "5Hotkey0001") == "r00002"
    assert store.latest_round_of("cot_sft", "5Hotkey0002") == "r00001"
    assert store.latest_round_of("preference", "5Hotkey0005") == "r00003"
    assert store.latest_round_of("preference", "5Hotkey0001") is None  # other competition
    assert store.latest_round_of("cot_sft", "5Unknown") is None
    # The hotkey re-registered under uid 9 and scored there later: its newest round wins.
    moved = make_round(4, [9])
    moved.miners[0].hotkey = "5Hotkey0002"
    store.apply_round(moved)
    assert store.latest_round_of("cot_sft", "5Hotkey0002") == "r00004"
    # A uid taken over by another hotkey no longer shows the old one.
    taken = make_round(5, [0])
    taken.miners[0].hotkey = "5NewOwner"
    store.apply_round(taken)
    assert store.latest_round_of("cot_sft", "5Hotkey0000") is None
    assert store.latest_round_of("cot_sft", "5NewOwner") == "r00005"
    assert store.has_round("r00005") and not store.has_round("r00099")
