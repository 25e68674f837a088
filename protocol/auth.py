"""Signing on the wire: btauth/1 requests (validator -> miner) and signed response bodies.

Requests use bittensor's own ``http_auth``: signed inside ``httpx.Auth.auth_flow`` over the
exact target and body httpx sends, bound to the receiving miner's hotkey. The protocol does
not sign responses, so a miner signs its body itself (``sign_response``): the signature covers
the body hash, both hotkeys and the request's nonce, which binds the miner to exactly what it
served to that request — a response replayed to another request, or re-signed by another
hotkey, fails ``verify_response``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Generator, Mapping
from dataclasses import dataclass

import httpx
from bittensor import http_auth
from bittensor.sp_core import CRYPTO_SR25519, Keypair
from bittensor.sp_core import verify as sp_verify

from protocol.limits import AUTH_ALLOWED_SKEW_S, AUTH_MAX_AGE_S

RESPONSE_PROTOCOL = "datacomp-response/1"
HEADER_RESPONSE_HOTKEY = "X-Datacomp-Miner-Hotkey"
HEADER_RESPONSE_SIGNATURE = "X-Datacomp-Miner-Signature"


# The one spelling of each value-carrying btauth/1 header that the SDK's ``http_auth.sign``
# emits. The SDK's parser is lenient (``int`` takes "+1", "01", "1_0"; ``bytes.fromhex`` takes
# upper case and spaces, and "0x" is optional), so without this one signed request has many
# accepted wire forms, and a header repeated with two values is silently read as the last.
_CANONICAL = {
    http_auth.HEADER_NONCE.lower(): (
        re.compile(r"0|[1-9][0-9]*"),
        "a decimal integer without sign or leading zeros",
    ),
    http_auth.HEADER_SIGNATURE.lower(): (
        re.compile(r"0x[0-9a-f]{128}"),  # a 64-byte signature
        "0x and 128 lowercase hex digits",
    ),
}
_AUTH_HEADERS = frozenset(
    name.lower()
    for name in (
        http_auth.HEADER_VERSION,
        http_auth.HEADER_HOTKEY,
        http_auth.HEADER_RECEIVER,
        http_auth.HEADER_NONCE,
        http_auth.HEADER_CRYPTO,
        http_auth.HEADER_SIGNATURE,
    )
)


class ResponseSignatureError(Exception):
    """A miner's response is unsigned, signed by the wrong hotkey, or does not verify."""


class BtAuth(httpx.Auth):
    """httpx auth that signs each request (btauth/1) for one receiving hotkey.

    Signing happens per send, so a retry gets a fresh nonce (a re-sent nonce is refused as a
    replay). The signed target is the raw path plus query exactly as httpx puts it on the wire.
    """

    requires_request_body = True

    def __init__(self, signer: Keypair, receiver_ss58: str):
        self._signer = signer
        self._receiver = receiver_ss58
        self.last_nonce_ns: int | None = None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the btauth/1 headers to ``request``."""
        headers = http_auth.sign(
            self._signer,
            method=request.method,
            path=request.url.raw_path.decode("ascii"),
            body=request.content,
            receiver_ss58=self._receiver,
        )
        self.last_nonce_ns = int(headers[http_auth.HEADER_NONCE])
        request.headers.update(headers)
        yield request


def verify_request(
    headers: Mapping[str, str],
    body: bytes,
    *,
    method: str,
    target: str,
    self_hotkey_ss58: str,
    nonce_store: http_auth.NonceStore,
) -> http_auth.Caller:
    """Verify a btauth/1 request; sr25519 only. Raises ``http_auth.AuthError`` subclasses.

    ``target`` is the raw path plus ``?query`` as received (not percent-decoded). Stricter
    than the SDK on the wire form: each btauth header at most once (``headers.items()`` must
    list repeats, as Starlette's do), nonce and signature in their canonical spelling.
    """
    seen: set[str] = set()
    for name, value in headers.items():
        lowered = name.lower()
        if lowered not in _AUTH_HEADERS:
            continue
        if lowered in seen:
            raise http_auth.MalformedAuth(f"{name} appears more than once")
        seen.add(lowered)
        canonical = _CANONICAL.get(lowered)
        if canonical is not None and not canonical[0].fullmatch(value):
            raise http_auth.MalformedAuth(f"{name} is not {canonical[1]}")
    caller = http_auth.verify(
        headers,
        body,
        method=method,
        path=target,
        self_hotkey_ss58=self_hotkey_ss58,
        max_age=AUTH_MAX_AGE_S,
        allowed_skew=AUTH_ALLOWED_SKEW_S,
        nonce_store=nonce_store,
    )
    if caller.crypto_type != CRYPTO_SR25519:
        # Hotkeys on chain are sr25519; an ed25519 caller cannot be a registered validator.
        raise http_auth.MalformedAuth("only sr25519 hotkeys are accepted")
    return caller


@dataclass(frozen=True)
class ResponseBinding:
    """What a response signature commits to besides the body."""

    miner_hotkey: str
    validator_hotkey: str
    request_nonce_ns: int


def _response_payload(binding: ResponseBinding, body: bytes) -> bytes:
    return "\n".join(
        (
            RESPONSE_PROTOCOL,
            binding.miner_hotkey,
            binding.validator_hotkey,
            str(binding.request_nonce_ns),
            hashlib.sha256(body).hexdigest(),
        )
    ).encode()


def sign_response(signer: Keypair, binding: ResponseBinding, body: bytes) -> dict[str, str]:
    """Headers that bind ``signer`` (the miner) to ``body`` as its answer to one request."""
    if signer.ss58_address != binding.miner_hotkey:
        raise ValueError("the response must be signed by the miner's own hotkey")
    signature = bytes(signer.sign(_response_payload(binding, body)))
    return {
        HEADER_RESPONSE_HOTKEY: binding.miner_hotkey,
        HEADER_RESPONSE_SIGNATURE: "0x" + signature.hex(),
    }


def verify_response(headers: Mapping[str, str], body: bytes, binding: ResponseBinding) -> None:
    """Check a response was signed by ``binding.miner_hotkey`` for this request and body."""
    lowered = {k.lower(): v for k, v in headers.items()}
    hotkey = lowered.get(HEADER_RESPONSE_HOTKEY.lower())
    raw_signature = lowered.get(HEADER_RESPONSE_SIGNATURE.lower())
    if not hotkey or not raw_signature:
        raise ResponseSignatureError("response is not signed")
    if hotkey != binding.miner_hotkey:
        raise ResponseSignatureError("response is signed by another hotkey than the miner's")
    try:
        signature = bytes.fromhex(raw_signature.removeprefix("0x"))
        valid = sp_verify(_response_payload(binding, body), signature, hotkey, CRYPTO_SR25519)
    except ValueError:
        raise ResponseSignatureError("response signature is malformed") from None
    if not valid:
        raise ResponseSignatureError("response signature does not verify")
