"""An honest miner service over real HTTP, with a real Redis nonce store and a real chain.

The miner commits what it serves on a ``LocalChain`` (a serve-time book, registered there) unless
the test passes its own ``ManifestBook``; the validators' gate reads the given metagraph.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from bittensor.sp_core import Keypair

from miner.app import MinerContext, create_app
from miner.gate import ValidatorGate
from miner.ledger import Ledger
from miner.manifests import ManifestBook, ServeTimeBook
from miner.sources import DataSource, GeneratorSource
from protocol.chain.base import Neuron
from protocol.chain.local import LocalChain
from protocol.keys import Keys
from protocol.nonce_store import RedisNonceStore
from tests.support.servers import serve_in_thread


def neuron(
    uid: int, key: Keypair, *, permit: bool, stake: float, endpoint: str | None = None
) -> Neuron:
    return Neuron(uid, key.ss58_address, key.ss58_address, stake, permit, endpoint, 0)


@contextmanager
def running_miner(
    miner_key: Keypair,
    metagraph: list[Neuron],
    redis_client: redis.Redis,
    keys: Keys,
    ledger_path: Path,
    source: DataSource | None = None,
    manifests: ManifestBook | None = None,
) -> Iterator[tuple[str, MinerContext]]:
    if manifests is None:
        chain = LocalChain(ledger_path.parent / "miner-chain.sqlite")
        chain.register(miner_key, miner_key.ss58_address)
        manifests = ServeTimeBook(chain, miner_key)
    ctx = MinerContext(
        keypair=miner_key,
        gate=ValidatorGate(lambda: metagraph, min_stake=1.0),
        nonce_store=RedisNonceStore(redis_client, keys),
        source=source or GeneratorSource(seed="honest"),
        ledger=Ledger(ledger_path),
        manifests=manifests,
    )
    with serve_in_thread(create_app(ctx)) as address:
        yield address, ctx
