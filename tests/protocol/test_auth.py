from __future__ import annotations

import httpx
import pytest
from bittensor import http_auth
from bittensor.sp_core import Keypair

from protocol.auth import (
    BtAuth,
    ResponseBinding,
    ResponseSignatureError,
    sign_response,
    verify_request,
    verify_response,
)
from protocol.schemas import SUBMISSION_PATH


def test_btauth_signs_what_httpx_sends_and_retries_get_fresh_nonces(
    alice: Keypair, bob: Keypair
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    auth = BtAuth(bob, alice.ss58_address)
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        client.post(f"http://m{SUBMISSION_PATH}?a=1%202", content=b'{"x":1}', auth=auth)
        client.post(f"http://m{SUBMISSION_PATH}?a=1%202", content=b'{"x":1}', auth=auth)
    store = http_auth.InMemoryNonceStore()
    nonces = set()
    for request in seen:
        caller = verify_request(
            request.headers,
            request.content,
            method="POST",
            target=request.url.raw_path.decode(),
            self_hotkey_ss58=alice.ss58_address,
            nonce_store=store,
        )
        assert caller.hotkey_ss58 == bob.ss58_address
        nonces.add(caller.nonce_ns)
    assert len(nonces) == 2


def test_ed25519_caller_refused(alice: Keypair) -> None:
    from bittensor.sp_core import CRYPTO_ED25519

    ed = Keypair.create_from_uri("//Ed", CRYPTO_ED25519)
    headers = http_auth.sign(
        ed, method="POST", path="/p", body=b"", receiver_ss58=alice.ss58_address
    )
    with pytest.raises(http_auth.MalformedAuth, match="sr25519"):
        verify_request(
            headers,
            b"",
            method="POST",
            target="/p",
            self_hotkey_ss58=alice.ss58_address,
            nonce_store=http_auth.InMemoryNonceStore(),
        )


def test_response_signature_binds_body_hotkeys_and_nonce(
    alice: Keypair, bob: Keypair, charlie: Keypair
) -> None:
    binding = ResponseBinding(alice.ss58_address, bob.ss58_address, 123)
    headers = sign_response(alice, binding, b"body")
    verify_response(headers, b"body", binding)
    with pytest.raises(ResponseSignatureError, match="does not verify"):
        verify_response(headers, b"body!", binding)
    with pytest.raises(ResponseSignatureError, match="does not verify"):
        verify_response(
            headers, b"body", ResponseBinding(alice.ss58_address, bob.ss58_address, 124)
        )
    with pytest.raises(ResponseSignatureError, match="does not verify"):
        verify_response(
            headers, b"body", ResponseBinding(alice.ss58_address, charlie.ss58_address, 123)
        )
    with pytest.raises(ResponseSignatureError, match="another hotkey"):
        verify_response(
            headers, b"body", ResponseBinding(charlie.ss58_address, bob.ss58_address, 123)
        )
    with pytest.raises(ResponseSignatureError, match="not signed"):
        verify_response({}, b"body", binding)
    with pytest.raises(ResponseSignatureError, match="malformed"):
        verify_response(headers | {"X-Datacomp-Miner-Signature": "0xnothex"}, b"body", binding)
    with pytest.raises(ValueError):
        sign_response(charlie, binding, b"body")
