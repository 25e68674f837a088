"""A killable redis-server with an append-only file, as production runs it.

``DyingRedis`` runs without persistence: a kill loses everything, the worst case for the
outbox alone. A validator's Redis runs with AOF on (docker-compose.yml), so a kill and restart
keeps every acknowledged write; this is that server, with ``appendfsync always`` so "every"
holds even for the write just before a SIGKILL.
"""

from __future__ import annotations

import subprocess
import time

import redis

from tests.support.dying_redis import START_TIMEOUT_S, DyingRedis, redis_binary


class DurableRedis(DyingRedis):
    """``DyingRedis`` whose data survives ``kill()`` + ``start()`` (AOF, fsync per write)."""

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                redis_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        probe = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=0.5)
        deadline = time.monotonic() + START_TIMEOUT_S
        try:
            while True:
                try:
                    if probe.ping():  # a server still loading its AOF answers LOADING: retry
                        return
                except (redis.ConnectionError, redis.BusyLoadingError):
                    pass
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.02)
        finally:
            probe.close()
