"""Pull: query miners concurrently over signed HTTP, within hard limits per miner.

Per miner: one overall deadline for the whole exchange (httpx's read timeout is per chunk, so
a miner dripping a byte a second would never trip it), a byte cap enforced while streaming,
``Accept-Encoding: identity`` with any compressed response refused unread (never decoded: a
gzip bomb costs us nothing), and the response signature checked before the body is parsed.
Any failure is that miner's alone: it comes back as a ``PullResult`` with the reason.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass

import httpx
from bittensor.sp_core import Keypair
from pydantic import ValidationError

from protocol.auth import (
    HEADER_RESPONSE_HOTKEY,
    HEADER_RESPONSE_SIGNATURE,
    BtAuth,
    ResponseBinding,
    ResponseSignatureError,
    verify_response,
)
from protocol.chain.base import Neuron
from protocol.limits import MAX_RESPONSE_BYTES
from protocol.schemas import (
    SUBMISSION_PATH,
    SubmissionRequest,
    SubmissionResponse,
    first_error,
    samples_sha256,
)

# A miner serves pre-built data; 64 samples is well under a megabyte. 12 s covers a slow
# link and a teacher-backed source while keeping a 256-miner round bounded.
DEFAULT_DEADLINE_S = 12.0

# Connections to all miners at once: one per miner up to this, then queued.
MAX_CONCURRENT_PULLS = 64


@dataclass(frozen=True)
class PullResult:
    """What one miner returned, or why it returned nothing usable."""

    uid: int
    hotkey: str
    response: SubmissionResponse | None
    error: str | None
    status: int | None
    body_bytes: int
    body_sha256: str | None
    elapsed_s: float
    request_nonce_ns: int | None
    # A verified response's raw body and its signature headers (what a signed dump keeps).
    body: bytes | None = None
    signature_headers: tuple[tuple[str, str], ...] = ()

    @property
    def ok(self) -> bool:
        """True when a verified, schema-valid response came back."""
        return self.response is not None


class _PullFailed(Exception):
    pass


async def _exchange(
    client: httpx.AsyncClient,
    auth: BtAuth,
    url: str,
    body: bytes,
    max_bytes: int,
) -> tuple[int, httpx.Headers, bytes]:
    async with client.stream(
        "POST",
        url,
        content=body,
        auth=auth,
        headers={"Content-Type": "application/json", "Accept-Encoding": "identity"},
    ) as response:
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding != "identity":
            raise _PullFailed(f"compressed response refused ({encoding})")
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            raise _PullFailed(f"response declares {declared} bytes, over the {max_bytes} cap")
        data = bytearray()
        async for chunk in response.aiter_raw():
            data += chunk
            if len(data) > max_bytes:
                raise _PullFailed(f"response over the {max_bytes}-byte cap")
        return response.status_code, response.headers, bytes(data)


def _verified(
    headers: httpx.Headers, data: bytes, binding: ResponseBinding, request: SubmissionRequest
) -> SubmissionResponse:
    """A 200 body: signed by the miner, schema-valid and an answer to ``request``.

    Raises ``_PullFailed`` with the reason for the first check it fails.
    """
    try:
        verify_response(headers, data, binding)
    except ResponseSignatureError as exc:
        raise _PullFailed(str(exc)) from None
    try:
        parsed = SubmissionResponse.model_validate_json(data)
    except ValidationError as exc:
        raise _PullFailed(f"invalid response: {first_error(exc)}"[:300]) from None
    if parsed.round_id != request.round_id or parsed.competition != request.competition:
        raise _PullFailed("response is for another round or competition")
    if len(parsed.samples) > request.num_samples:
        raise _PullFailed(f"{len(parsed.samples)} samples served, {request.num_samples} asked")
    if parsed.samples_sha256 != samples_sha256(parsed.samples):
        # The manifest is what a miner may commit to ahead of serving; data that does not
        # match its own manifest proves nothing about what the miner committed to.
        raise _PullFailed("samples_sha256 does not match the samples served")
    return parsed


async def pull_one(
    client: httpx.AsyncClient,
    signer: Keypair,
    neuron: Neuron,
    request: SubmissionRequest,
    deadline_s: float = DEFAULT_DEADLINE_S,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> PullResult:
    """One signed exchange with one miner; never raises for anything the miner does."""
    started = time.monotonic()
    auth = BtAuth(signer, neuron.hotkey)

    def failed(reason: str, status: int | None = None, size: int = 0) -> PullResult:
        return PullResult(
            neuron.uid,
            neuron.hotkey,
            None,
            reason,
            status,
            size,
            None,
            time.monotonic() - started,
            auth.last_nonce_ns,
        )

    if not neuron.endpoint:
        return failed("miner serves no endpoint")
    url = f"http://{neuron.endpoint}{SUBMISSION_PATH}"
    body = request.model_dump_json().encode()
    try:
        async with asyncio.timeout(deadline_s):
            status, headers, data = await _exchange(client, auth, url, body, max_bytes)
    except TimeoutError:
        return failed(f"no complete response within {deadline_s:g}s")
    except _PullFailed as exc:
        return failed(str(exc))
    except httpx.HTTPError as exc:
        return failed(f"transport error: {type(exc).__name__}: {exc}".strip(": "))
    if status != 200:
        return failed(f"HTTP {status}", status, len(data))
    binding = ResponseBinding(neuron.hotkey, signer.ss58_address, auth.last_nonce_ns or 0)
    try:
        parsed = _verified(headers, data, binding, request)
    except _PullFailed as exc:
        return failed(str(exc), status, len(data))
    return PullResult(
        neuron.uid,
        neuron.hotkey,
        parsed,
        None,
        status,
        len(data),
        hashlib.sha256(data).hexdigest(),
        time.monotonic() - started,
        auth.last_nonce_ns,
        body=data,
        signature_headers=tuple(
            (name, headers[name])
            for name in (HEADER_RESPONSE_HOTKEY, HEADER_RESPONSE_SIGNATURE)
            if name in headers
        ),
    )


async def pull_all(
    signer: Keypair,
    miners: list[Neuron],
    request: SubmissionRequest,
    deadline_s: float = DEFAULT_DEADLINE_S,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> list[PullResult]:
    """Pull from every miner concurrently; results in the order of ``miners``.

    At most ``MAX_CONCURRENT_PULLS`` exchanges run at once. A request is signed only once it
    holds a slot, and its deadline starts then: httpx signs before it waits for a pooled
    connection, so a request queued behind slow miners would reach its miner past the
    btauth freshness window (10 s) and be refused as stale, costing an honest miner its round.
    """
    limits = httpx.Limits(max_connections=MAX_CONCURRENT_PULLS, max_keepalive_connections=0)
    # The per-chunk timeouts only guard the connect; the overall deadline guards the rest.
    timeout = httpx.Timeout(deadline_s, connect=min(deadline_s, 5.0))
    slots = asyncio.Semaphore(MAX_CONCURRENT_PULLS)

    async def in_slot(client: httpx.AsyncClient, miner: Neuron) -> PullResult:
        async with slots:
            return await pull_one(client, signer, miner, request, deadline_s, max_bytes)

    async with httpx.AsyncClient(limits=limits, timeout=timeout, trust_env=False) as client:
        return list(await asyncio.gather(*(in_slot(client, m) for m in miners)))
