from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis

from protocol.keys import Keys
from tests.support.dying_redis import DyingRedis, dying_redis
from tests.support.rounds import make_round
from validator.store.leaderboard import LeaderboardStore
from validator.store.outbox import Outbox
from validator.store.records import RoundRecord


def test_records_survive_a_dead_redis_and_land_once_it_is_back(tmp_path: Path, keys: Keys) -> None:
    outbox = Outbox(tmp_path / "outbox")
    uids = [0, 1, 2]
    with dying_redis(tmp_path) as server:
        store = LeaderboardStore(server.client(), keys)
        assert outbox.submit(make_round(1, uids), store)
        assert outbox.pending() == []

        server.kill()
        for n in (2, 3, 4):  # Redis is gone: no exception escapes, the records wait on disk
            assert outbox.submit(make_round(n, uids), store) is False
        assert len(outbox.pending()) == 3
        with pytest.raises(redis.ConnectionError):
            store.rounds()

        server.start()  # same port, empty (no persistence): round 1 is lost server-side too
        assert outbox.flush(store) == 3
        assert outbox.pending() == []
        # Round 1 was lost with the server's memory; rounds 2..4 all came back, in order.
        detail = store.miner("cot_sft", 2)
        assert detail is not None
        assert [p.round_id for p in detail.history] == ["r00002", "r00003", "r00004"]
        assert detail.ema == pytest.approx(make_round(4, uids).miners[2].ema)
        assert store.metrics()["rounds_applied"] == 3
        assert outbox.flush(store) == 0


def test_a_crash_between_apply_and_delete_does_not_double_count(
    redis_client: redis.Redis, keys: Keys, tmp_path: Path
) -> None:
    store = LeaderboardStore(redis_client, keys)
    outbox = Outbox(tmp_path)
    record = make_round(1, [0, 1])
    outbox.put(record)
    store.apply_round(record)  # applied, then "crashed" before the file was deleted
    assert outbox.flush(store) == 1
    assert outbox.pending() == []
    assert store.metrics()["rounds_applied"] == 1


def test_flush_applies_in_submission_order_and_survives_restart(
    redis_client: redis.Redis, keys: Keys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = Outbox(tmp_path)
    for n in (5, 3, 4):  # put order, not round order, is the apply order
        first.put(make_round(n, [9]))
    applied: list[str] = []
    store = LeaderboardStore(redis_client, keys)
    original = store.apply_round

    def recording(record: RoundRecord) -> bool:
        applied.append(record.round_id)
        return original(record)

    monkeypatch.setattr(store, "apply_round", recording)
    assert Outbox(tmp_path).flush(store) == 3  # a new process sees the same files
    assert applied == ["r00005", "r00003", "r00004"]


def test_unreadable_record_is_set_aside(
    redis_client: redis.Redis, keys: Keys, tmp_path: Path
) -> None:
    store = LeaderboardStore(redis_client, keys)
    outbox = Outbox(tmp_path)
    outbox.put(make_round(1, [0]))
    (tmp_path / "00000000000000000000-000000.json").write_text("{not json")
    (tmp_path / "00000000000000000001-000000.json").write_text(json.dumps({"round_id": "x"}))
    assert outbox.flush(store) == 1
    assert outbox.pending() == []
    assert len(list((tmp_path / "rejected").iterdir())) == 2
    assert store.metrics()["apply_errors"] == 2
    assert store.round("r00001") is not None


def test_a_server_that_never_answers_does_not_hang(tmp_path: Path, keys: Keys) -> None:
    server = DyingRedis(tmp_path)  # never started: nothing listens on the port
    outbox = Outbox(tmp_path / "outbox")
    assert outbox.submit(make_round(1, [0]), LeaderboardStore(server.client(), keys)) is False
    assert len(outbox.pending()) == 1
