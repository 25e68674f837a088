"""A local network's parent process, for the process-lifecycle tests.

    python -m tests.support.localnet_harness WORKDIR

Starts the network the way ``neurons/localnet.py`` does (embedded Redis, chain, four miners),
with the same SIGTERM handling and the same ``finally``, prints one JSON line with the pids
of everything it started, then waits for a line on stdin ("stop") or a signal.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import psutil

from localnet.network import start
from protocol.redis_conn import embedded_pids, exit_on_sigterm

# The eval set size the cast's contaminator needs; nothing is evaluated here.
EVAL_ITEMS = 8


def main(workdir: Path) -> None:
    exit_on_sigterm()
    network = start(workdir, EVAL_ITEMS)
    try:
        children = [p.pid for p in psutil.Process().children(recursive=True)]
        print(json.dumps({"children": children, "redis": embedded_pids()}), flush=True)
        sys.stdin.readline()
    finally:
        network.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
