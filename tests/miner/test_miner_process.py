"""The production miner as a process (``neurons/miner.py --source file``, two uvicorn workers).

Commit before serving, end to end: once it answers ``/healthz`` its pool's root is on chain;
every worker proves against that root; a restart over the same dataset commits nothing (the
earlier block is kept); a changed dataset is re-committed by the parent and then served by
every worker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis
from bittensor.sp_core import Keypair

from miner.manifests import WATCH_INTERVAL_S, read_manifest
from protocol.auth import BtAuth
from protocol.chain.base import Commitment
from protocol.chain.local import LocalChain
from protocol.commitments import manifest_commitment
from protocol.redis_conn import embedded_url
from protocol.schemas import SUBMISSION_PATH, CotSample, SubmissionResponse
from protocol.wallets import ensure_wallet
from tests.support.proofs import unproven
from tests.support.servers import free_port, stop_process, wait_healthy

REPO = Path(__file__).resolve().parents[2]
WORKERS = 2
# A start is an interpreter, the imports and the pool: seconds; a minute means it is stuck.
START_TIMEOUT_S = 90.0

pytestmark = pytest.mark.timeout(240)


def _dataset(path: Path, tag: str, count: int = 24) -> list[CotSample]:
    samples = [
        CotSample(
            prompt=f"{tag}: what is {i} + 2?", chain_of_thought="add two", final_answer=str(i + 2)
        )
        for i in range(count)
    ]
    path.write_text("".join(s.model_dump_json() + "\n" for s in samples), encoding="utf-8")
    return samples


@contextmanager
def _miner(args: list[str], port: int) -> Iterator[None]:
    server = subprocess.Popen(
        [sys.executable, "neurons/miner.py", *args],
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if not k.startswith("DATACOMP_")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # stop_process signals its workers with it
    )
    try:
        wait_healthy(server, port, START_TIMEOUT_S, "the miner")
        yield
    finally:
        stop_process(server)


def _ask(port: int, validator: Keypair, miner: Keypair, round_id: str) -> SubmissionResponse:
    body = json.dumps({"competition": "cot_sft", "round_id": round_id, "num_samples": 8}).encode()
    with httpx.Client() as client:  # a fresh connection: spread over the workers
        response = client.post(
            f"http://127.0.0.1:{port}{SUBMISSION_PATH}",
            content=body,
            auth=BtAuth(validator, miner.ss58_address),
        )
    assert response.status_code == 200, response.text
    parsed = SubmissionResponse.model_validate_json(response.content)
    assert unproven(parsed) == []
    return parsed


def test_the_miner_commits_its_pool_before_serving_and_follows_its_dataset(
    tmp_path: Path, embedded_redis: redis.Redis, bob: Keypair
) -> None:
    wallets = tmp_path / "wallets"
    miner_key = ensure_wallet("fileminer", "default", wallets)
    chain_path = tmp_path / "chain.sqlite"
    chain = LocalChain(chain_path)
    chain.register(bob, bob.ss58_address)
    chain.add_stake(bob.ss58_address, 1000.0)
    dataset = tmp_path / "data.jsonl"
    first_data = _dataset(dataset, "first")
    port = free_port()
    manifest_path = tmp_path / "ledger-manifest.jsonl"
    args = [
        *("--wallet.name", "fileminer", "--wallet.hotkey", "default"),
        *("--wallet.path", str(wallets), "--subtensor.network", "local-embedded"),
        *("--chain.path", str(chain_path), "--axon.port", str(port)),
        *("--redis.url", embedded_url(embedded_redis), "--workers", str(WORKERS)),
        *("--ledger-path", str(tmp_path / "ledger.jsonl")),
        *("--source", "file", "--data", str(dataset), "--competition", "cot_sft"),
    ]

    def held() -> Commitment:
        return chain.commitments()[miner_key.ss58_address]

    def binding(root: str) -> str:
        return manifest_commitment(miner_key.ss58_address, root)

    with _miner(args, port):
        # Healthy means committed: the parent commits before uvicorn starts.
        committed = held()
        pool = read_manifest(manifest_path)
        assert committed.data == binding(pool.root)
        answers = [_ask(port, bob, miner_key, f"r-{i}") for i in range(2 * WORKERS)]
        assert {a.manifest_root for a in answers} == {pool.root}
        assert all(s in first_data for a in answers for s in a.samples)

    # A restart over the same dataset keeps the commitment (and its earlier block).
    time.sleep(1.1)  # a block later on the local chain: a re-commit would show
    with _miner(args, port):
        assert held() == committed
        second_data = _dataset(dataset, "second")
        deadline = time.monotonic() + 10 * WATCH_INTERVAL_S
        # Committed, then swapped: wait for both (a look at the file between them sees the
        # old pool under the new commitment).
        while held() == committed or held().data != binding(read_manifest(manifest_path).root):
            assert time.monotonic() < deadline, "the changed dataset was not re-committed"
            time.sleep(0.2)
        new_pool = read_manifest(manifest_path)
        assert new_pool.root != pool.root
        for i in range(2 * WORKERS):
            answer = _ask(port, bob, miner_key, f"r-new-{i}")
            assert answer.manifest_root == new_pool.root
            assert all(s in second_data for s in answer.samples)
