"""Run a miner: register and serve on the chain, then answer validators over signed HTTP.

    python neurons/miner.py --wallet.name W --wallet.hotkey H --axon.port 8091 \
        --subtensor.network local-embedded --source file --data samples.jsonl

Wiring only: settings from flags/env, wallet, chain registration and endpoint, Redis (an
embedded server when no URL is given, shared with the uvicorn workers), then uvicorn.

``serve`` is that wiring with the settings class, the data source and the uvicorn worker
factory as parameters; ``main`` is the production miner's choice of them. The local network's
contaminator (``localnet/leak_miner.py``) reuses ``serve`` with its own source, so this miner
knows nothing of it.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uvicorn

from miner.config import MinerSettings
from miner.factory import S, SourceBuilder, build_source
from protocol.chain import open_chain
from protocol.cli import parse_settings, to_env
from protocol.redis_conn import connect_shared
from protocol.wallets import coldkey_ss58, ensure_wallet, load_hotkey

log = logging.getLogger("datacomp.miner")


# What each uvicorn worker process imports to build the production miner's app.
APP_FACTORY = "miner.factory:app_from_env"


def serve(
    settings_cls: type[S],
    source_builder: SourceBuilder[S],
    app_factory: str,
    argv: Sequence[str] | None,
    description: str,
) -> None:
    """Parse ``settings_cls``, register and serve on the chain, run uvicorn until stopped.

    ``app_factory`` ("module:function") is imported by every uvicorn worker: it must rebuild
    the same service from the environment (``to_env`` of the settings), with the same
    ``source_builder``.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = parse_settings(settings_cls, argv, description)
    wallet_path = settings.wallet_path.expanduser()
    if settings.create_wallet:
        keypair = ensure_wallet(settings.wallet_name, settings.wallet_hotkey, wallet_path)
    else:
        keypair = load_hotkey(settings.wallet_name, settings.wallet_hotkey, wallet_path)
    # Build the source once now: a bad dataset file fails here, not on every request.
    source_builder(settings, keypair.ss58_address)

    chain = open_chain(settings.network, settings.netuid, settings.chain_path)
    uid = chain.register(keypair, coldkey_ss58(settings.wallet_name, wallet_path))
    advertised = settings.external_ip or settings.host
    chain.serve(keypair, advertised, settings.port)
    log.info("uid %d (%s) serving on %s:%d", uid, keypair.ss58_address, advertised, settings.port)

    # The workers share one nonce store: --redis.url, else $REDIS_URL, else an embedded server
    # this process keeps alive (``server``) for as long as uvicorn runs.
    server, redis_url = connect_shared(
        settings.redis_url, embedded_db=settings.ledger_path.parent / "miner-redis.rdb"
    )
    settings = settings.model_copy(update={"redis_url": redis_url})
    os.environ.update(to_env(settings))
    uvicorn.run(
        app_factory,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="warning",
    )
    server.close()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point."""
    serve(MinerSettings, build_source, APP_FACTORY, argv, "Datacomp subnet miner")


if __name__ == "__main__":
    main()
