"""Seeded malformed miner responses, and one ASGI server that plays thousands of miners.

``Malformed(seed).make(index, request)`` builds response number ``index`` for ``request``: a
body (often a valid response with one thing broken: a type, a field, a size, an encoding, the
round, the competition, the samples hash, the proofs), how it is signed (correctly, or not: unsigned, another
key, another body, another nonce), its status and encoding, and a fragment of the reason the
validator must give. A pure function of ``(seed, index, request)``: a failure is rebuilt from
the numbers the test prints.

``PayloadMiners`` is a raw ASGI app (no framework between the test and the bytes). It finds the
miner a request is for from the btauth receiver header, its planned payload from
``(round_id, hotkey)``, and signs with that miner's key as the payload says.
"""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bittensor import http_auth
from bittensor.sp_core import Keypair

from protocol.auth import ResponseBinding, sign_response
from protocol.limits import (
    MAX_CHARS_PER_FIELD,
    MAX_MANIFEST_LEAVES,
    MAX_PROOF_HASHES,
    MAX_SAMPLES_PER_RESPONSE,
)
from protocol.schemas import Competition, CotSample, SubmissionRequest, samples_sha256
from tests.support.proofs import manifest_fields

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

# Reasons ``validator.pull`` gives, by what broke.
INVALID = "invalid response"
NOT_SIGNED = "not signed"
NOT_VERIFIED = "does not verify"
MALFORMED_SIGNATURE = "signature is malformed"
OTHER_ROUND = "another round or competition"
TOO_MANY = "samples served"
SAMPLES_HASH = "samples_sha256 does not match"
COMPRESSED = "compressed response refused"
# Deleting one byte of valid JSON sometimes leaves valid JSON of another shape (a digit of a
# number, a letter of a string), which then fails a later check; and a response in another
# competition fails the competition check or the samples hash's. An empty fragment accepts any
# reason (there must still be one).
ANY_REASON = ""


@dataclass(frozen=True)
class Payload:
    """One malformed response and the reason fragment the validator must report."""

    index: int
    kind: str
    detail: str
    body: bytes
    expect: str
    signing: str = "ok"  # ok | none | other-key | other-body | other-nonce | bad-hex
    status: int = 200
    encoding: str | None = None


def samples(count: int, rng: random.Random) -> list[dict[str, str]]:
    """Well-formed CoT samples as dicts (the malformations are applied to these)."""
    out = []
    for _ in range(count):
        a, b = rng.randrange(100), rng.randrange(100)
        out.append(
            {
                "prompt": f"What is {a} plus {b}?",
                "chain_of_thought": f"{a} + {b} = {a + b}.",
                "final_answer": str(a + b),
            }
        )
    return out


def _with_samples(data: dict[str, Any], rows: list[dict[str, str]]) -> dict[str, Any]:
    """``data`` serving ``rows``: their hash, and proofs in a manifest over exactly them."""
    cot = [CotSample(**r) for r in rows]
    manifest = manifest_fields(request_competition(data), cot)
    return data | {"samples": rows, "samples_sha256": samples_sha256(cot)} | manifest


def request_competition(data: dict[str, Any]) -> Competition:
    """The competition a (still well-formed) response names."""
    return Competition(data["competition"])


def valid_response(request: SubmissionRequest, rng: random.Random) -> dict[str, Any]:
    """A response that passes every check: the base every mutation starts from.

    Its proofs verify against the root it names; nobody committed that root (the pull checks
    the wire, the round checks commitments).
    """
    rows = samples(rng.randint(1, request.num_samples), rng)
    base = {
        "protocol_version": "datacomp/2",
        "competition": request.competition.value,
        "round_id": request.round_id,
    }
    return _with_samples(base, rows)


def _bare_number_positions(text: bytes) -> list[int]:
    """Positions of digits outside JSON strings: the body's numbers (sizes, leaf indexes)."""
    out, in_string, escaped = [], False, False
    for i, byte in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif byte == ord("\\"):
                escaped = True
            elif byte == ord('"'):
                in_string = False
        elif byte == ord('"'):
            in_string = True
        elif ord("0") <= byte <= ord("9"):
            out.append(i)
    return out


def _dump(data: Any) -> bytes:
    return json.dumps(data).encode()


# Stands for a value JSON cannot spell, swapped in after encoding.
_SENTINEL = "__value_under_test__"
_SENTINEL_JSON = _dump(_SENTINEL)


class Malformed:
    """Malformed responses for one seed."""

    def __init__(self, seed: int):
        self.seed = seed
        self._kinds: list[Callable[[random.Random, SubmissionRequest], tuple[str, str, bytes, str]]]
        self._kinds = [
            self._invalid_json,
            self._invalid_utf8,
            self._wrong_type,
            self._wrong_type,
            self._missing_field,
            self._extra_field,
            self._huge,
            self._deep,
            self._competition,
            self._round,
            self._non_finite,
            self._counts,
            self._samples_hash,
            self._proofs,
            self._version,
        ]

    def make(self, index: int, request: SubmissionRequest) -> Payload:
        """Payload number ``index`` for ``request``."""
        rng = random.Random(f"{self.seed}:{index}")
        roll = rng.random()
        if roll < 0.15:  # a well-formed body that is not honestly delivered
            body = _dump(valid_response(request, rng))
            signing, expect = rng.choice(
                (
                    ("none", NOT_SIGNED),
                    ("other-key", NOT_VERIFIED),
                    ("other-body", NOT_VERIFIED),
                    ("other-nonce", NOT_VERIFIED),
                    ("bad-hex", MALFORMED_SIGNATURE),
                )
            )
            return Payload(index, "signature", signing, body, expect, signing=signing)
        if roll < 0.20:
            body = _dump(valid_response(request, rng))
            if rng.random() < 0.5:
                status = rng.choice((201, 202, 400, 401, 404, 429, 500, 502, 503))
                return Payload(
                    index, "status", f"HTTP {status}", body, f"HTTP {status}", status=status
                )
            encoding = rng.choice(("gzip", "br", "deflate", "x-custom"))
            return Payload(index, "encoding", encoding, body, COMPRESSED, encoding=encoding)
        build = rng.choice(self._kinds)
        kind, detail, body, expect = build(rng, request)
        # Most malformed bodies are signed correctly: the schema, not the signature, must stop them.
        signing = "ok" if rng.random() < 0.9 else "none"
        return Payload(
            index, kind, detail, body, NOT_SIGNED if signing == "none" else expect, signing
        )

    # ---- body mutations: (kind, detail, body, expected reason) ---------------------------

    def _invalid_json(
        self, rng: random.Random, req: SubmissionRequest
    ) -> tuple[str, str, bytes, str]:
        good = _dump(valid_response(req, rng))
        case = rng.randrange(6)
        if case == 0:
            cut = rng.randrange(len(good))
            return "json", f"truncated at {cut}", good[:cut], INVALID
        if case == 1:
            return "json", "random bytes", rng.randbytes(rng.randint(1, 512)), INVALID
        if case == 2:
            return (
                "json",
                "trailing garbage",
                good + rng.choice((b"x", b"}", b",", b"\x00", b"{}")),
                INVALID,
            )
        if case == 3:
            return "json", "byte-order mark", b"\xef\xbb\xbf" + good, INVALID
        if case == 4:
            # Not a space: json.dumps puts them only between tokens, where JSON ignores them.
            # Not a digit of a bare number (manifest_size, a leaf_index): one digit less can be
            # another well-formed size or index, a proof the wire cannot refuse (the round's
            # proof check rejects its sample).
            numbers = set(_bare_number_positions(good))
            i = rng.choice(
                [j for j, byte in enumerate(good) if byte != ord(" ") and j not in numbers]
            )
            return "json", f"byte {i} deleted", good[:i] + good[i + 1 :], ANY_REASON
        return "json", "empty body", b"", INVALID

    def _invalid_utf8(
        self, rng: random.Random, req: SubmissionRequest
    ) -> tuple[str, str, bytes, str]:
        data = valid_response(req, rng)
        field = rng.choice(("prompt", "chain_of_thought", "final_answer"))
        data["samples"][0][field] = _SENTINEL
        if rng.random() < 0.5:  # a lone surrogate as an escape: ASCII bytes, invalid text
            bad = b'"\\udc80"'
        else:
            bad = (
                b'"'
                + rng.choice((b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80", b"\x80"))
                + b'"'
            )
        return "utf8", f"{bad!r} as {field}", _dump(data).replace(_SENTINEL_JSON, bad), INVALID

    def _wrong_type(
        self, rng: random.Random, req: SubmissionRequest
    ) -> tuple[str, str, bytes, str]:
        data = valid_response(req, rng)
        value = rng.choice((None, 1, -1.5, True, [], {}, "x", [1, 2], {"a": "b"}))
        if rng.random() < 0.5:
            key = rng.choice(
                (
                    "competition",
                    "round_id",
                    "samples",
                    "samples_sha256",
                    "protocol_version",
                    "manifest_root",
                    "proofs",
                )
            )
            if key == "samples" and isinstance(value, list) and not value:
                value = "not a list"
            if key in (
                "competition",
                "round_id",
                "samples_sha256",
                "protocol_version",
                "manifest_root",
            ) and isinstance(value, str):
                value = 7
            data[key] = value
            where = key
        else:
            i = rng.randrange(len(data["samples"]))
            key = rng.choice(("prompt", "chain_of_thought", "final_answer"))
            if isinstance(value, str):
                value = 7
            data["samples"][i][key] = value
            where = f"samples.{i}.{key}"
            if rng.random() < 0.2:
                data["samples"][i] = rng.choice((None, 3, "sample", [["a", "b", "c"]]))
                where = f"samples.{i} itself"
        return "type", f"{where} = {json.dumps(value)}", _dump(data), INVALID

    def _missing_field(
        self, rng: random.Random, req: SubmissionRequest
    ) -> tuple[str, str, bytes, str]:
        data = valid_response(req, rng)
        if rng.random() < 0.5:
            key = rng.choice(
                (
                    "competition",
                    "round_id",
                    "samples",
                    "samples_sha256",
                    "manifest_root",
                    "manifest_size",
                    "proofs",
                )
            )
            del data[key]
            return "missing", key, _dump(data), INVALID
        i = rng.randrange(len(data["samples"]))
        key = rng.choice(("prompt", "chain_of_thought", "final_answer"))
        del data["samples"][i][key]
        return "missing", f"samples.{i}.{key}", _dump(data), INVALID

    def _extra_field(
        self, rng: random.Random, req: SubmissionRequest
    ) -> tuple[str, str, bytes, str]:
        data = valid_response(req, rng)
        name = rng.choice(("score", "weight", "__proto__", "chosen", "x" * 100, ""))
        if rng.random() < 0.5:
            data[name] = 1.0
            return "extra", f"top-level {name[:20]!r}", _dump(data), INVALID
        data["samples"][rng.randrange(len(data["samples"]))][name] = "extra"
        return "extra", f"sample field {name[:20]!r}", _dump(data), INVALID

    def _huge(self, rng: random.Random, req: SubmissionRequest) -> tuple[str, str, bytes, str]:
        data = valid_response(req, rng)
        size = rng.choice((MAX_CHARS_PER_FIELD + 1, 2 * MAX_CHARS_PER_FIELD, 200_000))
        fill = rng.choice(("a", "\u00e9", "\U0001f600", "\\", '"', "\x00"))
        field = rng.choice(("prompt", "chain_of_thought", "final_answer"))
        data["samples"][0][field] = fill * size
        return "huge", f"{field} of {size} x {fill!r}", _dump(data), INVALID

    def _deep(self, rng: random.Random, req: SubmissionRequest) -> tuple[str, str, bytes, str]:
        depth = rng.choice((300, 5_000, 100_000))
        nest = rng.choice(("[", '{"a":'))
        close = "]" if nest == "[" else "}"
        inner = nest * depth + "0" + close * depth
        good = _dump(valid_response(req, rng)).decode()
        where = rng.choice(("body", "prompt", "samples"))
        if where == "body":
            text = inner
        elif where == "prompt":
            text = good.replace('"prompt": "', f'"prompt": {inner}, "x": "', 1)
        else:
            text = good.replace('"samples": [', f'"samples": [{inner}, ', 1)
        return "deep", f"{nest} x {depth} in {where}", text.encode(), INVALID

    def _competition(
        self, rng: random.Random, req: SubmissionRequest
    ) -> tuple[str, str, bytes, str]:
        data = valid_response(req, rng)
        case = rng.randrange(3)
        if case == 0:  # cot samples claimed as preference data
            data["competition"] = "preference"
            return "competition", "cot samples as preference", _dump(data), INVALID
        if case == 1:  # well-formed preference data, but cot_sft was asked
            rows = [{"prompt": "p", "chosen": "a", "rejected": "b"}]
            data.update(competition="preference", samples=rows, samples_sha256="0" * 64)
            return "competition", "preference response to a cot request", _dump(data), ANY_REASON
        data["competition"] = rng.choice(("poetry", "COT_SFT", "cot_sft ", ""))
        return "competition", f"unknown {data['competition']!r}", _dump(data), INVALID

    def _round(self, rng: random.Random, req: SubmissionRequest) -> tuple[str, str, bytes, str]:
        data = valid_response(req, rng)
        data["round_id"] = rng.choice(
            (req.round_id + "x", "", "previous-round", req.round_id.upper() + "!")
        )
        return "round", f"round_id {data['round_id']!r}", _dump(data), OTHER_ROUND

    def _non_finite(
        self, rng: random.Random, req: SubmissionRequest
    ) -> tuple[str, str, bytes, str]:
        data = valid_response(req, rng)
        literal = rng.choice((b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-0"))
        if rng.random() < 0.5:
            key = rng.choice(
                (
                    "round_id",
                    "competition",
                    "samples",
                    "samples_sha256",
                    "manifest_root",
                    "manifest_size",
                    "proofs",
                )
            )
            data[key] = _SENTINEL
        else:
            key = rng.choice(("prompt", "chain_of_thought", "final_answer"))
            data["samples"][0][key] = _SENTINEL
        body = _dump(data).replace(_SENTINEL_JSON, literal)
        return "non-finite", f"{literal.decode()} as {key}", body, INVALID

    def _counts(self, rng: random.Random, req: SubmissionRequest) -> tuple[str, str, bytes, str]:
        data = valid_response(req, rng)
        if rng.random() < 0.5:
            n = req.num_samples + rng.randint(1, 8)
            expect = TOO_MANY
        else:
            n, expect = MAX_SAMPLES_PER_RESPONSE + 1, INVALID
        data = _with_samples(data, samples(n, rng))
        return "count", f"{n} samples for {req.num_samples} asked", _dump(data), expect

    def _samples_hash(
        self, rng: random.Random, req: SubmissionRequest
    ) -> tuple[str, str, bytes, str]:
        data = valid_response(req, rng)
        case = rng.randrange(3)
        if case == 0:
            data["samples_sha256"] = "0" * 64
            return "samples_hash", "well-formed hash of other samples", _dump(data), SAMPLES_HASH
        if case == 1:
            data["samples_sha256"] = data["samples_sha256"].upper()
            return "samples_hash", "upper-case hash", _dump(data), INVALID
        data["samples_sha256"] = data["samples_sha256"][: rng.randrange(64)]
        return "samples_hash", "short hash", _dump(data), INVALID

    def _proofs(self, rng: random.Random, req: SubmissionRequest) -> tuple[str, str, bytes, str]:
        """Manifest fields the schema refuses (a well-formed wrong proof is the round's to reject)."""
        data = valid_response(req, rng)
        proofs = data["proofs"]
        case = rng.randrange(7)
        if case == 0:
            extra = rng.choice(([], [proofs[0]], proofs[1:]))
            data["proofs"] = proofs + extra if extra else proofs + [{"leaf_index": 0, "path": []}]
            detail = f"{len(data['proofs'])} proofs for {len(data['samples'])} samples"
        elif case == 1:
            data["proofs"] = proofs[1:] if len(proofs) > 1 else []
            detail = f"{len(data['proofs'])} proofs for {len(data['samples'])} samples"
        elif case == 2:
            proofs[0]["leaf_index"] = rng.choice((-1, MAX_MANIFEST_LEAVES, 0.5, None))
            detail = f"leaf_index {proofs[0]['leaf_index']!r}"
        elif case == 3:
            proofs[0]["path"] = [
                *proofs[0]["path"],
                rng.choice(("AB" * 32, "ab" * 31, "zz" * 32, "")),
            ]
            detail = "a path hash that is not 64 lower-case hex"
        elif case == 4:
            proofs[0]["path"] = ["0" * 64] * (MAX_PROOF_HASHES + 1)
            detail = f"a path of {MAX_PROOF_HASHES + 1} hashes"
        elif case == 5:
            data["manifest_size"] = rng.choice((0, -3, MAX_MANIFEST_LEAVES + 1, 2.5, None))
            detail = f"manifest_size {data['manifest_size']!r}"
        else:
            data["manifest_root"] = rng.choice(
                (data["manifest_root"].upper(), data["manifest_root"][:-1], "", "0x" + "0" * 62)
            )
            detail = f"manifest_root {data['manifest_root'][:12]!r}"
        return "proofs", detail, _dump(data), INVALID

    def _version(self, rng: random.Random, req: SubmissionRequest) -> tuple[str, str, bytes, str]:
        data = valid_response(req, rng)
        data["protocol_version"] = rng.choice(("datacomp/1", "datacomp/3", "", "DATACOMP/2"))
        return "version", repr(data["protocol_version"]), _dump(data), INVALID


class PayloadMiners:
    """ASGI app serving ``plan[(round_id, miner_hotkey)]`` as miner ``miner_hotkey``."""

    def __init__(self, keys: dict[str, Keypair], plan: dict[tuple[str, str], Payload]):
        self.keys = keys
        self.plan = plan
        self._impostor = Keypair.create_from_uri("//Malformed/Impostor")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        hotkey = headers[http_auth.HEADER_RECEIVER.lower()]
        nonce = int(headers[http_auth.HEADER_NONCE.lower()])
        validator = headers[http_auth.HEADER_HOTKEY.lower()]
        payload = self.plan[(json.loads(raw)["round_id"], hotkey)]
        out = [(b"content-type", b"application/json")]
        if payload.encoding:
            out.append((b"content-encoding", payload.encoding.encode()))
        out += self._signature(payload, self.keys[hotkey], validator, nonce)
        await send({"type": "http.response.start", "status": payload.status, "headers": out})
        await send({"type": "http.response.body", "body": payload.body})

    def _signature(
        self, payload: Payload, key: Keypair, validator: str, nonce: int
    ) -> list[tuple[bytes, bytes]]:
        if payload.signing == "none":
            return []
        binding = ResponseBinding(key.ss58_address, validator, nonce)
        body, signer = payload.body, key
        if payload.signing == "other-nonce":
            binding = ResponseBinding(key.ss58_address, validator, nonce + 1)
        elif payload.signing == "other-body":
            body = body + b" "
        elif payload.signing == "other-key":
            # Another key's signature under the miner's name.
            signer = self._impostor
            binding = ResponseBinding(signer.ss58_address, validator, nonce)
        headers = sign_response(signer, binding, body)
        headers["X-Datacomp-Miner-Hotkey"] = key.ss58_address
        if payload.signing == "bad-hex":
            headers["X-Datacomp-Miner-Signature"] = "0xnot-hex"
        return [(k.encode(), v.encode()) for k, v in headers.items()]
