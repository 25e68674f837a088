"""Builds a miner's service from its settings; also the uvicorn worker factory.

Each uvicorn worker process calls ``app_from_env``: settings come from ``DATACOMP_MINER_*``
variables the entry point exported, the replay guard from the shared Redis at ``redis_url``
(so a nonce accepted by one worker is refused by every other).

The data source is a parameter of ``build_context`` (``source_builder``; by default
``build_source``, the source the settings name), so another program can serve its own source
on the same wiring: it passes its builder here and to ``miner.service.serve``, with a worker
factory of its own (as the local network's contaminator does, ``localnet/leak_miner.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi import FastAPI

from miner.app import MinerContext, create_app
from miner.config import MinerSettings
from miner.gate import ValidatorGate
from miner.ledger import Ledger
from miner.sources import DataSource, FileSource, GeneratorSource
from miner.teacher import TeacherSource
from protocol.chain import open_chain
from protocol.keys import Keys
from protocol.nonce_store import RedisNonceStore
from protocol.redis_conn import connect
from protocol.wallets import load_hotkey

S = TypeVar("S", bound=MinerSettings)

# Settings and the miner's hotkey address -> the data source it serves.
SourceBuilder = Callable[[S, str], DataSource]


def build_source(settings: MinerSettings, hotkey_ss58: str) -> DataSource:
    """The data source the settings name."""
    seed = settings.generator_seed or hotkey_ss58
    if settings.source == "file":
        if settings.data is None:
            raise ValueError("--data is required with --source file")
        return FileSource(settings.data, settings.competition, seed=seed)
    if settings.source == "teacher":
        return TeacherSource(
            settings.teacher_url, settings.teacher_model, settings.teacher_api_key, seed
        )
    return GeneratorSource(seed)


def build_context(settings: S, source_builder: SourceBuilder[S] = build_source) -> MinerContext:
    """Everything the service needs: keys, chain-backed gate, Redis replay guard, source."""
    keypair = load_hotkey(
        settings.wallet_name, settings.wallet_hotkey, settings.wallet_path.expanduser()
    )
    chain = open_chain(settings.network, settings.netuid, settings.chain_path)
    redis_client = connect(settings.redis_url)
    return MinerContext(
        keypair=keypair,
        gate=ValidatorGate(chain.metagraph, settings.min_validator_stake),
        nonce_store=RedisNonceStore(
            redis_client, Keys.for_network(settings.network, settings.netuid)
        ),
        source=source_builder(settings, keypair.ss58_address),
        ledger=Ledger(settings.ledger_path),
    )


def app_from_env() -> FastAPI:
    """Uvicorn factory: the app from ``DATACOMP_MINER_*`` environment variables."""
    return create_app(build_context(MinerSettings()))
