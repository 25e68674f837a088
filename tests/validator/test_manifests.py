"""Responses held to the miners' on-chain manifest commitments (validator/manifests.py)."""

from __future__ import annotations

from bittensor.sp_core import Keypair

from protocol.chain.base import Commitment
from protocol.commitments import eval_commitment, manifest_commitment
from protocol.manifest import Manifest
from protocol.schemas import Competition, CotSample, SubmissionResponse
from tests.support.proofs import proven_response
from validator.manifests import check_response, held_to_commitments
from validator.pull import PullResult

ALICE = Keypair.create_from_uri("//Alice").ss58_address
BOB = Keypair.create_from_uri("//Bob").ss58_address
COT = Competition.COT_SFT


def _samples(n: int, tag: str = "") -> list[CotSample]:
    return [
        CotSample(
            prompt=f"What is {i} + {i}?{tag}",
            chain_of_thought=f"{i} + {i}",
            final_answer=str(2 * i),
        )
        for i in range(n)
    ]


def _pulled(uid: int, hotkey: str, response: SubmissionResponse) -> PullResult:
    return PullResult(uid, hotkey, response, None, 200, 1, None, 0.1, None)


def _committed(hotkey: str, root: str, block: int = 7) -> Commitment:
    return Commitment(hotkey, manifest_commitment(hotkey, root), block)


def test_a_committed_response_passes_with_its_block() -> None:
    response = proven_response(COT, "r", _samples(5))
    check = check_response(_pulled(1, ALICE, response), _committed(ALICE, response.manifest_root))
    assert (check.error, check.unproven, check.commit_block) == (None, 0, 7)
    assert check.manifest_root == response.manifest_root


def test_a_pool_subset_passes() -> None:
    """A miner commits its whole pool and serves a few: each proof is against the pool's root."""
    pool = _samples(40)
    manifest = Manifest([(COT, s) for s in pool])
    response = proven_response(COT, "r", pool[3:9], manifest)
    check = check_response(_pulled(1, ALICE, response), _committed(ALICE, manifest.root))
    assert check.error is None and check.unproven == 0


def test_no_commitment_refuses_the_response() -> None:
    response = proven_response(COT, "r", _samples(3))
    check = check_response(_pulled(1, ALICE, response), None)
    assert check.error is not None and "commit before it serves" in check.error


def test_a_commitment_replayed_under_another_hotkey_is_refused() -> None:
    """Bob copies Alice's commitment string and serves her data under her root: the binding
    names Alice, so Bob's commitment proves nothing for Bob."""
    response = proven_response(COT, "r", _samples(3))
    replayed = Commitment(BOB, manifest_commitment(ALICE, response.manifest_root), 5)
    check = check_response(_pulled(2, BOB, response), replayed)
    assert check.error is not None and "replayed" in check.error


def test_a_stale_or_foreign_commitment_is_refused() -> None:
    response = proven_response(COT, "r", _samples(3))
    stale = _committed(ALICE, "ab" * 32)
    assert "replayed" in (check_response(_pulled(1, ALICE, response), stale).error or "")
    foreign = Commitment(ALICE, "ipfs://model", 3)
    assert "not a manifest" in (check_response(_pulled(1, ALICE, response), foreign).error or "")
    evaluation = Commitment(ALICE, eval_commitment("r", {"cot_sft": "00" * 32}, "11" * 16), 3)
    assert "not a manifest" in (check_response(_pulled(1, ALICE, response), evaluation).error or "")


def test_a_sample_changed_after_proving_is_dropped_alone() -> None:
    """Equivocation: under one committed root a miner cannot serve other content; the changed
    sample's proof fails and only that sample goes."""
    samples = _samples(6)
    response = proven_response(COT, "r", samples)
    altered = list(response.samples)
    altered[2] = CotSample(prompt="What is 2 + 2?", chain_of_thought="2 + 2", final_answer="5")
    tampered = response.model_copy(update={"samples": altered})
    results, checks = held_to_commitments(
        [_pulled(1, ALICE, tampered)], {ALICE: _committed(ALICE, response.manifest_root)}
    )
    assert checks[1].unproven == 1 and checks[1].reasons[0].startswith("sample 2:")
    kept = results[0].response
    assert kept is not None and len(kept.samples) == 5 and altered[2] not in kept.samples


def test_samples_outside_the_root_are_dropped_and_all_outside_refused() -> None:
    """Proofs from another manifest (data the miner never committed) do not verify."""
    committed = Manifest([(COT, s) for s in _samples(8)])
    outside = proven_response(COT, "r", _samples(4, tag=" (new)"))
    forged = outside.model_copy(
        update={"manifest_root": committed.root, "manifest_size": committed.size}
    )
    results, checks = held_to_commitments(
        [_pulled(1, ALICE, forged)], {ALICE: _committed(ALICE, committed.root)}
    )
    assert (
        checks[1].unproven == 4
        and checks[1].error == "no served sample is in the committed manifest"
    )
    assert results[0].response is None and results[0].error == checks[1].error


def test_a_competition_swap_fails_the_proofs() -> None:
    """A leaf names its competition: a CoT leaf's proof does not hold for another competition."""
    response = proven_response(COT, "r", _samples(3))
    swapped = response.model_copy(update={"competition": Competition.PREFERENCE})
    check = check_response(_pulled(1, ALICE, swapped), _committed(ALICE, response.manifest_root))
    assert check.error == "no served sample is in the committed manifest"
