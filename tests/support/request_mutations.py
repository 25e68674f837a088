"""Seeded mutations of valid btauth/1-signed miner requests, for the request fuzz test.

Each mutant starts from a fresh, valid signed request (signed for the miner, by a validator
with permit and stake) and changes one thing that the miner must refuse: a byte of the body,
of a signed header or of the target; a header swapped in from another valid request or
repeated; the clock; the signer; the framing. ``Mutator(seed).make(i)`` is a pure function
of ``(seed, i)`` apart from the wall-clock nonce, so a failing mutant can be regenerated from
the two numbers the test prints.

Not mutations (they change no byte the miner authenticates, so they are never generated):
whitespace added around a header value (HTTP strips it), an empty ``?`` after the path (ASGI
has no way to tell an empty query from none). Everything else a byte edit produces counts.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bittensor import http_auth
from bittensor.sp_core import CRYPTO_ED25519, Keypair

from protocol.limits import MAX_REQUEST_BYTES
from protocol.schemas import SUBMISSION_PATH
from tests.support.raw_http import render

Headers = list[tuple[bytes, bytes]]

AUTH_HEADERS = (
    http_auth.HEADER_VERSION,
    http_auth.HEADER_HOTKEY,
    http_auth.HEADER_NONCE,
    http_auth.HEADER_SIGNATURE,
    http_auth.HEADER_RECEIVER,
)

# Outside the miner's freshness window (10 s back, 2 s ahead) with a margin for slow sends.
STALE_MIN_S = 11.0
FUTURE_MIN_S = 3.0


@dataclass(frozen=True)
class Mutant:
    """One mutated request, and what it takes to send it."""

    index: int
    kind: str
    detail: str
    wire: bytes
    fresh: bool = False  # framing attack: its own connection
    half_close: bool = False  # declared more body than sent: end our side, read what comes
    prelude: bytes | None = None  # a valid request sent first (for replays); must get 200
    expect: frozenset[int] = field(default_factory=frozenset)  # exact statuses, if known


@dataclass(frozen=True)
class _Built:
    """What a mutation builder returns; ``Mutator.make`` adds the index and kind."""

    detail: str
    wire: bytes
    fresh: bool = False
    half_close: bool = False
    prelude: bytes | None = None
    expect: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Signed:
    """A valid signed request, before rendering."""

    body: bytes
    auth: Headers  # the btauth/1 headers, in signing order

    def headers(self) -> Headers:
        return [(b"Content-Type", b"application/json"), *self.auth]

    def wire(self) -> bytes:
        return render(b"POST", SUBMISSION_PATH.encode(), self.headers(), self.body)


def _as_bytes(headers: dict[str, str]) -> Headers:
    return [(k.encode(), v.encode()) for k, v in headers.items()]


def _value(headers: Headers, name: str) -> bytes:
    return next(v for k, v in headers if k.lower() == name.lower().encode())


def _replace(headers: Headers, name: str, value: bytes) -> Headers:
    return [(k, value if k.lower() == name.lower().encode() else v) for k, v in headers]


def edit_bytes(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One byte-level edit of ``data``: flip a bit, insert a byte or delete a byte."""
    op = rng.choice(("flip", "insert", "delete") if data else ("insert",))
    if op == "flip":
        i, bit = rng.randrange(len(data)), 1 << rng.randrange(8)
        return data[:i] + bytes([data[i] ^ bit]) + data[i + 1 :], f"flip bit {bit:#04x} of byte {i}"
    if op == "insert":
        i, byte = rng.randrange(len(data) + 1), rng.randrange(256)
        return data[:i] + bytes([byte]) + data[i:], f"insert {byte:#04x} at {i}"
    i = rng.randrange(len(data))
    return data[:i] + data[i + 1 :], f"delete byte {i}"


class Mutator:
    """Mutants of requests from ``signer`` to ``receiver``; ``others`` sign the impostors."""

    def __init__(
        self,
        seed: int,
        signer: Keypair,
        receiver: Keypair,
        unpermitted: Keypair,
        stranger: Keypair,
    ):
        self.seed = seed
        self.signer = signer
        self.receiver = receiver
        self.unpermitted = unpermitted
        self.stranger = stranger
        self.ed25519 = Keypair.create_from_uri("//FuzzEd25519", CRYPTO_ED25519)
        self._kinds: list[tuple[str, Callable[[random.Random], _Built]]] = [
            ("body", self._body),
            ("body", self._body),
            ("header", self._header),
            ("header", self._header),
            ("header", self._header),
            ("header-dropped", self._header_dropped),
            ("header-duplicated", self._header_duplicated),
            ("header-swapped", self._header_swapped),
            ("target", self._target),
            ("method", self._method),
            ("clock", self._clock),
            ("signer", self._signer),
            ("framing", self._framing),
            ("transfer", self._transfer),
        ]

    # ---- valid requests -------------------------------------------------------------------

    def valid(
        self,
        rng: random.Random,
        *,
        signer: Keypair | None = None,
        receiver: str | None = None,
        nonce_ns: int | None = None,
    ) -> Signed:
        """A fresh request with a random round id and count, signed as ``sign`` is told."""
        payload = {
            "competition": "cot_sft",
            "round_id": f"fuzz-{rng.randrange(10**9)}",
            "num_samples": rng.randint(1, 16),
        }
        body = json.dumps(payload, separators=(",", ":") if rng.random() < 0.5 else None).encode()
        return self.sign(body, signer=signer, receiver=receiver, nonce_ns=nonce_ns)

    def sign(
        self,
        body: bytes,
        *,
        path: str = SUBMISSION_PATH,
        signer: Keypair | None = None,
        receiver: str | None = None,
        nonce_ns: int | None = None,
    ) -> Signed:
        headers = http_auth.sign(
            signer or self.signer,
            method="POST",
            path=path,
            body=body,
            receiver_ss58=receiver or self.receiver.ss58_address,
            nonce_ns=nonce_ns,
        )
        return Signed(body, _as_bytes(headers))

    # ---- mutants ---------------------------------------------------------------------------

    def make(self, index: int) -> Mutant:
        """Mutant number ``index`` of this seed."""
        rng = random.Random(f"{self.seed}:{index}")
        kind, build = rng.choice(self._kinds)
        m = build(rng)
        return Mutant(index, kind, m.detail, m.wire, m.fresh, m.half_close, m.prelude, m.expect)

    def _body(self, rng: random.Random) -> _Built:
        base = self.valid(rng)
        body, how = edit_bytes(base.body, rng)  # every edit changes the bytes
        return _Built(
            f"body: {how}", render(b"POST", SUBMISSION_PATH.encode(), base.headers(), body)
        )

    def _header(self, rng: random.Random) -> _Built:
        base = self.valid(rng)
        name = rng.choice(AUTH_HEADERS)
        original = _value(base.auth, name)
        while True:
            value, how = edit_bytes(original, rng)
            if value.strip(b" \t") != original:  # OWS around a value is not part of it
                break
        headers = [(b"Content-Type", b"application/json"), *_replace(base.auth, name, value)]
        return _Built(
            f"{name}: {how} -> {value!r}",
            render(b"POST", SUBMISSION_PATH.encode(), headers, base.body),
        )

    def _header_dropped(self, rng: random.Random) -> _Built:
        base = self.valid(rng)
        name = rng.choice(AUTH_HEADERS).encode().lower()
        headers = [(k, v) for k, v in base.headers() if k.lower() != name]
        return _Built(
            f"drop {name.decode()}", render(b"POST", SUBMISSION_PATH.encode(), headers, base.body)
        )

    def _header_duplicated(self, rng: random.Random) -> _Built:
        """A signed header repeated with another value, before or after the real one."""
        base = self.valid(rng)
        name = rng.choice(AUTH_HEADERS)
        original = _value(base.auth, name)
        other = self.valid(rng) if rng.random() < 0.5 else None
        if other is not None and _value(other.auth, name) != original:
            value, how = _value(other.auth, name), "from another valid request"
        else:
            value, how = edit_bytes(original, rng)
            while value.strip(b" \t") == original:
                value, how = edit_bytes(original, rng)
        extra = (name.encode(), value)
        headers = list(base.headers())
        at = next(i for i, (k, _) in enumerate(headers) if k == name.encode())
        first = rng.random() < 0.5
        headers.insert(at if first else at + 1, extra)
        where = "before" if first else "after"
        return _Built(
            f"{name} twice, {where} the signed one ({how}: {value!r})",
            render(b"POST", SUBMISSION_PATH.encode(), headers, base.body),
        )

    def _header_swapped(self, rng: random.Random) -> _Built:
        """One or two of (nonce, signature, body) taken from a second valid request."""
        a, b = self.valid(rng), self.valid(rng)
        parts = rng.sample(("nonce", "signature", "body"), rng.randint(1, 2))
        auth, body = a.auth, a.body
        for part in parts:
            if part == "body":
                body = b.body
            else:
                name = http_auth.HEADER_NONCE if part == "nonce" else http_auth.HEADER_SIGNATURE
                auth = _replace(auth, name, _value(b.auth, name))
        headers = [(b"Content-Type", b"application/json"), *auth]
        return _Built(
            f"swapped in {'+'.join(sorted(parts))} of another request",
            render(b"POST", SUBMISSION_PATH.encode(), headers, body),
        )

    def _target(self, rng: random.Random) -> _Built:
        original = SUBMISSION_PATH.encode()
        roll = rng.random()
        if roll < 0.15:  # signed for another target, sent to the real one
            signed_for = rng.choice(("/v1/submission?a=1", "/v1/submission/", "/v1/other", "/"))
            base = self.valid(rng)
            base = self.sign(base.body, path=signed_for)
            target, how = original, f"signed for {signed_for!r}"
        elif roll < 0.4:
            base = self.valid(rng)
            query = rng.choice((b"?a=1", b"?round_id=x", b"?%00", b"?" + b"x" * 2000, b"/"))
            target, how = original + query, f"append {query[:20]!r}"
        else:
            base = self.valid(rng)
            target, how = edit_bytes(original, rng)
            while target in (original, original + b"?"):  # "?" alone: no query, as ASGI sees it
                target, how = edit_bytes(original, rng)
        return _Built(
            f"target {target[:60]!r} ({how})", render(b"POST", target, base.headers(), base.body)
        )

    def _method(self, rng: random.Random) -> _Built:
        base = self.valid(rng)
        # HEAD is left out: its answer carries no body to check.
        method = rng.choice(
            (b"GET", b"PUT", b"PATCH", b"DELETE", b"OPTIONS", b"post", b"POSTT", b"P0ST")
        )
        return _Built(
            f"method {method!r}",
            render(method, SUBMISSION_PATH.encode(), base.headers(), base.body),
        )

    def _clock(self, rng: random.Random) -> _Built:
        now = time.time_ns()
        if rng.random() < 0.5:
            offset_s = -rng.uniform(STALE_MIN_S, 10**6)
        else:
            offset_s = rng.uniform(FUTURE_MIN_S, 10**6)
        signed = self.valid(rng, nonce_ns=now + int(offset_s * 1e9))
        return _Built(
            f"validly signed, nonce {offset_s:+.1f}s off", signed.wire(), expect=frozenset({401})
        )

    def _signer(self, rng: random.Random) -> _Built:
        case = rng.randrange(6)
        if case == 0:  # another hotkey's signature over the payload claimed by our signer
            base = self.valid(rng)
            forged = self.sign(
                base.body,
                signer=self.unpermitted,
                nonce_ns=int(_value(base.auth, http_auth.HEADER_NONCE)),
            )
            auth = _replace(
                base.auth,
                http_auth.HEADER_SIGNATURE,
                _value(forged.auth, http_auth.HEADER_SIGNATURE),
            )
            return _Built(
                "signature by another hotkey",
                Signed(base.body, auth).wire(),
                expect=frozenset({401}),
            )
        if case == 1:  # our signer's signature, claimed by another hotkey
            base = self.valid(rng)
            auth = _replace(
                base.auth, http_auth.HEADER_HOTKEY, self.unpermitted.ss58_address.encode()
            )
            return _Built(
                "hotkey header of another key",
                Signed(base.body, auth).wire(),
                expect=frozenset({401}),
            )
        if case == 2:  # registered, no permit: authenticated, not authorised
            return _Built(
                "signed by a registered key without permit",
                self.valid(rng, signer=self.unpermitted).wire(),
                expect=frozenset({403}),
            )
        if case == 3:
            return _Built(
                "signed by an unregistered key",
                self.valid(rng, signer=self.stranger).wire(),
                expect=frozenset({403}),
            )
        if case == 4:
            return _Built(
                "signed for another receiver",
                self.valid(rng, receiver=self.stranger.ss58_address).wire(),
                expect=frozenset({401}),
            )
        return _Built(
            "ed25519 signer", self.valid(rng, signer=self.ed25519).wire(), expect=frozenset({400})
        )

    def _framing(self, rng: random.Random) -> _Built:
        base = self.valid(rng)
        path = SUBMISSION_PATH.encode()
        case = rng.randrange(3)
        if case == 0:
            missing = rng.randint(1, len(base.body))
            wire = render(b"POST", path, base.headers(), base.body[:-missing], len(base.body))
            return _Built(
                f"body {missing} bytes short of its Content-Length", wire, half_close=True
            )
        if case == 1:
            cut = rng.randint(1, len(base.body))
            wire = render(b"POST", path, base.headers(), base.body, len(base.body) - cut)
            return _Built(f"Content-Length {cut} under the body", wire, fresh=True)
        bogus = rng.choice((b"-1", b"1e3", b"0x10", b"", b"12 12", b"99999999999999999999999"))
        head = render(b"POST", path, base.headers(), b"").replace(
            b"Content-Length: 0", b"Content-Length: " + bogus
        )
        return _Built(f"Content-Length {bogus!r}", head + base.body, fresh=True)

    def _transfer(self, rng: random.Random) -> _Built:
        case = rng.randrange(3)
        if case == 0:
            base = self.valid(rng)
            headers = [
                *base.headers(),
                (b"Content-Encoding", rng.choice((b"gzip", b"br", b"deflate"))),
            ]
            return _Built(
                "compressed body declared",
                render(b"POST", SUBMISSION_PATH.encode(), headers, base.body),
                expect=frozenset({415}),
            )
        if case == 1:
            body = json.dumps(
                {
                    "competition": "cot_sft",
                    "round_id": "r",
                    "num_samples": 1,
                    "pad": "x" * MAX_REQUEST_BYTES,
                }
            ).encode()
            return _Built(
                "validly signed body over the size cap",
                self.sign(body).wire(),
                expect=frozenset({413}),
            )
        base = self.valid(rng)
        return _Built(
            "replay of a served request", base.wire(), prelude=base.wire(), expect=frozenset({401})
        )
