"""Pull against a malicious miner fixture: each attack costs only the attacker its round."""

from __future__ import annotations

import asyncio
import time
from contextlib import ExitStack

import pytest
import uvicorn
from bittensor.sp_core import Keypair

from protocol.schemas import Competition, SubmissionRequest
from tests.support.hostile_miner import BEHAVIOURS, HostileMiner
from tests.support.miner_fixture import neuron
from tests.support.servers import free_port
from validator.pull import pull_all

# The pull deadline in these tests: short, so the slow attacks resolve quickly.
DEADLINE_S = 2.0


def _serve(app: HostileMiner, stack: ExitStack) -> str:
    import threading

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        server.force_exit = True
        thread.join(timeout=5)

    stack.callback(stop)
    return f"127.0.0.1:{port}"


def test_every_attack_fails_alone_and_honest_miner_is_served(bob: Keypair) -> None:
    request = SubmissionRequest(competition=Competition.COT_SFT, round_id="round-7", num_samples=4)
    keys = {b: Keypair.create_from_uri(f"//Hostile/{b}") for b in BEHAVIOURS}
    honest_key = Keypair.create_from_uri("//Honest")
    with ExitStack() as stack:
        miners = [
            neuron(
                0,
                honest_key,
                permit=False,
                stake=0,
                endpoint=_serve(HostileMiner(honest_key, "honest"), stack),
            )
        ]
        for uid, behaviour in enumerate(BEHAVIOURS, start=1):
            app = HostileMiner(keys[behaviour], behaviour)
            miners.append(
                neuron(uid, keys[behaviour], permit=False, stake=0, endpoint=_serve(app, stack))
            )
        impostor_key = Keypair.create_from_uri("//Impostor")
        impostor = HostileMiner(impostor_key, "honest", signer=honest_key)
        miners.append(
            neuron(
                len(miners), impostor_key, permit=False, stake=0, endpoint=_serve(impostor, stack)
            )
        )
        miners.append(
            neuron(
                len(miners),
                Keypair.create_from_uri("//Offline"),
                permit=False,
                stake=0,
                endpoint=f"127.0.0.1:{free_port()}",
            )
        )

        started = time.monotonic()
        results = asyncio.run(
            pull_all(bob, miners, request, deadline_s=DEADLINE_S, max_bytes=1024 * 1024)
        )
        elapsed = time.monotonic() - started

    by_uid = {r.uid: r for r in results}
    assert by_uid[0].ok and by_uid[0].response is not None and len(by_uid[0].response.samples) == 4
    expected = {
        "drip": "within",
        "stall": "within",
        "huge": "cap",
        "gzip_bomb": "compressed",
        "garbage": "invalid response",
        "nested": "invalid response",
        "unsigned": "not signed",
        "tampered": "does not verify",
        "die_midway": "transport error",
        "wrong_round": "another round",
        "server_error": "HTTP 500",
    }
    for uid, behaviour in enumerate(BEHAVIOURS, start=1):
        result = by_uid[uid]
        assert not result.ok, behaviour
        assert result.error is not None and expected[behaviour] in result.error, (
            behaviour,
            result.error,
        )
    assert "another hotkey" in (by_uid[len(BEHAVIOURS) + 1].error or "")
    assert "transport error" in (by_uid[len(BEHAVIOURS) + 2].error or "")
    # Concurrent: the whole round is bounded by one deadline, not one per slow miner.
    assert elapsed < DEADLINE_S * 3


def test_miner_without_endpoint(bob: Keypair) -> None:
    request = SubmissionRequest(competition=Competition.COT_SFT, round_id="r", num_samples=1)
    [result] = asyncio.run(
        pull_all(
            bob, [neuron(3, Keypair.create_from_uri("//Nowhere"), permit=False, stake=0)], request
        )
    )
    assert result.error == "miner serves no endpoint"


@pytest.mark.parametrize("count", [1, 4])
def test_over_asked_count_is_refused(bob: Keypair, count: int) -> None:
    key = Keypair.create_from_uri("//Greedy")
    request = SubmissionRequest(competition=Competition.COT_SFT, round_id="r", num_samples=count)
    with ExitStack() as stack:
        endpoint = _serve(HostileMiner(key, "honest"), stack)  # always serves 4
        [result] = asyncio.run(
            pull_all(bob, [neuron(0, key, permit=False, stake=0, endpoint=endpoint)], request)
        )
    assert result.ok == (count == 4)
