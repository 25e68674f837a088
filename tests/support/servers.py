"""Real servers on loopback for tests: uvicorn in a thread, bounded in time."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from fastapi import FastAPI

from localnet.network import free_port
from localnet.processes import signal_group

__all__ = ["free_port", "serve_in_thread", "stop_process", "wait_healthy"]

# Server start on loopback takes milliseconds; a few seconds means something is wrong.
START_TIMEOUT_S = 10.0
# A uvicorn server with workers drains and exits on SIGTERM in a second or two; past this it is
# stuck, and it (and its workers) get SIGKILL.
STOP_GRACE_S = 20.0


@contextmanager
def serve_in_thread(app: FastAPI, port: int | None = None) -> Iterator[str]:
    """Run ``app`` on 127.0.0.1; yields ``host:port``; stops it afterwards."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT_S)


def wait_healthy(server: subprocess.Popen[bytes], port: int, timeout_s: float, what: str) -> None:
    """Wait until the process ``server`` answers ``/healthz`` on ``port`` with 200.

    Fails with the process's stderr if it exits first, and with ``what`` if it is not up
    within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
        assert time.monotonic() < deadline, f"{what} did not start"
        time.sleep(0.2)


def stop_process(process: subprocess.Popen[bytes], grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM ``process``, SIGKILL it after ``grace_s``, then close its pipes.

    Start it with ``start_new_session=True`` so that it leads a process group: the signals
    then reach its workers too, and a server stuck in shutdown leaves none of them behind.
    """
    group = _own_group(process)
    if process.poll() is None:
        _signal(process, group, signal.SIGTERM)
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            _signal(process, group, signal.SIGKILL)
            process.wait()
    if group:  # workers that outlived their parent
        _signal(process, group, signal.SIGKILL)
    for pipe in (process.stdin, process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()


def _own_group(process: subprocess.Popen[bytes]) -> bool:
    try:
        return os.getpgid(process.pid) == process.pid
    except ProcessLookupError:
        return False


def _signal(process: subprocess.Popen[bytes], group: bool, signum: int) -> None:
    if group:
        signal_group(process.pid, signum)
    else:
        process.send_signal(signum)  # a no-op once the process is reaped
