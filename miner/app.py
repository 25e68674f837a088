"""The miner's HTTP service: one signed submissions endpoint and a health check.

Order of checks on ``POST /v1/submission`` — nothing is parsed before the caller is known:
1. transfer: identity encoding only (415), a body within ``MAX_REQUEST_BYTES`` (413);
2. authentication: btauth/1 over the raw body and raw target, bound to this miner (400/401);
3. authorisation: a registered validator with a permit and enough stake (403);
4. the request itself: JSON of the request schema (422), a competition served here (404);
5. samples from the source, proved against the manifest root committed on chain (the book
   commits first if the chain lacks it: ``miner/manifests.py``), ledger line written, body
   signed, served. A source or a commitment that fails is a 503 with a reason.
Every refusal is a 4xx with a reason; the server keeps serving.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from bittensor import http_auth
from bittensor.sp_core import Keypair
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from miner.gate import ValidatorGate
from miner.ledger import Ledger, LedgerEntry
from miner.manifests import ManifestBook, ProvenSamples
from miner.sources import DataSource, DataSourceError, Sample
from protocol.auth import ResponseBinding, sign_response, verify_request
from protocol.chain.base import ChainError
from protocol.limits import MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES
from protocol.schemas import (
    SUBMISSION_PATH,
    SubmissionRequest,
    SubmissionResponse,
    first_error,
    sample_sha256,
    samples_sha256,
)

log = logging.getLogger(__name__)


@dataclass
class MinerContext:
    """Everything the service needs, built by the entry point."""

    keypair: Keypair
    gate: ValidatorGate
    nonce_store: http_auth.NonceStore
    source: DataSource
    ledger: Ledger
    manifests: ManifestBook  # proves what is served against the root committed on chain


class _Refused(Exception):
    def __init__(self, status: int, reason: str):
        self.status = status
        self.reason = reason


async def _read_capped(request: Request, cap: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise _Refused(400, "content-length is not a number")
        if int(declared) > cap:
            raise _Refused(413, f"request body over {cap} bytes")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > cap:
                raise _Refused(413, f"request body over {cap} bytes")
    except ClientDisconnect:
        # Less body than declared, then end of input: a refusal, not a server error.
        raise _Refused(400, "request body ended before its declared length") from None
    return bytes(body)


def _raw_target(request: Request) -> str:
    raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode()
    query: bytes = request.scope.get("query_string", b"")
    return (raw_path + (b"?" + query if query else b"")).decode("latin-1")


def _auth_status(error: http_auth.AuthError) -> int:
    return 400 if isinstance(error, http_auth.MalformedAuth) else 401


async def _admitted(request: Request, ctx: MinerContext) -> tuple[bytes, http_auth.Caller]:
    """Steps 1-3: the raw body and its caller, a validator allowed to ask; else ``_Refused``."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding != "identity":
        raise _Refused(415, "request bodies must not be compressed")
    body = await _read_capped(request, MAX_REQUEST_BYTES)
    try:
        caller = verify_request(
            request.headers,
            body,
            method=request.method,
            target=_raw_target(request),
            self_hotkey_ss58=ctx.keypair.ss58_address,
            nonce_store=ctx.nonce_store,
        )
    except http_auth.AuthError as exc:
        raise _Refused(_auth_status(exc), str(exc)) from None
    denied = await run_in_threadpool(ctx.gate.check, caller.hotkey_ss58)
    if denied is not None:
        raise _Refused(403, denied.reason)
    return body, caller


def _parsed(body: bytes, ctx: MinerContext) -> SubmissionRequest:
    """Step 4: the request, of a competition served here; else ``_Refused``."""
    try:
        req = SubmissionRequest.model_validate_json(body)
    except ValidationError as exc:
        raise _Refused(422, first_error(exc)) from None
    if req.competition not in ctx.source.competitions():
        raise _Refused(404, f"this miner does not serve {req.competition.value}")
    return req


async def _served(ctx: MinerContext, req: SubmissionRequest) -> tuple[list[Sample], ProvenSamples]:
    """Step 5's data: the samples and their proofs (in the threadpool: both may block)."""
    try:
        samples = await run_in_threadpool(
            ctx.source.samples, req.competition, req.num_samples, req.round_id
        )
        samples = samples[: req.num_samples]
        proven = await run_in_threadpool(
            ctx.manifests.prove, req.competition, samples, req.round_id
        )
    except DataSourceError as exc:
        log.error("data source failed: %s", exc)
        raise _Refused(503, "data source unavailable") from None
    except ChainError as exc:
        log.error("manifest commitment failed: %s", exc)
        raise _Refused(503, f"manifest not committed on chain ({type(exc).__name__})") from None
    return samples, proven


def create_app(ctx: MinerContext) -> FastAPI:
    """The miner's FastAPI application over ``ctx``."""
    # No slash redirects: a signed target is exact, so "/v1/submission/" is a 404, not a 307.
    app = FastAPI(
        title="Datacomp miner", version="1", docs_url=None, redoc_url=None, redirect_slashes=False
    )

    @app.exception_handler(_Refused)
    async def _refused(_: Request, exc: _Refused) -> JSONResponse:
        return JSONResponse({"detail": exc.reason}, status_code=exc.status)

    @app.get("/healthz")
    async def healthz() -> dict[str, object]:
        return {
            "status": "ok",
            "hotkey": ctx.keypair.ss58_address,
            "competitions": [c.value for c in ctx.source.competitions()],
        }

    @app.post(SUBMISSION_PATH)
    async def submission(request: Request) -> Response:
        body, caller = await _admitted(request, ctx)
        req = _parsed(body, ctx)
        samples, proven = await _served(ctx, req)
        response = SubmissionResponse(
            competition=req.competition,
            round_id=req.round_id,
            samples=samples,
            samples_sha256=samples_sha256(samples),  # type: ignore[arg-type]
            manifest_root=proven.manifest_root,
            manifest_size=proven.manifest_size,
            proofs=proven.proofs,
        )
        payload = response.model_dump_json().encode()
        if len(payload) > MAX_RESPONSE_BYTES:
            raise _Refused(503, "the samples exceed the response size limit")
        binding = ResponseBinding(
            miner_hotkey=ctx.keypair.ss58_address,
            validator_hotkey=caller.hotkey_ss58,
            request_nonce_ns=caller.nonce_ns,
        )
        entry = LedgerEntry(
            served_at=Ledger.now(),
            validator_hotkey=caller.hotkey_ss58,
            request_nonce_ns=caller.nonce_ns,
            round_id=req.round_id,
            competition=req.competition.value,
            num_samples=len(samples),
            samples_sha256=response.samples_sha256,
            manifest_root=proven.manifest_root,
            body_sha256=hashlib.sha256(payload).hexdigest(),
            sample_sha256=[sample_sha256(s) for s in samples],
        )
        await run_in_threadpool(ctx.ledger.append, entry)
        headers = sign_response(ctx.keypair, binding, payload)
        return Response(content=payload, media_type="application/json", headers=headers)

    return app
