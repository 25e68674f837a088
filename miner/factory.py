"""Builds a miner's service from its settings; also the uvicorn worker factory.

Each uvicorn worker process calls ``app_from_env``: settings come from ``DATACOMP_MINER_*``
variables the entry point exported, the replay guard from the shared Redis at ``redis_url``
(so a nonce accepted by one worker is refused by every other).

The data source is a parameter of ``build_context`` (``source_builder``; by default
``build_source``, the source the settings name), so another program can serve its own source
on the same wiring: it passes its builder here and to ``miner.service.serve``, with a worker
factory of its own (as the local network's contaminator does, ``localnet/leak_miner.py``).

So is the way a miner commits what it serves (``ManifestMode``, see ``miner/manifests.py``):
``POOL``, the production mode, has the parent process build a fixed pool from the source,
commit its root and write it to the manifest file before uvicorn starts, and every worker
serve a per-round selection of that pool; ``SERVE_TIME`` has each worker serve the source
itself and commit each round's data as it serves it (the contaminator: its data exists only
once the round is known).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol, TypeVar

from bittensor.sp_core import Keypair
from fastapi import FastAPI

from miner.app import MinerContext, create_app
from miner.config import MinerSettings
from miner.gate import ValidatorGate
from miner.ledger import Ledger
from miner.manifests import (
    WATCH_INTERVAL_S,
    ManifestBook,
    PoolBook,
    PoolRefresher,
    PoolSource,
    ServeTimeBook,
    build_pool,
    ensure_committed,
    write_manifest,
)
from miner.sources import DataSource, FileSource, GeneratorSource
from miner.teacher import TeacherSource
from protocol.chain import Chain, open_chain
from protocol.keys import Keys
from protocol.manifest import Manifest
from protocol.nonce_store import RedisNonceStore
from protocol.redis_conn import connect
from protocol.wallets import load_hotkey

log = logging.getLogger("datacomp.miner")

S = TypeVar("S", bound=MinerSettings)

# Settings and the miner's hotkey address -> the data source it serves.
SourceBuilder = Callable[[S, str], DataSource]


class ManifestMode(Protocol):
    """How a miner commits what it serves: once in the parent, then in every worker."""

    def prepare(
        self,
        settings: MinerSettings,
        keypair: Keypair,
        chain: Chain,
        source: DataSource,
        rebuild: Callable[[], DataSource],
    ) -> Callable[[], None]:
        """In the parent, registered and before uvicorn: commit; returns what stops it after.

        ``source`` is the source built at start, ``rebuild`` builds it afresh.
        """
        ...

    def open(
        self,
        settings: MinerSettings,
        keypair: Keypair,
        chain: Chain,
        build_source: Callable[[], DataSource],
    ) -> tuple[DataSource, ManifestBook]:
        """In each worker: the source it serves and the book that proves it."""
        ...


def _nothing() -> None:
    pass


class PoolMode:
    """The production mode: a committed pool in the manifest file (``settings.manifest_file``).

    The parent builds the pool (``settings.pool_size`` per competition), commits its root
    unless the chain holds it already, then writes the file; with ``--source file`` it also
    watches the dataset and refreshes the pool when it changes (``PoolRefresher``: commit,
    then swap). Workers serve a per-round selection of the file's pool (``PoolSource``, seeded
    like the sources) and prove against it (``PoolBook``). ``watch_interval_s``: how often the
    dataset is looked at.
    """

    def __init__(self, watch_interval_s: float = WATCH_INTERVAL_S):
        self.watch_interval_s = watch_interval_s

    def prepare(
        self,
        settings: MinerSettings,
        keypair: Keypair,
        chain: Chain,
        source: DataSource,
        rebuild: Callable[[], DataSource],
    ) -> Callable[[], None]:
        """Build, commit and write the pool; start the dataset watcher for ``--source file``."""

        def pool_of(source: DataSource) -> Manifest:
            return build_pool(source, source.competitions(), settings.pool_size)

        manifest = pool_of(source)
        commitment = ensure_committed(chain, keypair, manifest)  # first: workers load the file
        write_manifest(settings.manifest_file, manifest)
        log.info(
            "manifest root %s (%d samples) committed at block %d; pool in %s",
            manifest.root,
            manifest.size,
            commitment.block,
            settings.manifest_file,
        )
        if settings.source != "file" or settings.data is None:
            return _nothing
        refresher = PoolRefresher(
            settings.data,
            lambda: pool_of(rebuild()),
            chain,
            keypair,
            settings.manifest_file,
            self.watch_interval_s,
        )
        refresher.start()
        return refresher.stop

    def open(
        self,
        settings: MinerSettings,
        keypair: Keypair,
        chain: Chain,
        build_source: Callable[[], DataSource],
    ) -> tuple[DataSource, ManifestBook]:
        """The pool the parent wrote (loaded now: a missing file fails the worker's start)."""
        book = PoolBook(settings.manifest_file, chain, keypair)
        book.manifest()
        return PoolSource(book.manifest, settings.generator_seed or keypair.ss58_address), book


class ServeTimeMode:
    """For data that depends on the round: each worker commits the round's data as it serves.

    Races when validators ask for different data in one round (see ``ServeTimeBook``): a
    simulation's mode (the local network's contaminator), not a production miner's.
    """

    def prepare(
        self,
        settings: MinerSettings,
        keypair: Keypair,
        chain: Chain,
        source: DataSource,
        rebuild: Callable[[], DataSource],
    ) -> Callable[[], None]:
        """Nothing to commit before the first round."""
        log.info("commits each round's data as it serves it (serve-time manifests)")
        return _nothing

    def open(
        self,
        settings: MinerSettings,
        keypair: Keypair,
        chain: Chain,
        build_source: Callable[[], DataSource],
    ) -> tuple[DataSource, ManifestBook]:
        """The source itself, and a serve-time book over the chain."""
        return build_source(), ServeTimeBook(chain, keypair)


POOL = PoolMode()
SERVE_TIME = ServeTimeMode()


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


def build_context(
    settings: S, source_builder: SourceBuilder[S] = build_source, mode: ManifestMode = POOL
) -> MinerContext:
    """Everything the service needs: keys, chain-backed gate, Redis replay guard, source, book."""
    keypair = load_hotkey(
        settings.wallet_name, settings.wallet_hotkey, settings.wallet_path.expanduser()
    )
    chain = open_chain(settings.network, settings.netuid, settings.chain_path)
    redis_client = connect(settings.redis_url)
    source, book = mode.open(
        settings, keypair, chain, lambda: source_builder(settings, keypair.ss58_address)
    )
    return MinerContext(
        keypair=keypair,
        gate=ValidatorGate(chain.metagraph, settings.min_validator_stake),
        nonce_store=RedisNonceStore(
            redis_client, Keys.for_network(settings.network, settings.netuid)
        ),
        source=source,
        ledger=Ledger(settings.ledger_path),
        manifests=book,
    )


def app_from_env() -> FastAPI:
    """Uvicorn factory: the app from ``DATACOMP_MINER_*`` environment variables."""
    return create_app(build_context(MinerSettings()))
