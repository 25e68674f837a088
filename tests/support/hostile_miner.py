"""A malicious miner: a raw ASGI app whose every route misbehaves in its own way.

Served by real uvicorn on loopback. Routes are picked by the miner's endpoint path prefix in
tests: each hostile neuron advertises ``127.0.0.1:PORT`` and the test sets the behaviour per
port (one server per behaviour keeps the validator's URL scheme unchanged).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import os
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from bittensor.sp_core import Keypair

from protocol.auth import (
    HEADER_RESPONSE_HOTKEY,
    HEADER_RESPONSE_SIGNATURE,
    ResponseBinding,
    sign_response,
)
from protocol.limits import MAX_RESPONSE_BYTES
from protocol.schemas import Competition, CotSample, SubmissionResponse, samples_sha256
from tests.support.proofs import manifest_fields

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

# How long the slow behaviours hold the connection: longer than any test's pull deadline.
# They stop early when the validator hangs up, so a server shuts down without waiting them out.
STALL_S = 30.0

# Samples in the "huge_json" body: ~9 MiB of valid JSON, under the byte cap (16 MiB) so the
# parser meets it, and far over the schema's 256-sample limit.
HUGE_JSON_SAMPLES = 150_000

# How long the relay waits for the miner it forwards a request to: loopback answers in ms.
RELAY_TIMEOUT_S = 2.0


def honest_body(round_id: str, count: int = 4, competition: str = "cot_sft") -> bytes:
    samples = [
        CotSample(prompt=f"p{i}", chain_of_thought="c", final_answer=str(i)) for i in range(count)
    ]
    return (
        SubmissionResponse(
            competition=competition,
            round_id=round_id,
            samples=samples,
            samples_sha256=samples_sha256(samples),
            **manifest_fields(Competition(competition), samples),
        )
        .model_dump_json()
        .encode()
    )


class HostileMiner:
    """ASGI app: ``behaviour`` names what it does to the validator."""

    def __init__(self, key: Keypair, behaviour: str, signer: Keypair | None = None):
        self.key = key
        self.behaviour = behaviour
        self.signer = signer or key  # sign with another hotkey to impersonate
        # "replay": the first exchange's signed response (headers, body), re-served after it.
        self.captured: tuple[list[tuple[bytes, bytes]], bytes] | None = None
        # "relay": the ``host:port`` the validator's request is forwarded to, and what the
        # forwarded requests got back (HTTP statuses), for the test to look at.
        self.relay_to: str | None = None
        self.relayed: list[int] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        request = json.loads(raw or b"{}")
        round_id = request.get("round_id", "r")
        nonce = int(headers.get("x-bittensor-nonce", "0"))
        validator = headers.get("x-bittensor-hotkey", "")
        if self.behaviour == "relay":
            await self._relay(send, scope, raw)
            return
        act = asyncio.ensure_future(
            getattr(self, "_" + self.behaviour)(send, round_id, nonce, validator)
        )
        gone = asyncio.ensure_future(_hung_up(receive))
        await asyncio.wait({act, gone}, return_when=asyncio.FIRST_COMPLETED)
        gone.cancel()
        if not act.done():  # the validator hung up first: stop dripping into a closed socket
            act.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await act
            return
        act.result()  # re-raise what the behaviour raised (die_midway)

    def _signed(self, body: bytes, nonce: int, validator: str) -> list[tuple[bytes, bytes]]:
        binding = ResponseBinding(self.key.ss58_address, validator, nonce)
        if self.signer.ss58_address != self.key.ss58_address:
            # Impersonation: sign as the other key, claiming to be it.
            binding = ResponseBinding(self.signer.ss58_address, validator, nonce)
        sig = sign_response(self.signer, binding, body)
        return [(k.encode(), v.encode()) for k, v in sig.items()]

    async def _start(
        self, send: Send, headers: list[tuple[bytes, bytes]], status: int = 200
    ) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), *headers],
            }
        )

    async def _honest(self, send: Send, round_id: str, nonce: int, validator: str) -> None:
        body = honest_body(round_id)
        await self._start(send, self._signed(body, nonce, validator))
        await send({"type": "http.response.body", "body": body})

    async def _drip(self, send: Send, round_id: str, nonce: int, validator: str) -> None:
        body = honest_body(round_id)
        await self._start(send, self._signed(body, nonce, validator))
        for byte in body:  # one byte every 0.5 s: each chunk beats a per-read timeout
            await send({"type": "http.response.body", "body": bytes([byte]), "more_body": True})
            await asyncio.sleep(0.5)
        await send({"type": "http.response.body", "body": b""})

    async def _stall(self, send: Send, round_id: str, nonce: int, validator: str) -> None:
        await asyncio.sleep(STALL_S)

    async def _huge(self, send: Send, round_id: str, nonce: int, validator: str) -> None:
        await self._start(send, [])
        chunk = b" " * (1024 * 1024)
        for _ in range(64):  # 64 MiB of whitespace, streamed without a length
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def _gzip_bomb(self, send: Send, round_id: str, nonce: int, validator: str) -> None:
        bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))  # ~64 KiB on the wire, 64 MiB inflated
        await self._start(send, [(b"content-encoding", b"gzip")])
        await send({"type": "http.response.body", "body": bomb})

    async def _garbage(self, send: Send, round_id: str, nonce: int, validator: str) -> None:
        body = b"\xff\xfe not json at all \x00"
        await self._start(send, self._signed(body, nonce, validator))
        await send({"type": "http.response.body", "body": body})

    async def _nested(self, send: Send, round_id: str, nonce: int, validator: str) -> None:
        body = b"[" * 100_000 + b"]" * 100_000
        await self._start(send, self._signed(body, nonce, validator))
        await send({"type": "http.response.body", "body": body})

    async def _unsigned(self, send: Send, round_id: str, nonce: int, validator: str) -> None:
        await self._start(send, [])
        await send({"type": "http.response.body", "body": honest_body(round_id)})

    async def _tampered(self, send: Send, round_id: str, nonce: int, validator: str) -> None:
        signed = self._signed(honest_body(round_id), nonce, validator)
        await self._start(send, signed)
        await send({"type": "http.response.body", "body": honest_body(round_id, count=5)})

    async def _die_midway(self, send: Send, round_id: str, nonce: int, validator: str) -> None:
        body = honest_body(round_id)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(body)).encode()),
                    *self._signed(body, nonce, validator),
                ],
            }
        )
        await send(
            {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
        )
        raise RuntimeError("miner killed mid-response")

    async def _wrong_round(self, send: Send, round_id: str, nonce: int, validator: str) -> None:
        body = honest_body("some-other-round")
        await self._start(send, self._signed(body, nonce, validator))
        await send({"type": "http.response.body", "body": body})

    async def _forged(self, send: Send, round_id: str, nonce: int, validator: str) -> None:
        body = honest_body(round_id)
        forged = {  # the right hotkey, a signature of random bytes
            HEADER_RESPONSE_HOTKEY: self.key.ss58_address,
            HEADER_RESPONSE_SIGNATURE: "0x" + os.urandom(64).hex(),
        }
        await self._start(send, [(k.encode(), v.encode()) for k, v in forged.items()])
        await send({"type": "http.response.body", "body": body})

    async def _bad_utf8(self, send: Send, round_id: str, nonce: int, validator: str) -> None:
        body = honest_body(round_id).replace(b'"c"', b'"\xc3\x28\xff\xfe"')  # not UTF-8
        await self._start(send, self._signed(body, nonce, validator))
        await send({"type": "http.response.body", "body": body})

    async def _huge_json(self, send: Send, round_id: str, nonce: int, validator: str) -> None:
        sample = b'{"prompt":"p","chain_of_thought":"c","final_answer":"1"},'
        samples = b"[" + sample * (HUGE_JSON_SAMPLES - 1) + sample[:-1] + b"]"
        body = (
            b'{"competition":"cot_sft","round_id":'
            + json.dumps(round_id).encode()
            + b',"samples":'
            + samples
            + b',"samples_sha256":"'
            + b"0" * 64
            + b'","manifest_root":"'
            + b"0" * 64
            + b'","manifest_size":1,"proofs":[]}'
        )
        await self._start(send, self._signed(body, nonce, validator))
        await send({"type": "http.response.body", "body": body})

    async def _declared_huge(self, send: Send, round_id: str, nonce: int, validator: str) -> None:
        length = str(4 * MAX_RESPONSE_BYTES).encode()  # says 64 MiB, sends a token of it
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", length)]}
        )
        await send({"type": "http.response.body", "body": b" " * 1024, "more_body": True})
        await asyncio.sleep(STALL_S)

    async def _replay(self, send: Send, round_id: str, nonce: int, validator: str) -> None:
        if self.captured is None:  # the first exchange is honest, and recorded
            body = honest_body(round_id)
            self.captured = (self._signed(body, nonce, validator), body)
        headers, body = self.captured
        await self._start(send, headers)
        await send({"type": "http.response.body", "body": body})

    async def _relay(self, send: Send, scope: Scope, raw: bytes) -> None:
        """Replay the validator's signed request to another miner and pass its answer back."""
        assert self.relay_to is not None, "set relay_to before the round"
        skip = {b"host", b"content-length"}
        headers = [(k.decode(), v.decode()) for k, v in scope["headers"] if k not in skip]
        target = f"http://{self.relay_to}{scope['raw_path'].decode()}"
        async with httpx.AsyncClient(timeout=RELAY_TIMEOUT_S, trust_env=False) as client:
            answer = await client.post(target, content=raw, headers=headers)
        self.relayed.append(answer.status_code)
        passed = [(k.encode(), v.encode()) for k, v in answer.headers.items() if k.startswith("x-")]
        await self._start(send, passed, status=answer.status_code)
        await send({"type": "http.response.body", "body": answer.content})

    async def _server_error(self, send: Send, round_id: str, nonce: int, validator: str) -> None:
        await self._start(send, [], status=500)
        await send({"type": "http.response.body", "body": b"boom"})


async def _hung_up(receive: Receive) -> None:
    """Return once the client disconnects (uvicorn says so through ``receive``)."""
    while (await receive())["type"] != "http.disconnect":
        pass


# Behaviours that need no setup beyond a key, pulled one by one in tests/validator/test_pull.py.
BEHAVIOURS = (
    "drip",
    "stall",
    "huge",
    "gzip_bomb",
    "garbage",
    "nested",
    "unsigned",
    "tampered",
    "die_midway",
    "wrong_round",
    "server_error",
)

# More of the same kind, met in the real round (tests/validator/test_round.py). "replay" and
# "relay" are not here: they need a first exchange or a target, which their tests set up.
MORE_BEHAVIOURS = ("forged", "bad_utf8", "huge_json", "declared_huge")
