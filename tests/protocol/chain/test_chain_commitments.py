"""The commitment contract (the Commitments pallet), run against LocalChain and SdkChain."""

from __future__ import annotations

import pytest
from bittensor.sp_core import Keypair

from protocol.chain import ChainError, Commitment, CommitmentSpaceError, NotRegisteredError
from protocol.chain.base import (
    COMMITMENT_SPACE_PER_EPOCH,
    MAX_COMMITMENT_BYTES,
    epoch_index,
)
from protocol.commitments import manifest_commitment
from protocol.schemas import Competition, CotSample
from tests.protocol.chain.chain_harness import Harness, MakeChain
from tests.support.proofs import proven_response
from validator.manifests import check_response
from validator.pull import PullResult

TEMPO = 100  # an epoch of 101 blocks: room for 32 one-block writes on the stand-in


def _miners(make_chain: MakeChain, alice: Keypair, *hotkeys: Keypair, **rules: object) -> Harness:
    """A chain with ``hotkeys`` registered (uids 0..), all owned by Alice's coldkey."""
    harness = make_chain(**rules)
    for hotkey in hotkeys:
        harness.chain.register(hotkey, alice.ss58_address)
    return harness


def _to_epoch_start(harness: Harness, tempo: int) -> int:
    """Advance to the first block of the next epoch (by ``epoch_index``); returns its index."""
    block = harness.chain.block()
    netuid = harness.chain.netuid
    epoch = epoch_index(block, netuid, tempo) + 1
    harness.advance(epoch * (tempo + 1) - netuid - 1 - block)
    assert epoch_index(harness.chain.block(), netuid, tempo) == epoch
    assert epoch_index(harness.chain.block() - 1, netuid, tempo) == epoch - 1
    return epoch


def test_a_commitment_reads_back_with_its_block(
    make_chain: MakeChain, alice: Keypair, bob: Keypair
) -> None:
    harness = _miners(make_chain, alice, alice, bob)
    text = "dcm1:" + "ab" * 32

    stored = harness.chain.commit(bob, text)

    assert stored == Commitment(bob.ss58_address, text, harness.chain.block())
    assert harness.chain.commitments() == {bob.ss58_address: stored}
    assert harness.chain.commitments(block=stored.block) == {bob.ss58_address: stored}
    assert harness.chain.commitments(block=stored.block - 1) == {}


def test_a_second_commitment_replaces_the_first_and_history_keeps_it(
    make_chain: MakeChain, alice: Keypair, bob: Keypair, charlie: Keypair
) -> None:
    harness = _miners(make_chain, alice, alice, bob, charlie)
    first = harness.chain.commit(bob, "first")
    harness.advance(5)
    other = harness.chain.commit(charlie, "charlie's")
    harness.advance(5)

    second = harness.chain.commit(bob, "second")

    assert second.block > first.block
    assert harness.chain.commitments() == {bob.ss58_address: second, charlie.ss58_address: other}
    assert harness.chain.commitments(block=second.block - 1) == {
        bob.ss58_address: first,
        charlie.ss58_address: other,
    }
    assert harness.chain.commitments(block=first.block) == {bob.ss58_address: first}


def test_an_unregistered_hotkey_cannot_commit(
    make_chain: MakeChain, alice: Keypair, dave: Keypair
) -> None:
    harness = _miners(make_chain, alice, alice)

    with pytest.raises(NotRegisteredError):
        harness.chain.commit(dave, "hello")
    assert harness.chain.commitments() == {}


@pytest.mark.parametrize(
    "data",
    ["x" * (MAX_COMMITMENT_BYTES + 1), "é" * (MAX_COMMITMENT_BYTES // 2 + 1)],
    ids=["129-ascii", "130-utf8"],
)
def test_data_over_128_bytes_of_utf8_is_refused(
    make_chain: MakeChain, alice: Keypair, bob: Keypair, data: str
) -> None:
    harness = _miners(make_chain, alice, bob)

    with pytest.raises(ChainError, match=str(MAX_COMMITMENT_BYTES)):
        harness.chain.commit(bob, data)
    assert harness.chain.commitments() == {}


def test_exactly_128_bytes_fit(make_chain: MakeChain, alice: Keypair, bob: Keypair) -> None:
    harness = _miners(make_chain, alice, bob)
    data = "é" * (MAX_COMMITMENT_BYTES // 2)  # 64 characters, 128 bytes

    assert harness.chain.commit(bob, data).data == data
    assert harness.chain.commitments()[bob.ss58_address].data == data


@pytest.mark.parametrize(
    ("size", "allowed"),
    [(1, 31), (MAX_COMMITMENT_BYTES, COMMITMENT_SPACE_PER_EPOCH // MAX_COMMITMENT_BYTES)],
    ids=["min-100-each", "128-each"],
)
def test_the_epoch_space_runs_out_and_resets_at_the_next_epoch(
    make_chain: MakeChain, alice: Keypair, bob: Keypair, charlie: Keypair, size: int, allowed: int
) -> None:
    harness = _miners(make_chain, alice, bob, charlie, tempo=TEMPO)
    netuid = harness.chain.netuid
    epoch = _to_epoch_start(harness, TEMPO)

    made = [harness.chain.commit(bob, f"{n:0{size}d}"[-size:]) for n in range(allowed)]

    assert {epoch_index(c.block, netuid, TEMPO) for c in made} == {epoch}
    with pytest.raises(CommitmentSpaceError, match=str(COMMITMENT_SPACE_PER_EPOCH)):
        harness.chain.commit(bob, "one too many")
    assert harness.chain.commitments()[bob.ss58_address] == made[-1]
    assert harness.chain.commit(charlie, "own space").data == "own space"  # per hotkey

    harness.advance(TEMPO + 1)
    again = harness.chain.commit(bob, "next epoch")
    assert epoch_index(again.block, netuid, TEMPO) == epoch + 1
    assert harness.chain.commitments()[bob.ss58_address] == again


def test_the_validator_holds_responses_to_what_each_chain_reads_back(
    make_chain: MakeChain, alice: Keypair, bob: Keypair, charlie: Keypair
) -> None:
    """Through each chain's own read path: Bob commits his manifest and passes; Charlie
    replays Bob's commitment string and serves Bob's data: refused; a later read at the
    earlier block still shows Bob's first root."""
    harness = _miners(make_chain, alice, bob, charlie, tempo=TEMPO)
    samples = [
        CotSample(prompt=f"p{i}", chain_of_thought="c" * 9, final_answer="1") for i in range(4)
    ]
    response = proven_response(Competition.COT_SFT, "r", samples)
    string = manifest_commitment(bob.ss58_address, response.manifest_root)
    first = harness.chain.commit(bob, string)
    harness.advance(1)
    harness.chain.commit(charlie, string)
    read = harness.chain.commitments()

    def pulled(key: Keypair) -> PullResult:
        return PullResult(0, key.ss58_address, response, None, 200, 1, None, 0.1, None)

    ok = check_response(pulled(bob), read.get(bob.ss58_address))
    assert ok.error is None and ok.commit_block == first.block
    replay = check_response(pulled(charlie), read.get(charlie.ss58_address))
    assert replay.error is not None and "replayed" in replay.error
    harness.advance(1)
    harness.chain.commit(bob, manifest_commitment(bob.ss58_address, "cd" * 32))
    assert harness.chain.commitments(first.block)[bob.ss58_address] == first
    stale = check_response(pulled(bob), harness.chain.commitments().get(bob.ss58_address))
    assert stale.error is not None
