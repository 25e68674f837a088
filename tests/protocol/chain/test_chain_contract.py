"""The Chain contract, run against LocalChain and against SdkChain on the stand-in substrate."""

from __future__ import annotations

import pytest
from bittensor.sp_core import Keypair

from protocol.chain import (
    ChainError,
    Neuron,
    NotRegisteredError,
    NoValidatorPermitError,
    RateLimitedError,
)
from tests.protocol.chain.chain_harness import Harness, MakeChain

U16_MAX = 65535


def _network(
    make_chain: MakeChain, alice: Keypair, bob: Keypair, charlie: Keypair, **rules: object
) -> Harness:
    """Alice (a staked validator, uid 0), Bob and Charlie (miners, uids 1 and 2)."""
    harness = make_chain(**rules)
    for hotkey in (alice, bob, charlie):
        harness.chain.register(hotkey, alice.ss58_address)
    harness.stake(alice.ss58_address, 100.0)
    return harness


def test_metagraph_shape(
    make_chain: MakeChain, alice: Keypair, bob: Keypair, charlie: Keypair
) -> None:
    harness = _network(make_chain, alice, bob, charlie)
    harness.chain.serve(bob, "10.0.0.2", 8091)

    graph = harness.chain.metagraph()

    assert [n.uid for n in graph] == [0, 1, 2]
    assert all(isinstance(n, Neuron) for n in graph)
    assert [n.hotkey for n in graph] == [alice.ss58_address, bob.ss58_address, charlie.ss58_address]
    assert {n.coldkey for n in graph} == {alice.ss58_address}
    assert [n.stake for n in graph] == [100.0, 0.0, 0.0]
    assert [n.validator_permit for n in graph] == [True, False, False]
    assert [n.endpoint for n in graph] == [None, "10.0.0.2:8091", None]
    assert [n.last_update for n in graph] == [0, 0, 0]


def test_register_is_idempotent(make_chain: MakeChain, alice: Keypair, bob: Keypair) -> None:
    harness = make_chain()
    assert harness.chain.register(alice, alice.ss58_address) == 0
    assert harness.chain.register(bob, alice.ss58_address) == 1
    assert harness.chain.register(alice, alice.ss58_address) == 0
    assert len(harness.chain.metagraph()) == 2


def test_set_weights_writes_u16_with_the_largest_at_65535(
    make_chain: MakeChain, alice: Keypair, bob: Keypair, charlie: Keypair
) -> None:
    harness = _network(make_chain, alice, bob, charlie)

    written = harness.chain.set_weights(alice, {2: 1.0, 1: 0.5})

    assert written == {1: 32768, 2: U16_MAX}
    assert harness.written(0) == written
    assert harness.chain.metagraph()[0].last_update > 0


def test_set_weights_drops_weights_that_round_to_zero(
    make_chain: MakeChain, alice: Keypair, bob: Keypair, charlie: Keypair
) -> None:
    harness = _network(make_chain, alice, bob, charlie)

    written = harness.chain.set_weights(alice, {1: 1.0, 2: 1e-9, 0: 0.0})

    assert written == {1: U16_MAX}
    assert harness.written(0) == {1: U16_MAX}


def test_set_weights_clips_to_max_weight_limit(
    make_chain: MakeChain, alice: Keypair, bob: Keypair, charlie: Keypair, dave: Keypair
) -> None:
    harness = _network(make_chain, alice, bob, charlie, max_weight_limit=0.5)
    harness.chain.register(dave, alice.ss58_address)

    written = harness.chain.set_weights(alice, {1: 10.0, 2: 1.0, 3: 1.0})

    # Uid 1 alone would take 10/12 of the total; clipped, it holds half (up to u16 rounding).
    assert written == {1: U16_MAX, 2: 32767, 3: 32767}
    limit_u16 = round(0.5 * U16_MAX)  # the chain's check: max / sum <= limit_u16 / 65535
    assert max(written.values()) * U16_MAX <= limit_u16 * sum(written.values())


def test_too_few_weights_are_refused(
    make_chain: MakeChain, alice: Keypair, bob: Keypair, charlie: Keypair
) -> None:
    harness = _network(make_chain, alice, bob, charlie, min_allowed_weights=2)

    with pytest.raises(ChainError, match="at least 2"):
        harness.chain.set_weights(alice, {1: 1.0, 2: 0.0})
    assert harness.written(0) == {}
    assert harness.chain.metagraph()[0].last_update == 0


def test_a_self_weight_is_exempt_from_the_minimum(
    make_chain: MakeChain, alice: Keypair, bob: Keypair, charlie: Keypair
) -> None:
    harness = _network(make_chain, alice, bob, charlie, min_allowed_weights=2)

    assert harness.chain.set_weights(alice, {0: 1.0}) == {0: U16_MAX}


def test_all_zero_weights_are_refused(
    make_chain: MakeChain, alice: Keypair, bob: Keypair, charlie: Keypair
) -> None:
    harness = _network(make_chain, alice, bob, charlie)

    with pytest.raises(ChainError, match="zero"):
        harness.chain.set_weights(alice, {1: 0.0, 2: 0.0})


def test_rate_limit_refuses_until_enough_blocks_pass(
    make_chain: MakeChain, alice: Keypair, bob: Keypair, charlie: Keypair
) -> None:
    harness = _network(make_chain, alice, bob, charlie, weights_rate_limit=5)
    harness.chain.set_weights(alice, {1: 1.0})

    harness.advance(3)
    with pytest.raises(RateLimitedError):
        harness.chain.set_weights(alice, {2: 1.0})
    assert harness.written(0) == {1: U16_MAX}

    harness.advance(3)
    assert harness.chain.set_weights(alice, {2: 1.0}) == {2: U16_MAX}


def test_unregistered_hotkey_is_refused(
    make_chain: MakeChain, alice: Keypair, dave: Keypair
) -> None:
    harness = make_chain()
    harness.chain.register(alice, alice.ss58_address)

    with pytest.raises(NotRegisteredError):
        harness.chain.set_weights(dave, {0: 1.0})
    with pytest.raises(ChainError):
        harness.chain.serve(dave, "10.0.0.9", 9000)


def test_weights_on_others_need_a_validator_permit(
    make_chain: MakeChain, alice: Keypair, bob: Keypair, charlie: Keypair
) -> None:
    harness = _network(make_chain, alice, bob, charlie)

    with pytest.raises(NoValidatorPermitError):
        harness.chain.set_weights(bob, {0: 1.0, 2: 1.0})
    assert harness.written(1) == {}
    assert harness.chain.set_weights(bob, {1: 1.0}) == {1: U16_MAX}  # a self-weight needs none


def test_rules_block_and_epoch(make_chain: MakeChain) -> None:
    harness = make_chain(
        weights_rate_limit=7, min_allowed_weights=3, max_weight_limit=0.25, tempo=50
    )
    rules = harness.chain.weight_rules()

    assert (rules.weights_rate_limit, rules.min_allowed_weights, rules.tempo) == (7, 3, 50)
    assert rules.max_weight_limit == pytest.approx(0.25, abs=1 / U16_MAX)
    start = harness.chain.block()
    harness.advance(4)
    assert harness.chain.block() == start + 4
    assert 0 <= harness.chain.blocks_until_next_epoch() <= 51
