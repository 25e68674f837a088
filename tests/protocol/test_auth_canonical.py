"""One accepted wire form per signed request: repeats and lenient spellings are refused.

Found by the request fuzz (tests/miner/test_request_fuzz.py): the SDK parses "0"+nonce,
"+"+nonce, upper-case or prefix-less signature hex, and takes the last of a repeated header,
so each of these mutants of a valid request was served.
"""

from __future__ import annotations

import pytest
from bittensor import http_auth
from bittensor.sp_core import Keypair
from starlette.datastructures import Headers

from protocol.auth import verify_request
from protocol.schemas import SUBMISSION_PATH

BODY = b'{"x":1}'


def _signed(bob: Keypair, alice: Keypair) -> dict[str, str]:
    return http_auth.sign(
        bob, method="POST", path=SUBMISSION_PATH, body=BODY, receiver_ss58=alice.ss58_address
    )


def _verify(headers: object, alice: Keypair) -> http_auth.Caller:
    return verify_request(
        headers,  # type: ignore[arg-type]
        BODY,
        method="POST",
        target=SUBMISSION_PATH,
        self_hotkey_ss58=alice.ss58_address,
        nonce_store=http_auth.InMemoryNonceStore(),
    )


def test_the_sdk_spelling_is_accepted(alice: Keypair, bob: Keypair) -> None:
    headers = _signed(bob, alice)
    assert _verify(headers, alice).hotkey_ss58 == bob.ss58_address
    assert _verify(Headers(headers), alice).nonce_ns == int(headers[http_auth.HEADER_NONCE])


@pytest.mark.parametrize(
    "header, respell",
    [
        (http_auth.HEADER_NONCE, lambda v: "0" + v),
        (http_auth.HEADER_NONCE, lambda v: "+" + v),
        (http_auth.HEADER_NONCE, lambda v: v[:3] + "_" + v[3:]),
        (http_auth.HEADER_SIGNATURE, lambda v: v.upper().replace("0X", "0x")),
        (http_auth.HEADER_SIGNATURE, lambda v: v.removeprefix("0x")),
        (http_auth.HEADER_SIGNATURE, lambda v: v[:10] + " " + v[10:]),
    ],
    ids=[
        "nonce-leading-zero",
        "nonce-plus",
        "nonce-underscore",
        "sig-upper",
        "sig-no-prefix",
        "sig-space",
    ],
)
def test_other_spellings_of_the_same_values_are_refused(
    alice: Keypair, bob: Keypair, header: str, respell
) -> None:
    headers = _signed(bob, alice)
    # The SDK alone accepts each of these: the respelling changes no signed byte.
    respelled = headers | {header: respell(headers[header])}
    http_auth.verify(
        respelled,
        BODY,
        method="POST",
        path=SUBMISSION_PATH,
        self_hotkey_ss58=alice.ss58_address,
        nonce_store=http_auth.InMemoryNonceStore(),
    )
    with pytest.raises(http_auth.MalformedAuth, match="is not"):
        _verify(respelled, alice)


@pytest.mark.parametrize(
    "name",
    [
        http_auth.HEADER_NONCE,
        http_auth.HEADER_HOTKEY,
        http_auth.HEADER_RECEIVER,
        http_auth.HEADER_VERSION,
        http_auth.HEADER_SIGNATURE,
    ],
)
def test_a_repeated_auth_header_is_refused_whichever_copy_is_real(
    alice: Keypair, bob: Keypair, name: str
) -> None:
    headers = _signed(bob, alice)
    other = (
        _signed(bob, alice)
        if name in (http_auth.HEADER_NONCE, http_auth.HEADER_SIGNATURE)
        else {name: "junk"}
    )
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    decoy = (name.lower().encode(), other[name].encode())
    at = next(i for i, (k, _) in enumerate(raw) if k == name.lower().encode())
    for position in (at, at + 1):  # before the signed copy (the SDK reads the last), after it
        repeated = Headers(raw=[*raw[:position], decoy, *raw[position:]])
        with pytest.raises(http_auth.MalformedAuth, match="more than once"):
            _verify(repeated, alice)
