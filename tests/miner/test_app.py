"""The miner service over real HTTP on loopback: served, refused for each reason, still up."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from bittensor import http_auth
from bittensor.sp_core import Keypair

from miner.app import MinerContext
from miner.manifests import ServeTimeBook
from protocol.auth import BtAuth, ResponseBinding, verify_response
from protocol.commitments import manifest_commitment
from protocol.keys import Keys
from protocol.limits import MAX_REQUEST_BYTES
from protocol.schemas import SUBMISSION_PATH, SubmissionResponse, samples_sha256
from tests.support.miner_fixture import neuron, running_miner
from tests.support.proofs import unproven

Validator = Keypair


@pytest.fixture
def miner(
    alice: Keypair,
    bob: Keypair,
    charlie: Keypair,
    redis_client: redis.Redis,
    keys: Keys,
    tmp_path: Path,
) -> Iterator[tuple[str, MinerContext]]:
    # alice: the miner; bob: a validator with permit and stake; charlie: registered, no permit.
    metagraph = [
        neuron(0, alice, permit=False, stake=0.0),
        neuron(1, bob, permit=True, stake=100.0),
        neuron(2, charlie, permit=False, stake=100.0),
    ]
    with running_miner(alice, metagraph, redis_client, keys, tmp_path / "ledger.jsonl") as m:
        yield m


def _body(**overrides: object) -> bytes:
    payload = {"competition": "cot_sft", "round_id": "r-1", "num_samples": 8} | overrides
    return json.dumps(payload).encode()


def _signed(
    signer: Keypair, receiver: str, body: bytes, nonce_ns: int | None = None
) -> dict[str, str]:
    return http_auth.sign(
        signer,
        method="POST",
        path=SUBMISSION_PATH,
        body=body,
        receiver_ss58=receiver,
        nonce_ns=nonce_ns,
    )


def _post(address: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"http://{address}{SUBMISSION_PATH}", content=body, headers=headers, timeout=10
    )


def test_good_request_is_served_signed_and_ledgered(
    miner: tuple[str, MinerContext], alice: Keypair, bob: Keypair
) -> None:
    address, ctx = miner
    auth = BtAuth(bob, alice.ss58_address)
    response = httpx.post(
        f"http://{address}{SUBMISSION_PATH}", content=_body(), auth=auth, timeout=10
    )
    assert response.status_code == 200, response.text
    parsed = SubmissionResponse.model_validate_json(response.content)
    assert len(parsed.samples) == 8
    assert parsed.samples_sha256 == samples_sha256(parsed.samples)
    assert auth.last_nonce_ns is not None
    verify_response(
        response.headers,
        response.content,
        ResponseBinding(alice.ss58_address, bob.ss58_address, auth.last_nonce_ns),
    )
    # Every sample proves into the root the response names...
    assert len(parsed.proofs) == len(parsed.samples)
    assert unproven(parsed) == []
    # ...which the chain holds, bound to the miner's hotkey, since before the response left.
    assert isinstance(ctx.manifests, ServeTimeBook)
    held = ctx.manifests.chain.commitments()[alice.ss58_address]
    assert held.data == manifest_commitment(alice.ss58_address, parsed.manifest_root)
    [entry] = ctx.ledger.entries()
    assert entry.validator_hotkey == bob.ss58_address
    assert entry.samples_sha256 == parsed.samples_sha256
    assert entry.manifest_root == parsed.manifest_root
    assert entry.request_nonce_ns == auth.last_nonce_ns


def test_same_round_same_data(
    miner: tuple[str, MinerContext], alice: Keypair, bob: Keypair
) -> None:
    address, _ = miner
    first = httpx.post(
        f"http://{address}{SUBMISSION_PATH}", content=_body(), auth=BtAuth(bob, alice.ss58_address)
    )
    second = httpx.post(
        f"http://{address}{SUBMISSION_PATH}", content=_body(), auth=BtAuth(bob, alice.ss58_address)
    )
    assert first.json()["samples_sha256"] == second.json()["samples_sha256"]
    assert first.json()["manifest_root"] == second.json()["manifest_root"]


@pytest.mark.parametrize(
    "mutate, status, reason",
    [
        (lambda h, b: {}, 400, "X-Bittensor-Version"),
        (lambda h, b: h | {"X-Bittensor-Nonce": "soon"}, 400, "decimal"),
        (lambda h, b: h | {"X-Bittensor-Signature": "0xzz"}, 400, "hex"),
        (lambda h, b: {k: v for k, v in h.items() if k != "X-Bittensor-Receiver"}, 401, "receiver"),
        (lambda h, b: h | {"X-Bittensor-Signature": "0x" + "00" * 64}, 401, "signature"),
    ],
    ids=["missing", "bad-nonce", "bad-hex", "unbound", "forged"],
)
def test_auth_failures(
    miner: tuple[str, MinerContext], alice: Keypair, bob: Keypair, mutate, status: int, reason: str
) -> None:
    address, ctx = miner
    body = _body()
    response = _post(address, body, mutate(_signed(bob, alice.ss58_address, body), body))
    assert response.status_code == status
    assert reason.lower() in response.json()["detail"].lower()
    assert ctx.ledger.entries() == []


def test_tampered_body_is_refused(
    miner: tuple[str, MinerContext], alice: Keypair, bob: Keypair
) -> None:
    address, _ = miner
    headers = _signed(bob, alice.ss58_address, _body())
    assert _post(address, _body(num_samples=64), headers).status_code == 401


def test_wrong_receiver_is_refused(
    miner: tuple[str, MinerContext], bob: Keypair, charlie: Keypair
) -> None:
    address, _ = miner
    body = _body()
    response = _post(address, body, _signed(bob, charlie.ss58_address, body))
    assert response.status_code == 401
    assert "receiving hotkey" in response.json()["detail"]


def test_stale_request_is_refused(
    miner: tuple[str, MinerContext], alice: Keypair, bob: Keypair
) -> None:
    address, _ = miner
    body = _body()
    old = time.time_ns() - 60 * 10**9
    response = _post(address, body, _signed(bob, alice.ss58_address, body, nonce_ns=old))
    assert response.status_code == 401
    assert "older" in response.json()["detail"]


def test_replayed_request_is_refused(
    miner: tuple[str, MinerContext], alice: Keypair, bob: Keypair
) -> None:
    address, ctx = miner
    body = _body()
    headers = _signed(bob, alice.ss58_address, body)
    assert _post(address, body, headers).status_code == 200
    replay = _post(address, body, headers)
    assert replay.status_code == 401
    assert "already accepted" in replay.json()["detail"]
    assert len(ctx.ledger.entries()) == 1


def test_unregistered_caller_is_forbidden(miner: tuple[str, MinerContext], alice: Keypair) -> None:
    address, _ = miner
    stranger = Keypair.create_from_uri("//Stranger")
    body = _body()
    response = _post(address, body, _signed(stranger, alice.ss58_address, body))
    assert response.status_code == 403
    assert "not registered" in response.json()["detail"]


def test_caller_without_permit_is_forbidden(
    miner: tuple[str, MinerContext], alice: Keypair, charlie: Keypair
) -> None:
    address, _ = miner
    body = _body()
    response = _post(address, body, _signed(charlie, alice.ss58_address, body))
    assert response.status_code == 403
    assert "permit" in response.json()["detail"]


@pytest.mark.parametrize(
    "body, status",
    [
        (b"{not json", 422),
        (
            json.dumps({"competition": "cot_sft", "round_id": "r", "num_samples": 100000}).encode(),
            422,
        ),
        (json.dumps({"competition": "poetry", "round_id": "r", "num_samples": 1}).encode(), 422),
        (
            json.dumps(
                {"competition": "cot_sft", "round_id": "../../etc", "num_samples": 1}
            ).encode(),
            422,
        ),
        (
            json.dumps(
                {"competition": "cot_sft", "round_id": "r", "num_samples": 1, "x": 1}
            ).encode(),
            422,
        ),
        (b"[" * 3000 + b"]" * 3000, 413),
    ],
    ids=["garbage", "too-many", "unknown-competition", "bad-round-id", "extra-field", "oversize"],
)
def test_bad_bodies_get_4xx_with_reason(
    miner: tuple[str, MinerContext], alice: Keypair, bob: Keypair, body: bytes, status: int
) -> None:
    address, _ = miner
    response = _post(address, body, _signed(bob, alice.ss58_address, body))
    assert response.status_code == status
    assert response.json()["detail"]
    # ...and the server keeps serving.
    ok = httpx.post(
        f"http://{address}{SUBMISSION_PATH}", content=_body(), auth=BtAuth(bob, alice.ss58_address)
    )
    assert ok.status_code == 200


def test_oversize_body_refused_before_auth(miner: tuple[str, MinerContext]) -> None:
    address, _ = miner
    response = _post(address, b"x" * (MAX_REQUEST_BYTES + 1), {})
    assert response.status_code == 413


def test_compressed_request_refused(
    miner: tuple[str, MinerContext], alice: Keypair, bob: Keypair
) -> None:
    address, _ = miner
    body = gzip.compress(_body())
    headers = _signed(bob, alice.ss58_address, body) | {"Content-Encoding": "gzip"}
    assert _post(address, body, headers).status_code == 415


def test_healthz(miner: tuple[str, MinerContext], alice: Keypair) -> None:
    address, _ = miner
    health = httpx.get(f"http://{address}/healthz").json()
    assert health == {
        "status": "ok",
        "hotkey": alice.ss58_address,
        "competitions": ["cot_sft", "preference"],
    }
