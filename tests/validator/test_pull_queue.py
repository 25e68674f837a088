"""A miner queued behind slow miners is still served: its request is signed when it is sent.

Found with the malformed-payload storm: ``pull_all`` started every exchange at once, and httpx
signs a request before it waits for one of ``MAX_CONCURRENT_PULLS`` connections. So a request
queued behind 64 miners that stall to the deadline spent its deadline waiting ("no complete
response within 11s"), and with a longer deadline reached the miner older than the btauth
freshness window (10 s) and was refused as stale (HTTP 401). Either way the honest miner lost
its round to miners that did nothing but wait.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import redis
from bittensor.sp_core import Keypair

from protocol.keys import Keys
from protocol.limits import AUTH_MAX_AGE_S
from protocol.schemas import Competition, SubmissionRequest
from tests.support.miner_fixture import neuron, running_miner
from tests.support.servers import serve_in_thread
from validator.pull import MAX_CONCURRENT_PULLS, pull_all

# Longer than the freshness window, so a request signed before the stallers' slots free up
# is stale by the time it is sent.
DEADLINE_S = AUTH_MAX_AGE_S + 1.0


class Staller:
    """ASGI app: reads the request, then answers nothing until the client goes away."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive())["type"] != "http.disconnect":
            pass


def test_a_miner_queued_behind_stalling_miners_is_served(
    tmp_path: Path, redis_client: redis.Redis, keys: Keys, bob: Keypair
) -> None:
    honest_key = Keypair.create_from_uri("//Honest")
    request = SubmissionRequest(competition=Competition.COT_SFT, round_id="queued", num_samples=4)
    with (
        running_miner(
            honest_key,
            [neuron(0, bob, permit=True, stake=100.0)],
            redis_client,
            keys,
            tmp_path / "l.jsonl",
        ) as (honest_address, _),
        serve_in_thread(Staller()) as stall_address,  # type: ignore[arg-type]
    ):
        stallers = [
            neuron(
                uid,
                Keypair.create_from_uri(f"//Staller/{uid}"),
                permit=False,
                stake=0.0,
                endpoint=stall_address,
            )
            for uid in range(1, MAX_CONCURRENT_PULLS + 1)
        ]
        honest = neuron(0, honest_key, permit=False, stake=0.0, endpoint=honest_address)
        results = asyncio.run(pull_all(bob, [*stallers, honest], request, deadline_s=DEADLINE_S))
    *stalled, served = results
    assert all(not r.ok and "within" in (r.error or "") for r in stalled)
    assert served.ok, served.error
    assert served.response is not None and len(served.response.samples) == 4
