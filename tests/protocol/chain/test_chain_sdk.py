"""SdkChain on the stand-in substrate: the calls the SDK composes and who signs them."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest
from bittensor.result import ChainError as SdkChainError
from bittensor.result import ExtrinsicResult
from bittensor.sp_core import Keypair

from protocol.chain import (
    ChainError,
    Commitment,
    CommitmentSpaceError,
    NotRegisteredError,
    RateLimitedError,
    SdkChain,
)
from protocol.chain.sdk import _translate_commit
from tests.protocol.chain.standin_substrate import StandInSubstrate

U16_MAX = 65535


@pytest.fixture
def standin() -> StandInSubstrate:
    return StandInSubstrate(1)


@pytest.fixture
def chain(standin: StandInSubstrate, alice: Keypair) -> Iterator[SdkChain]:
    sdk_chain = SdkChain("local", 1, substrate=standin.as_substrate(), coldkey=alice)
    yield sdk_chain
    sdk_chain.close()


def _calls(standin: StandInSubstrate) -> list[tuple[str, str]]:
    return [(s.module, s.function) for s in standin.submitted]


def test_set_weights_composes_set_mechanism_weights_with_the_u16_it_returns(
    chain: SdkChain, standin: StandInSubstrate, alice: Keypair, bob: Keypair, charlie: Keypair
) -> None:
    standin.add_neuron(alice.ss58_address, alice.ss58_address, stake=10.0)
    standin.add_neuron(bob.ss58_address, alice.ss58_address)
    standin.add_neuron(charlie.ss58_address, alice.ss58_address)

    written = chain.set_weights(alice, {2: 0.25, 1: 1.0})

    (call,) = standin.submitted
    assert (call.module, call.function, call.signer) == (
        "SubtensorModule",
        "set_mechanism_weights",
        alice.ss58_address,
    )
    assert call.params == {
        "netuid": 1,
        "mecid": 0,
        "dests": [1, 2],
        "weights": [U16_MAX, 16384],
        "version_key": 0,
    }
    assert written == dict(zip(call.params["dests"], call.params["weights"], strict=True))
    assert standin.neurons[0].last_update == call.block


def test_set_weights_takes_the_timelocked_commit_path_when_commit_reveal_is_on(
    alice: Keypair, bob: Keypair
) -> None:
    standin = StandInSubstrate(1, commit_reveal=True)
    standin.add_neuron(alice.ss58_address, alice.ss58_address, stake=10.0)
    standin.add_neuron(bob.ss58_address, alice.ss58_address)
    chain = SdkChain("local", 1, substrate=standin.as_substrate())
    try:
        written = chain.set_weights(alice, {1: 1.0})
    finally:
        chain.close()

    (call,) = standin.submitted
    assert (call.module, call.function) == (
        "SubtensorModule",
        "commit_timelocked_mechanism_weights",
    )
    assert call.params["netuid"] == 1 and call.params["reveal_round"] > 0
    assert len(call.params["commit"]) > 0  # ciphertext: the weights stay hidden until reveal
    assert written == {1: U16_MAX}
    assert standin.neurons[0].weights == {}  # not applied until the chain reveals it


def test_serve_composes_serve_axon_with_the_ip_as_an_integer(
    chain: SdkChain, standin: StandInSubstrate, alice: Keypair, bob: Keypair
) -> None:
    standin.add_neuron(bob.ss58_address, alice.ss58_address)

    chain.serve(bob, "192.168.1.20", 8091)

    (call,) = standin.submitted
    assert (call.module, call.function, call.signer) == (
        "SubtensorModule",
        "serve_axon",
        bob.ss58_address,
    )
    assert call.params["ip"] == int(ipaddress.IPv4Address("192.168.1.20"))
    assert (call.params["port"], call.params["ip_type"], call.params["netuid"]) == (8091, 4, 1)
    assert chain.metagraph()[0].endpoint == "192.168.1.20:8091"


def test_register_burns_through_the_mev_shield_signed_by_the_coldkey(
    chain: SdkChain, standin: StandInSubstrate, alice: Keypair, bob: Keypair
) -> None:
    uid = chain.register(bob, alice.ss58_address)

    assert uid == 0
    carrier, inner = standin.submitted  # the author includes the carrier, then the decrypted call
    assert (carrier.module, carrier.function) == ("MevShield", "submit_encrypted")
    assert (inner.module, inner.function) == ("SubtensorModule", "burned_register")
    assert inner.params == {"netuid": 1, "hotkey": bob.ss58_address}
    assert carrier.signer == inner.signer == alice.ss58_address
    assert standin.neurons[0].coldkey == alice.ss58_address


def test_register_of_a_registered_hotkey_submits_nothing(
    standin: StandInSubstrate, alice: Keypair, bob: Keypair
) -> None:
    standin.add_neuron(alice.ss58_address, alice.ss58_address)
    standin.add_neuron(bob.ss58_address, alice.ss58_address)
    chain = SdkChain("local", 1, substrate=standin.as_substrate())  # no coldkey: reads only
    try:
        assert chain.register(bob, alice.ss58_address) == 1
    finally:
        chain.close()
    assert standin.submitted == []


def test_register_needs_the_matching_coldkey(
    standin: StandInSubstrate, alice: Keypair, bob: Keypair, charlie: Keypair
) -> None:
    without = SdkChain("local", 1, substrate=standin.as_substrate())
    other = SdkChain("local", 1, substrate=standin.as_substrate(), coldkey=charlie)
    try:
        with pytest.raises(ChainError, match="coldkey"):
            without.register(bob, alice.ss58_address)
        with pytest.raises(ChainError, match="coldkey"):
            other.register(bob, alice.ss58_address)
    finally:
        without.close()
        other.close()
    assert standin.submitted == []


def test_refusals_are_caught_before_anything_is_signed(
    chain: SdkChain, standin: StandInSubstrate, alice: Keypair, bob: Keypair
) -> None:
    standin.hyper["WeightsSetRateLimit"] = 10
    standin.hyper["MinAllowedWeights"] = 2
    standin.add_neuron(alice.ss58_address, alice.ss58_address, stake=10.0)
    standin.add_neuron(bob.ss58_address, alice.ss58_address)
    standin.neurons[0].last_update = standin.head - 1

    with pytest.raises(RateLimitedError, match="Retry in ~9 blocks"):
        chain.set_weights(alice, {1: 1.0, 0: 1.0})
    standin.advance(10)
    with pytest.raises(ChainError, match="at least 2"):
        chain.set_weights(alice, {1: 1.0})
    assert standin.submitted == []


def test_metagraph_of_a_missing_subnet_is_an_error(standin: StandInSubstrate) -> None:
    chain = SdkChain("local", 7, substrate=standin.as_substrate())
    try:
        with pytest.raises(ChainError, match="does not exist"):
            chain.metagraph()
    finally:
        chain.close()


def test_a_closed_chain_refuses_calls(chain: SdkChain) -> None:
    chain.close()
    chain.close()  # idempotent
    with pytest.raises(ChainError, match="closed"):
        chain.block()


def test_commit_composes_set_commitment_with_one_raw_field_signed_by_the_hotkey(
    chain: SdkChain, standin: StandInSubstrate, alice: Keypair, bob: Keypair
) -> None:
    standin.add_neuron(bob.ss58_address, alice.ss58_address)

    stored = chain.commit(bob, "dcm1:hello")

    (call,) = standin.submitted
    assert (call.module, call.function, call.signer) == (
        "Commitments",
        "set_commitment",
        bob.ss58_address,
    )
    raw = b"dcm1:hello"
    assert call.params == {"netuid": 1, "info": {"fields": [[{"Raw10": "0x" + raw.hex()}]]}}
    assert stored == Commitment(bob.ss58_address, "dcm1:hello", call.block)
    assert standin.commitment_history[bob.ss58_address] == [
        (
            call.block,
            {"deposit": 0, "block": call.block, "info": {"fields": [{"Raw10": "0x" + raw.hex()}]}},
        )
    ]


def test_commit_over_128_bytes_is_refused_before_anything_is_signed(
    chain: SdkChain, standin: StandInSubstrate, alice: Keypair, bob: Keypair
) -> None:
    standin.add_neuron(bob.ss58_address, alice.ss58_address)

    with pytest.raises(ChainError, match="128"):
        chain.commit(bob, "x" * 129)
    assert standin.composed == [] and standin.submitted == []


def test_commit_refusals_become_the_matching_chain_errors(
    chain: SdkChain, standin: StandInSubstrate, alice: Keypair, bob: Keypair
) -> None:
    with pytest.raises(NotRegisteredError, match="AccountNotAllowedCommit"):
        chain.commit(bob, "unregistered")
    assert [result.error.name for result in standin.failed if result.error] == [
        "AccountNotAllowedCommit"
    ]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("SpaceLimitExceeded", CommitmentSpaceError),
        ("AccountNotAllowedCommit", NotRegisteredError),
        ("TooManyFieldsInCommitmentInfo", ChainError),
    ],
)
def test_commit_errors_translate_by_pallet_error_name(name: str, kind: type[ChainError]) -> None:
    # AccountNotAllowedCommit's SDK code is NOT_AUTHORIZED: by code it would read as a permit.
    result = ExtrinsicResult(success=False, message="refused", error=SdkChainError("refused", name))

    error = _translate_commit(result)

    assert type(error) is kind and str(error) == "refused"


def test_sealed_commitments_are_left_out(
    chain: SdkChain, standin: StandInSubstrate, alice: Keypair, bob: Keypair
) -> None:
    standin.add_neuron(alice.ss58_address, alice.ss58_address)
    standin.add_neuron(bob.ss58_address, alice.ss58_address)
    chain.commit(alice, "in the clear")
    sealed = {"TimelockEncrypted": {"encrypted": "0x00", "reveal_round": 10**9}}
    record = {"deposit": 0, "block": standin.head, "info": {"fields": [sealed]}}
    standin.commitment_history[bob.ss58_address] = [(standin.head, record)]

    assert list(chain.commitments()) == [alice.ss58_address]
