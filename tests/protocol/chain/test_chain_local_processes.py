"""LocalChain shared by separate processes, as the validator, miners and API share it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bittensor.sp_core import Keypair

from protocol.chain import LocalChain

WORKER_TIMEOUT_S = 60  # each worker imports bittensor (~1 s) and does a few writes

_REGISTER = """
import json, sys
from pathlib import Path
from bittensor.sp_core import Keypair
from protocol.chain import LocalChain
chain = LocalChain(Path(sys.argv[1]))
uids = {}
for i in range(int(sys.argv[3])):
    hotkey = Keypair.create_from_uri(f"//{sys.argv[2]}/{i}")
    uids[hotkey.ss58_address] = chain.register(hotkey, hotkey.ss58_address)
print(json.dumps(uids))
"""

_SET_WEIGHTS = """
import json, sys
from pathlib import Path
from bittensor.sp_core import Keypair
from protocol.chain import LocalChain
chain = LocalChain(Path(sys.argv[1]))
print(json.dumps(chain.set_weights(Keypair.create_from_uri("//Alice"), {1: 0.5, 2: 1.0})))
"""


def _spawn(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _result(process: subprocess.Popen[str]) -> dict[str, int]:
    try:
        out, err = process.communicate(timeout=WORKER_TIMEOUT_S)
    finally:
        if process.poll() is None:  # timed out: a stuck worker is not left running
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    return json.loads(out)


def _results(workers: list[subprocess.Popen[str]]) -> list[dict[str, int]]:
    """Every worker's result; all are waited for (or killed), even when one fails."""
    results, failures = [], []
    for worker in workers:
        try:
            results.append(_result(worker))
        except (AssertionError, subprocess.TimeoutExpired) as exc:
            failures.append(exc)
    if failures:
        raise failures[0]
    return results


def test_concurrent_registrations_in_separate_processes_get_distinct_uids(tmp_path: Path) -> None:
    path = tmp_path / "chain.sqlite"
    LocalChain(path)
    workers = [_spawn(_REGISTER, str(path), name, "15") for name in ("A", "B", "C")]
    results = _results(workers)

    uids = [uid for result in results for uid in result.values()]
    assert sorted(uids) == list(range(45))
    graph = LocalChain(path).metagraph()
    assert {n.hotkey: n.uid for n in graph} == {k: v for r in results for k, v in r.items()}


def test_weights_set_in_one_process_are_read_in_another(
    tmp_path: Path, alice: Keypair, bob: Keypair, charlie: Keypair
) -> None:
    path = tmp_path / "chain.sqlite"
    chain = LocalChain(path)
    for hotkey in (alice, bob, charlie):
        chain.register(hotkey, alice.ss58_address)
    chain.add_stake(alice.ss58_address, 10.0)

    written = _result(_spawn(_SET_WEIGHTS, str(path)))

    assert {int(uid): value for uid, value in written.items()} == {1: 32768, 2: 65535}
    assert chain.weights(0) == {1: 32768, 2: 65535}
    assert chain.metagraph()[0].last_update > 0
