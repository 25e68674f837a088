"""A real validator round on loopback: LocalChain, real miner services, real Redis, tiny model.

Real miners commit what they serve on the fixture's chain (``ServeTimeBook``). ``RoundNetwork.
run`` commits each online real miner's round data up front, in registration order, before the
round: the earliest-holder order (commitment block, then uid) is then registration order, as
the tests expect, rather than a race between the miners' concurrent serve-time commits.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from bittensor.sp_core import Keypair
from fastapi import FastAPI

from miner.app import MinerContext, create_app
from miner.gate import ValidatorGate
from miner.ledger import Ledger
from miner.manifests import ServeTimeBook
from miner.sources import DataSource, DataSourceError
from protocol.chain.local import LocalChain, LocalParams
from protocol.keys import Keys
from protocol.nonce_store import RedisNonceStore
from tests.support.servers import free_port, serve_in_thread
from validator.evalsets.cot import general_texts
from validator.evalsets.pool import EvalPool
from validator.model.base import TINY_RANDOM
from validator.model.recipe import DEFAULT_RECIPE
from validator.round import RoundContext, run_round
from validator.stages.cot import CotConfig
from validator.stages.registry import StageConfigs
from validator.stages.screening import DedupHistory
from validator.store.leaderboard import LeaderboardStore
from validator.store.outbox import Outbox
from validator.store.records import RoundRecord
from validator.store.state import ValidatorState

# Small on purpose: a round of six miners stays ~20 s on 2 cores; the recipe is the real one.
SAMPLES_PER_MINER = 32
EVAL_ITEMS = 16
# 6 s, not 3: a 64 MiB stream must reach the byte cap before the deadline, and at 3 s on a
# loaded 2-core machine the deadline came first (the cap, not the clock, is what is tested).
PULL_DEADLINE_S = 6.0

# Weight rules that let every test round set weights.
TEST_PARAMS = LocalParams(tempo=1, weights_rate_limit=0)


@dataclass
class MinerSpec:
    """A miner in a test network: a real miner service over ``source``, or any ASGI app."""

    name: str
    source: DataSource | None = None
    app: Any = None  # an ASGI app (a hostile miner) instead of the real service
    online: bool = True


@dataclass
class RoundNetwork:
    """What a round test needs to look at after the round."""

    ctx: RoundContext
    chain: LocalChain
    uids: dict[str, int]
    store: LeaderboardStore
    # The online real miners' books and sources, in registration order.
    books: list[tuple[ServeTimeBook, DataSource]] = field(default_factory=list)

    def precommit(self, round_id: str) -> None:
        """Commit each real miner's data for ``round_id`` now, in registration order.

        Its data: ``samples_per_miner`` samples of every competition with a share that its
        source serves, what the round's pulls will ask for.
        """
        asked = [c for c, share in self.ctx.shares.items() if share > 0]
        for book, source in self.books:
            data = {}
            for competition in asked:
                if competition not in source.competitions():
                    continue
                try:
                    samples = source.samples(competition, self.ctx.samples_per_miner, round_id)
                except DataSourceError:
                    continue  # it will fail the pull the same way
                data[competition] = samples[: self.ctx.samples_per_miner]
            if any(data.values()):
                book.precommit(round_id, data)

    def run(self, round_id: str) -> RoundRecord:
        """``precommit`` the round, then run it (``validator.round.run_round``)."""
        self.precommit(round_id)
        return run_round(self.ctx, round_id)


@contextmanager
def round_network(
    tmp: Path,
    redis_client: redis.Redis,
    keys: Keys,
    model: tuple[Any, Any],
    miners: list[MinerSpec],
    secret: str = "test-secret",
) -> Iterator[RoundNetwork]:
    """Register a validator and ``miners`` (in order) on a fresh chain and serve the miners."""
    chain = LocalChain(tmp / "chain.sqlite", params=TEST_PARAMS)
    validator = Keypair.create_from_uri("//Validator")
    chain.register(validator, validator.ss58_address)
    chain.add_stake(validator.ss58_address, 1000.0)
    uids: dict[str, int] = {}
    books: list[tuple[ServeTimeBook, DataSource]] = []
    with ExitStack() as stack:
        for spec in miners:
            key = Keypair.create_from_uri(f"//Miner/{spec.name}")
            uids[spec.name] = chain.register(key, key.ss58_address)
            if not spec.online:
                chain.serve(key, "127.0.0.1", free_port())
                continue
            app: FastAPI = spec.app
            if app is None:
                assert spec.source is not None, f"{spec.name}: a source or an app"
                book = ServeTimeBook(chain, key)
                books.append((book, spec.source))
                app = create_app(
                    MinerContext(
                        keypair=key,
                        gate=ValidatorGate(chain.metagraph, min_stake=1.0),
                        nonce_store=RedisNonceStore(redis_client, keys),
                        source=spec.source,
                        ledger=Ledger(tmp / "ledgers" / f"{spec.name}.jsonl"),
                        manifests=book,
                    )
                )
            address = stack.enter_context(serve_in_thread(app))
            host, port = address.split(":")
            chain.serve(key, host, int(port))
        store = LeaderboardStore(redis_client, keys)
        ctx = RoundContext(
            keypair=validator,
            chain=chain,
            model=model[0],
            tokenizer=model[1],
            stages=StageConfigs(cot=CotConfig(EvalPool(secret), EVAL_ITEMS, DEFAULT_RECIPE)),
            history=DedupHistory(redis_client, keys),
            outbox=Outbox(tmp / "outbox"),
            store=store,
            state=ValidatorState(),
            state_path=tmp / "state.json",
            run_root=tmp / "runs",
            samples_per_miner=SAMPLES_PER_MINER,
            pull_deadline_s=PULL_DEADLINE_S,
            general_texts=general_texts(),
            progress=False,
            base_model=TINY_RANDOM,  # every caller's model (the records say so, for audits)
        )
        yield RoundNetwork(ctx, chain, uids, store, books)
