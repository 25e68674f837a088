"""Builds a miner's service from its settings; also the uvicorn worker factory.

Each uvicorn worker process calls ``app_from_env``: settings come from ``DATACOMP_MINER_*``
variables the entry point exported, the replay guard from the shared Redis at ``redis_url``
(so a nonce accepted by one worker is refused by every other).
"""

from __future__ import annotations

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


def build_source(settings: MinerSettings, hotkey_ss58: str) -> DataSource:
    """The data source the settings name."""
    seed = settings.generator_seed or hotkey_ss58
    if settings.source == "file":
        if settings.data is None:
            raise ValueError("--data is required with --source file")
        return FileSource(settings.data, settings.competition, seed=seed)
    if settings.source == "leak":
        from localnet.leak import LeakedEvalSource  # an attack simulation, not a miner feature

        if settings.leak_secret is None:
            raise ValueError("--leak-secret is required with --source leak")
        return LeakedEvalSource(settings.leak_secret.get_secret_value(), settings.leak_eval_items)
    if settings.source == "teacher":
        return TeacherSource(
            settings.teacher_url, settings.teacher_model, settings.teacher_api_key, seed
        )
    return GeneratorSource(seed, settings.generator_quality)


def build_context(settings: MinerSettings) -> MinerContext:
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
        source=build_source(settings, keypair.ss58_address),
        ledger=Ledger(settings.ledger_path),
    )


def app_from_env() -> FastAPI:
    """Uvicorn factory: the app from ``DATACOMP_MINER_*`` environment variables."""
    return create_app(build_context(MinerSettings()))
