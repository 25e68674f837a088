"""protocol/redis_conn.py: the embedded server a validator starts without ``--redis.url``."""

from __future__ import annotations

from pathlib import Path

from protocol.redis_conn import embedded_pids, start_embedded, stop_embedded


def test_embedded_server_starts_in_a_directory_not_made_yet(tmp_path: Path) -> None:
    """``validator.service.build`` puts the database in ``--run-dir``, absent on a fresh node.

    redis-server changes into the database's directory first, so a missing one stopped the
    validator at startup ("The binary redis-server failed to start").
    """
    db = tmp_path / "fresh" / "runs" / "validator-redis.rdb"
    before = embedded_pids()
    client = start_embedded(db)  # what connect() starts without a URL (ignores $REDIS_URL)
    try:
        assert client.ping() and db.parent.is_dir()
        assert len(embedded_pids()) == len(before) + 1
        client.set(b"k", b"v")
        assert client.get(b"k") == b"v"
    finally:
        stop_embedded(client)
    assert embedded_pids() == before  # stopped, nothing left behind
