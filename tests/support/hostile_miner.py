"""A malicious miner: a raw ASGI app whose every route misbehaves in its own way.

Served by real uvicorn on loopback. Routes are picked by the miner's endpoint path prefix in
tests: each hostile neuron advertises ``127.0.0.1:PORT`` and the test sets the behaviour per
port (one server per behaviour keeps the validator's URL scheme unchanged).
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Awaitable, Callable
from typing import Any

from bittensor.sp_core import Keypair

from protocol.auth import ResponseBinding, sign_response
from protocol.schemas import CotSample, SubmissionResponse, manifest_sha256

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

# How long the slow behaviours hold the connection: longer than any test's pull deadline.
STALL_S = 30.0


def honest_body(round_id: str, count: int = 4, competition: str = "cot_sft") -> bytes:
    samples = [CotSample(prompt=f"p{i}", chain_of_thought="c", final_answer=str(i)) for i in range(count)]
    return SubmissionResponse(
        competition=competition,  # type: ignore[arg-type]
        round_id=round_id,
        samples=samples,
        manifest_sha256=manifest_sha256(samples),
    ).model_dump_json().encode()


class HostileMiner:
    """ASGI app: ``behaviour`` names what it does to the validator."""

    def __init__(self, key: Keypair, behaviour: str, signer: Keypair | None = None):
        self.key = key
        self.behaviour = behaviour
        self.signer = signer or key  # sign with another hotkey to impersonate

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
        await getattr(self, "_" + self.behaviour)(send, round_id, nonce, validator)

    def _signed(self, body: bytes, nonce: int, validator: str) -> list[tuple[bytes, bytes]]:
        binding = ResponseBinding(self.key.ss58_address, validator, nonce)
        if self.signer.ss58_address != self.key.ss58_address:
            # Impersonation: sign as the other key, claiming to be it.
            binding = ResponseBinding(self.signer.ss58_address, validator, nonce)
        sig = sign_response(self.signer, binding, body)
        return [(k.encode(), v.encode()) for k, v in sig.items()]

    async def _start(self, send: Send, headers: list[tuple[bytes, bytes]], status: int = 200) -> None:
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json"), *headers]})

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
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", str(len(body)).encode()), *self._signed(body, nonce, validator)]})
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        raise RuntimeError("miner killed mid-response")

    async def _wrong_round(self, send: Send, round_id: str, nonce: int, validator: str) -> None:
        body = honest_body("some-other-round")
        await self._start(send, self._signed(body, nonce, validator))
        await send({"type": "http.response.body", "body": body})

    async def _server_error(self, send: Send, round_id: str, nonce: int, validator: str) -> None:
        await self._start(send, [], status=500)
        await send({"type": "http.response.body", "body": b"boom"})


BEHAVIOURS = (
    "drip", "stall", "huge", "gzip_bomb", "garbage", "nested", "unsigned", "tampered",
    "die_midway", "wrong_round", "server_error",
)
