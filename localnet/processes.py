"""Child processes of a local network: start with a log file, wait until healthy, stop cleanly.

Every child dies with its parent, however the parent ends: ``stop_all`` on a normal exit or
a SIGINT/SIGTERM the entry point turns into an exception (``protocol.redis_conn.
exit_on_sigterm``), and a parent-death signal (``PR_SET_PDEATHSIG``, set between fork and
exec) when the parent is killed outright. Each child leads its own session, so a Ctrl-C in the
terminal reaches the parent only, which then stops the children in order.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from protocol.redis_conn import die_with_parent

# Miner start = interpreter + torch-free imports + wallet + chain registration: a few seconds
# on 2 quiet cores, but five miners importing bittensor at once beside a training job took
# over 60 s (tests/localnet/test_processes.py); three minutes means it is stuck (the log says).
HEALTH_TIMEOUT_S = 180.0

# Children get SIGTERM first; uvicorn drains in well under this.
STOP_GRACE_S = 10.0


@dataclass
class Child:
    """One running child process and its log."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    health_url: str | None = None

    def tail(self, lines: int = 20) -> str:
        """The last lines of its log (for error messages)."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Supervisor:
    """Starts children and stops all of them, whatever happens in between."""

    log_dir: Path
    children: list[Child] = field(default_factory=list)

    def start(
        self, name: str, args: list[str], env: dict[str, str], health_url: str | None = None
    ) -> Child:
        """Start ``python args...`` with its output in ``log_dir/name.log``."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        handle = log_path.open("wb")
        process = subprocess.Popen(
            [sys.executable, *args],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=os.environ | env,
            start_new_session=True,  # a Ctrl-C in the terminal reaches us, not every child
            preexec_fn=die_with_parent(signal.SIGTERM),  # and a killed parent takes them along
        )
        handle.close()
        child = Child(name, process, log_path, health_url)
        self.children.append(child)
        return child

    def wait_healthy(self, timeout_s: float = HEALTH_TIMEOUT_S) -> None:
        """Block until every child with a health URL answers 200; raise with its log if not."""
        deadline = time.monotonic() + timeout_s
        for child in self.children:
            if child.health_url is None:
                continue
            while True:
                if child.process.poll() is not None:
                    raise RuntimeError(
                        f"{child.name} exited ({child.process.returncode}):\n{child.tail()}"
                    )
                try:
                    if httpx.get(child.health_url, timeout=1.0).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{child.name} not healthy after {timeout_s:g}s:\n{child.tail()}"
                    )
                time.sleep(0.2)

    def stop_all(self) -> None:
        """SIGTERM every child, then SIGKILL what is left after the grace period."""
        for child in self.children:
            if child.process.poll() is None:
                signal_group(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for child in self.children:
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                signal_group(child.process.pid, signal.SIGKILL)
                child.process.wait()
        self.children.clear()


def signal_group(pid: int, signum: int) -> None:
    """Signal the process group ``pid`` leads (a child started in its own session), if any."""
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        pass
