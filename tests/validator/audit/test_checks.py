"""The audit's checks (validator/audit/checks.py) on real sets, real signatures and real proofs.

A round's held-out sets as a round publishes them, the validator's salted commitment to them,
and a miner's response signed with its sr25519 hotkey and proved against the manifest it
committed. Each check holds for the honest inputs and names what fails when one is altered.
(The end-to-end audit of a real round is ``tests/validator/test_audit.py``.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

import pytest
from bittensor.sp_core import Keypair
from pydantic import ValidationError

import tasks.families  # noqa: F401 - registers the task families the eval set is drawn from
from protocol.auth import HEADER_RESPONSE_SIGNATURE, ResponseBinding, sign_response
from protocol.chain.base import Commitment
from protocol.commitments import eval_commitment, eval_commitment_digest, manifest_commitment
from protocol.schemas import Competition, CotSample, SubmissionResponse
from tests.support.proofs import proven_response
from tests.support.rounds import make_round
from validator.audit.checks import (
    Finding,
    SignedResponse,
    eval_commitment_findings,
    published_cot_set,
    published_preference_set,
    recomputed_set_hashes,
    response_findings,
)
from validator.evalsets.cot import draw_eval_set
from validator.evalsets.preference import draw_preference_eval
from validator.evalsets.publish import preference_sha256, published_preference
from validator.store.records import EvalCommitmentRecord, MinerRoundRecord, RoundRecord

ROUND = "r00001"  # make_round(1, ...)'s id
SECRET = "audit-checks-secret"
SALT = "5a" * 16
COMMIT_BLOCK = 100
PULL_BLOCK = 104

COMMITTED = "published sets match the committed hashes"
ON_CHAIN = "the chain holds the digest at the recorded block"
BEFORE_PULL = "committed before the pull"


@dataclass(frozen=True)
class Round:
    """A recorded round whose held-out sets were committed, then published."""

    record: RoundRecord
    published: dict[str, Any]
    hashes: dict[str, str]
    on_chain: Commitment


@pytest.fixture(scope="module")
def published() -> tuple[dict[str, Any], dict[str, str]]:
    cot = draw_eval_set(SECRET, ROUND, 8)
    preference = draw_preference_eval(SECRET, ROUND, 2, 2, 2)
    body: dict[str, Any] = {**json.loads(cot.to_json()), "sha256": cot.sha256()}
    body["preference"] = published_preference(preference)
    hashes = {
        Competition.COT_SFT.value: cot.sha256(),
        Competition.PREFERENCE.value: preference_sha256(preference),
    }
    return body, hashes


def _round(published: tuple[dict[str, Any], dict[str, str]]) -> Round:
    body, hashes = published
    record = make_round(1, [1])
    digest = eval_commitment_digest(ROUND, hashes, SALT)
    record.eval_commitment = EvalCommitmentRecord(digest, SALT, dict(hashes), COMMIT_BLOCK)
    record.commitments_block = {"cot_sft": PULL_BLOCK, "preference": PULL_BLOCK + 1}
    chain = Commitment(record.validator_hotkey, eval_commitment(ROUND, hashes, SALT), COMMIT_BLOCK)
    return Round(record, json.loads(json.dumps(body)), dict(hashes), chain)


@pytest.fixture
def honest(published: tuple[dict[str, Any], dict[str, str]]) -> Round:
    return _round(published)  # a fresh copy per test: tests alter it


def _verdicts(findings: list[Finding]) -> dict[str, bool]:
    return {f.check: f.ok for f in findings}


# ---- the published sets and the validator's commitment -------------------------------------


def test_the_published_sets_read_back_to_the_sets_drawn(honest: Round) -> None:
    cot = draw_eval_set(SECRET, ROUND, 8)
    assert published_cot_set(honest.published) == cot
    preference = draw_preference_eval(SECRET, ROUND, 2, 2, 2)
    assert published_preference_set(honest.published) == preference
    assert recomputed_set_hashes(honest.published) == honest.hashes
    # A competition that did not run publishes nothing, and is hashed as nothing.
    only_cot = {k: v for k, v in honest.published.items() if k != "preference"}
    assert recomputed_set_hashes(only_cot) == {"cot_sft": honest.hashes["cot_sft"]}
    assert recomputed_set_hashes({"preference": honest.published["preference"]}) == {
        "preference": honest.hashes["preference"]
    }


def test_an_honest_round_passes_every_check(honest: Round) -> None:
    findings = eval_commitment_findings(honest.record, honest.published, honest.on_chain)
    assert _verdicts(findings) == {COMMITTED: True, ON_CHAIN: True, BEFORE_PULL: True}
    assert all(f.detail for f in findings)


@pytest.mark.parametrize(
    "path",
    [
        ("items", 0, "final_answer"),
        ("items", 3, "prompt"),
        ("preference", "pairs", 0, "chosen"),
        ("preference", "harmful", 1, "prompt"),
        ("preference", "benign", 0, "prompt"),
    ],
)
def test_any_edit_to_a_published_set_is_caught(honest: Round, path: tuple[Any, ...]) -> None:
    """One held-out field changed after the round: neither the committed hashes nor the
    digest on chain match what is published."""
    *parents, last = path
    node: Any = honest.published
    for key in parents:
        node = node[key]
    node[last] += " (edited)"
    verdicts = _verdicts(eval_commitment_findings(honest.record, honest.published, honest.on_chain))
    assert verdicts == {COMMITTED: False, ON_CHAIN: False, BEFORE_PULL: True}


def test_a_dropped_competition_is_caught(honest: Round) -> None:
    del honest.published["preference"]
    findings = eval_commitment_findings(honest.record, honest.published, honest.on_chain)
    assert not _verdicts(findings)[COMMITTED]
    assert "preference" in next(f.detail for f in findings if f.check == COMMITTED)


def test_an_uncommitted_round_fails_with_the_reason(honest: Round) -> None:
    record = replace(honest.record, eval_commitment=None)
    [finding] = eval_commitment_findings(record, honest.published, honest.on_chain)
    assert finding == Finding(
        "eval set committed", False, "round is uncommitted: no commitment recorded"
    )
    assert honest.record.eval_commitment is not None
    refused = replace(honest.record.eval_commitment, block=None, error="SpaceLimitExceeded")
    record = replace(honest.record, eval_commitment=refused)
    [finding] = eval_commitment_findings(record, honest.published, honest.on_chain)
    assert not finding.ok and finding.detail == "round is uncommitted: SpaceLimitExceeded"


def _chain_verdict(honest: Round, on_chain: Commitment | None) -> Finding:
    findings = eval_commitment_findings(honest.record, honest.published, on_chain)
    return next(f for f in findings if f.check == ON_CHAIN)


def test_the_chain_must_hold_this_digest_at_the_recorded_block(honest: Round) -> None:
    hotkey, block = honest.on_chain.hotkey, honest.on_chain.block
    assert _chain_verdict(honest, honest.on_chain).ok
    missing = _chain_verdict(honest, None)
    assert not missing.ok and f"at block {COMMIT_BLOCK}" in missing.detail
    other_salt = Commitment(hotkey, eval_commitment(ROUND, honest.hashes, "00" * 16), block)
    other_round = Commitment(hotkey, eval_commitment("r00002", honest.hashes, SALT), block)
    later = replace(honest.on_chain, block=block + 1)
    digest = honest.on_chain.data.partition(":")[2]
    as_manifest = Commitment(hotkey, f"dcm1:{digest}", block)  # the digest under another tag
    for wrong in (other_salt, other_round, later, as_manifest, replace(later, data="ipfs://x")):
        assert not _chain_verdict(honest, wrong).ok, wrong


def test_a_commitment_after_the_pull_is_caught(honest: Round) -> None:
    honest.record.commitments_block["preference"] = COMMIT_BLOCK - 1
    findings = eval_commitment_findings(honest.record, honest.published, honest.on_chain)
    assert _verdicts(findings) == {COMMITTED: True, ON_CHAIN: True, BEFORE_PULL: False}
    # Committed in the very block the commitments were read at still counts as before.
    honest.record.commitments_block["preference"] = COMMIT_BLOCK
    findings = eval_commitment_findings(honest.record, honest.published, honest.on_chain)
    assert _verdicts(findings)[BEFORE_PULL]
    # No read block recorded at all: nothing shows the commitment came first.
    honest.record.commitments_block.clear()
    findings = eval_commitment_findings(honest.record, honest.published, honest.on_chain)
    assert not _verdicts(findings)[BEFORE_PULL]


@pytest.mark.parametrize(
    ("key", "value"),
    [("seed", "many"), ("round_id", None), ("items", [{"prompt": "an item without fields"}])],
)
def test_a_malformed_published_set_is_unusable_input(honest: Round, key: str, value: Any) -> None:
    """KeyError or ValueError: what the audit command reports as unusable input (exit 2)."""
    if value is None:
        del honest.published[key]
    else:
        honest.published[key] = value
    with pytest.raises((KeyError, ValueError)):
        eval_commitment_findings(honest.record, honest.published, honest.on_chain)


def test_an_emptied_published_set_is_caught_by_its_hash(honest: Round) -> None:
    honest.published["items"] = []
    findings = eval_commitment_findings(honest.record, honest.published, honest.on_chain)
    assert _verdicts(findings) == {COMMITTED: False, ON_CHAIN: False, BEFORE_PULL: True}


@pytest.mark.parametrize(
    ("key", "value"), [("seed", None), ("items", None), ("items", 1), ("items", ["not an item"])]
)
def test_a_published_set_of_the_wrong_types_is_unusable_input(
    honest: Round, key: str, value: Any
) -> None:
    honest.published[key] = value
    try:
        eval_commitment_findings(honest.record, honest.published, honest.on_chain)
    except (KeyError, ValueError):
        pass
    except Exception as exc:  # noqa: BLE001 - the point: which errors escape
        raise AssertionError(f"{type(exc).__name__} escapes: {exc}") from exc


# ---- one miner's signed response -----------------------------------------------------------

MINER_COMMIT_BLOCK = 90
NONCE = 1_700_000_000_123_456_789


def _samples(n: int) -> list[CotSample]:
    return [
        CotSample(
            prompt=f"sum {i} {i + 1}",
            chain_of_thought=f"{i} + {i + 1} = {2 * i + 1}.",
            final_answer=str(2 * i + 1),
        )
        for i in range(n)
    ]


@dataclass
class Served:
    """A miner's signed response, the round's record of the miner, the chain's commitment."""

    signed: SignedResponse
    record: RoundRecord
    miner: MinerRoundRecord
    on_chain: Commitment | None
    response: SubmissionResponse


def _signed(
    miner: Keypair,
    validator_hotkey: str,
    response: SubmissionResponse,
    nonce: int = NONCE,
) -> SignedResponse:
    body = response.model_dump_json().encode()
    binding = ResponseBinding(miner.ss58_address, validator_hotkey, nonce)
    headers = sign_response(miner, binding, body)
    return SignedResponse(
        miner.ss58_address, validator_hotkey, nonce, headers, body, len(response.samples), []
    )


@pytest.fixture
def served(alice: Keypair, bob: Keypair) -> Served:
    """Alice (a miner) answered Bob (the validator) with 5 samples of her committed manifest."""
    response = proven_response(Competition.COT_SFT, ROUND, _samples(5))
    record = replace(make_round(1, [1]), validator_hotkey=bob.ss58_address)
    miner = replace(
        record.miners[0], hotkey=alice.ss58_address, commit_block=MINER_COMMIT_BLOCK, unproven=0
    )
    committed = manifest_commitment(alice.ss58_address, response.manifest_root)
    on_chain = Commitment(alice.ss58_address, committed, MINER_COMMIT_BLOCK)
    return Served(_signed(alice, bob.ss58_address, response), record, miner, on_chain, response)


def _check(served: Served) -> tuple[dict[str, bool], list[Finding], Any, list[Any]]:
    findings, response, kept = response_findings(
        served.signed, served.record, served.miner, served.on_chain
    )
    return _verdicts(findings), findings, response, kept


SIGNATURE = "miner's signature"
FOR_THIS_ROUND = "signed for this round's validator and miner"
BINDS = "the commitment binds this hotkey to the root"
PROOFS = "proofs"


def test_an_honest_response_passes_and_gives_its_samples(served: Served) -> None:
    verdicts, findings, response, kept = _check(served)
    assert verdicts == {SIGNATURE: True, FOR_THIS_ROUND: True, BINDS: True, PROOFS: True}
    assert response == served.response
    assert kept == served.response.samples
    assert next(f for f in findings if f.check == PROOFS).detail == (
        "5 proven, 0 unproven (recorded 0)"
    )


def test_the_dump_a_round_keeps_reads_back(served: Served) -> None:
    """``signed/<competition>/<uid>.json`` as ``validator/round.py`` writes it."""
    signed = served.signed
    dump = {
        "uid": 1,
        "miner_hotkey": signed.miner_hotkey,
        "validator_hotkey": signed.validator_hotkey,
        "request_nonce_ns": signed.request_nonce_ns,
        "request": {"competition": "cot_sft", "round_id": ROUND, "num_samples": 5},
        "signature_headers": signed.signature_headers,
        "body": signed.body.decode("utf-8"),
        "kept_sha256": ["ab" * 32],
    }
    back = SignedResponse.from_dict(json.loads(json.dumps(dump)))
    assert back == replace(signed, kept_sha256=["ab" * 32])
    served.signed = back
    assert all(_check(served)[0].values())
    # A dump of the wrong JSON types is unusable input, named, as a missing key is.
    for key, value in [("signature_headers", [["a", "b"]]), ("request", None), ("body", None)]:
        bad = {**dump, key: value}
        if value is None and key == "body":
            del bad[key]
        with pytest.raises((KeyError, ValueError)):
            SignedResponse.from_dict(bad)


@pytest.mark.parametrize(
    "tamper",
    [
        "body",  # one served answer changed after signing
        "nonce",  # replayed against another request
        "validator",  # claimed for another validator than it was signed for
        "unsigned",
        "garbled",
    ],
)
def test_a_response_that_does_not_verify_stops_at_the_signature(
    served: Served, tamper: str, charlie: Keypair
) -> None:
    signed = served.signed
    if tamper == "body":
        body = signed.body.replace(b'"final_answer":"1"', b'"final_answer":"2"', 1)
        assert body != signed.body
        served.signed = replace(signed, body=body)
    elif tamper == "nonce":
        served.signed = replace(signed, request_nonce_ns=NONCE + 1)
    elif tamper == "validator":
        served.signed = replace(signed, validator_hotkey=charlie.ss58_address)
    elif tamper == "unsigned":
        served.signed = replace(signed, signature_headers={})
    else:
        headers = {**signed.signature_headers, HEADER_RESPONSE_SIGNATURE: "0xnot-hex"}
        served.signed = replace(signed, signature_headers=headers)
    verdicts, findings, response, kept = _check(served)
    assert verdicts == {SIGNATURE: False}
    assert (response, kept) == (None, [])
    expected = {
        "body": "does not verify",
        "nonce": "does not verify",
        "validator": "does not verify",
        "unsigned": "not signed",
        "garbled": "malformed",
    }[tamper]
    assert expected in findings[0].detail


def test_a_response_signed_by_another_hotkey_is_refused(
    served: Served, charlie: Keypair, bob: Keypair
) -> None:
    """Charlie signs Alice's response as his own: the signature is not Alice's."""
    by_charlie = _signed(charlie, bob.ss58_address, served.response)
    served.signed = replace(by_charlie, miner_hotkey=served.signed.miner_hotkey)
    verdicts, findings, _, _ = _check(served)
    assert verdicts == {SIGNATURE: False}
    assert "another hotkey" in findings[0].detail


def test_a_response_signed_for_another_round_or_miner_is_caught(
    served: Served, alice: Keypair, charlie: Keypair
) -> None:
    """Genuinely signed, but for Charlie as validator: not this round's (Bob's) response."""
    served.signed = _signed(alice, charlie.ss58_address, served.response)
    assert _check(served)[0] == {SIGNATURE: True, FOR_THIS_ROUND: False, BINDS: True, PROOFS: True}
    served.signed = _signed(alice, served.record.validator_hotkey, served.response)
    served.miner = replace(served.miner, hotkey=charlie.ss58_address)  # recorded for another
    verdicts = _check(served)[0]
    assert not verdicts[FOR_THIS_ROUND] and not verdicts[BINDS]


def test_the_miners_commitment_must_bind_its_root_at_the_recorded_block(
    served: Served, bob: Keypair
) -> None:
    assert served.on_chain is not None
    alice_hotkey, root = served.on_chain.hotkey, served.response.manifest_root
    cases = {
        "none": None,
        "later": replace(served.on_chain, block=MINER_COMMIT_BLOCK + 1),
        "stale": Commitment(alice_hotkey, manifest_commitment(alice_hotkey, "cd" * 32), 90),
        "replayed": Commitment(alice_hotkey, manifest_commitment(bob.ss58_address, root), 90),
        "foreign": Commitment(alice_hotkey, "ipfs://model", MINER_COMMIT_BLOCK),
    }
    for name, on_chain in cases.items():
        served.on_chain = on_chain
        verdicts, findings, response, _ = _check(served)
        assert verdicts == {SIGNATURE: True, FOR_THIS_ROUND: True, BINDS: False, PROOFS: True}, name
        assert response is not None  # the samples are still returned for the re-score
    served.on_chain = None
    detail = next(f.detail for f in _check(served)[1] if f.check == BINDS)
    assert "commit before it serves" in detail


def test_unproven_samples_must_match_the_recorded_count(served: Served, alice: Keypair) -> None:
    """A sample changed after proving (then signed): its proof fails; the record must say so."""
    samples = _samples(5)  # what the fixture served
    assert served.response.samples == samples
    samples[2] = CotSample(
        prompt=samples[2].prompt, chain_of_thought="changed after proving.", final_answer="0"
    )
    altered = served.response.model_copy(update={"samples": samples})
    served.signed = _signed(alice, served.record.validator_hotkey, altered)
    verdicts, findings, _, kept = _check(served)
    assert verdicts[SIGNATURE] and not verdicts[PROOFS]
    assert next(f.detail for f in findings if f.check == PROOFS) == (
        "4 proven, 1 unproven (recorded 0)"
    )
    assert kept == [s for i, s in enumerate(samples) if i != 2]
    served.miner = replace(served.miner, unproven=1)
    assert _check(served)[0][PROOFS]


def test_a_signed_body_that_is_not_a_response_is_a_value_error(
    served: Served, alice: Keypair
) -> None:
    """The miner signed it, so it is the miner's answer, but there is nothing to audit in it."""
    body = b'{"samples": "not a response"}'
    binding = ResponseBinding(alice.ss58_address, served.record.validator_hotkey, NONCE)
    served.signed = replace(
        served.signed, body=body, signature_headers=sign_response(alice, binding, body)
    )
    with pytest.raises(ValidationError):
        _check(served)
