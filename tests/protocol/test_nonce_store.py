"""Replay protection shared across processes: the same request is accepted exactly once."""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import redis
from bittensor import http_auth
from bittensor.sp_core import Keypair

from miner.config import MinerSettings
from miner.factory import PoolMode, build_source
from protocol.chain.local import LocalChain
from protocol.keys import Keys
from protocol.nonce_store import DEFAULT_RETENTION_S, RedisNonceStore
from protocol.redis_conn import embedded_url
from protocol.schemas import SUBMISSION_PATH
from protocol.wallets import ensure_wallet
from tests.support.servers import free_port, stop_process, wait_healthy

# Workers of the multi-process miner; more than the 2 cores so requests truly interleave.
WORKERS = 3


def test_first_check_wins_and_expires(redis_client: redis.Redis, keys: Keys) -> None:
    store = RedisNonceStore(redis_client, keys)
    assert store.check_and_store("hk", 1)
    assert not store.check_and_store("hk", 1)
    assert store.check_and_store("hk", 2)
    assert store.check_and_store("other", 1)
    ttl = redis_client.ttl(keys.nonce("hk", 1))
    assert 0 < ttl <= DEFAULT_RETENTION_S + 1


def test_retention_must_cover_window(redis_client: redis.Redis, keys: Keys) -> None:
    with pytest.raises(ValueError):
        RedisNonceStore(redis_client, keys, retention=5)


def test_concurrent_threads_accept_once(redis_client: redis.Redis, keys: Keys) -> None:
    store = RedisNonceStore(redis_client, keys)
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: store.check_and_store("hk", 99), range(64)))
    assert results.count(True) == 1


def test_replay_across_uvicorn_workers(
    tmp_path: Path, embedded_redis: redis.Redis, bob: Keypair
) -> None:
    """A miner with several worker processes accepts a concurrently replayed request once."""
    wallets = tmp_path / "wallets"
    miner_key = ensure_wallet("m", "h", wallets)
    chain_path = tmp_path / "chain.sqlite"
    chain = LocalChain(chain_path)
    chain.register(bob, bob.ss58_address)
    chain.add_stake(bob.ss58_address, 1000.0)
    port = free_port()
    env = os.environ | {
        "DATACOMP_MINER_WALLET_NAME": "m",
        "DATACOMP_MINER_WALLET_HOTKEY": "h",
        "DATACOMP_MINER_WALLET_PATH": str(wallets),
        "DATACOMP_MINER_CHAIN_PATH": str(chain_path),
        "DATACOMP_MINER_REDIS_URL": embedded_url(embedded_redis),
        "DATACOMP_MINER_LEDGER_PATH": str(tmp_path / "ledger.jsonl"),
        "DATACOMP_MINER_NETWORK": "local-embedded",
        "DATACOMP_MINER_POOL_SIZE": "16",
    }
    # What the miner's parent process does before it starts workers: commit the pool, write it.
    chain.register(miner_key, miner_key.ss58_address)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        settings = MinerSettings()
    source = build_source(settings, miner_key.ss58_address)
    PoolMode().prepare(settings, miner_key, chain, source, lambda: source)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "miner.factory:app_from_env",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(WORKERS),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # stop_process signals its workers with it
    )
    try:
        wait_healthy(server, port, 60, "miner workers")
        body = b'{"competition":"cot_sft","round_id":"replay","num_samples":2}'
        for attempt in range(3):  # several distinct signed requests, each replayed 24 times at once
            headers = http_auth.sign(
                bob,
                method="POST",
                path=SUBMISSION_PATH,
                body=body,
                receiver_ss58=miner_key.ss58_address,
            )

            def send(_: int, headers: dict[str, str] = headers) -> int:
                with httpx.Client() as client:  # a fresh connection each: spread over workers
                    return client.post(
                        f"http://127.0.0.1:{port}{SUBMISSION_PATH}", content=body, headers=headers
                    ).status_code

            with concurrent.futures.ThreadPoolExecutor(24) as pool:
                statuses = list(pool.map(send, range(24)))
            assert statuses.count(200) == 1, (attempt, statuses)
            assert statuses.count(401) == 23
        ledger_lines = (tmp_path / "ledger.jsonl").read_text().splitlines()
        assert len(ledger_lines) == 3
    finally:
        stop_process(server)
