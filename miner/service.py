"""The miner's service wiring: settings, wallet, chain, manifest commitment, Redis, uvicorn.

``serve`` takes the settings class, the data source builder, the manifest mode and the uvicorn
worker factory as parameters: the production miner (``neurons/miner.py``) passes its own (a
committed pool), the local network's contaminator (``localnet/leak_miner.py``) its leaked
source committed at serve time, so the miner knows nothing of it.

Commit before serving: in the pool mode the parent commits the pool's root before uvicorn
starts, so a miner that answers ``/healthz`` has its commitment on chain.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import uvicorn

from miner.factory import POOL, ManifestMode, S, SourceBuilder
from protocol.chain import open_chain
from protocol.cli import parse_settings, to_env
from protocol.redis_conn import connect_shared
from protocol.wallets import coldkey_ss58, ensure_wallet, load_hotkey

log = logging.getLogger("datacomp.miner")


def serve(
    settings_cls: type[S],
    source_builder: SourceBuilder[S],
    app_factory: str,
    argv: Sequence[str] | None,
    description: str,
    mode: ManifestMode = POOL,
) -> None:
    """Parse ``settings_cls``, register and serve on the chain, commit, run uvicorn until stopped.

    ``app_factory`` ("module:function") is imported by every uvicorn worker: it must rebuild
    the same service from the environment (``to_env`` of the settings), with the same
    ``source_builder`` and ``mode``.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = parse_settings(settings_cls, argv, description)
    wallet_path = settings.wallet_path.expanduser()
    if settings.create_wallet:
        keypair = ensure_wallet(settings.wallet_name, settings.wallet_hotkey, wallet_path)
    else:
        keypair = load_hotkey(settings.wallet_name, settings.wallet_hotkey, wallet_path)
    # Build the source once now: a bad dataset file fails here, before any chain write.
    source = source_builder(settings, keypair.ss58_address)

    chain = open_chain(settings.network, settings.netuid, settings.chain_path)
    uid = chain.register(keypair, coldkey_ss58(settings.wallet_name, wallet_path))
    advertised = settings.external_ip or settings.host
    chain.serve(keypair, advertised, settings.port)
    log.info("uid %d (%s) serving on %s:%d", uid, keypair.ss58_address, advertised, settings.port)
    stop_watching = mode.prepare(
        settings, keypair, chain, source, lambda: source_builder(settings, keypair.ss58_address)
    )

    # The workers share one nonce store: --redis.url, else $REDIS_URL, else an embedded server
    # this process keeps alive (``server``) for as long as uvicorn runs.
    server, redis_url = connect_shared(
        settings.redis_url, embedded_db=settings.ledger_path.parent / "miner-redis.rdb"
    )
    settings = settings.model_copy(update={"redis_url": redis_url})
    os.environ.update(to_env(settings))
    try:
        uvicorn.run(
            app_factory,
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level="warning",
        )
    finally:
        stop_watching()
        server.close()
