"""LocalChain's own behaviour: its file, its clock, its faucet, permits and limits."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from bittensor.sp_core import Keypair

from protocol.chain import (
    ChainError,
    CommitmentSpaceError,
    LocalChain,
    LocalParams,
    is_endpoint,
    open_chain,
    public_network,
)
from protocol.chain.local import SCHEMA_VERSION
from protocol.chain.sdk import SdkChain
from tests.protocol.chain.chain_harness import ManualClock


def test_blocks_follow_wall_time_from_the_genesis_in_the_file(tmp_path: Path) -> None:
    clock = ManualClock()
    first = LocalChain(tmp_path / "c.sqlite", block_time_s=0.5, clock=clock)
    clock.now += 10.0
    assert first.block() == 20

    later = ManualClock(clock.now + 5.0)
    second = LocalChain(tmp_path / "c.sqlite", block_time_s=99.0, clock=later)
    assert second.block() == 30  # genesis and block time come from the file, not the caller


def test_params_persist_and_can_be_changed(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    LocalChain(path, params=LocalParams(tempo=20, min_allowed_weights=4))

    reopened = LocalChain(path)
    assert reopened.params().tempo == 20 and reopened.params().min_allowed_weights == 4
    assert reopened.set_params(weights_rate_limit=3).weights_rate_limit == 3
    assert LocalChain(path).weight_rules().weights_rate_limit == 3
    with pytest.raises(ChainError, match="unknown"):
        reopened.set_params(not_a_param=1)


def test_subnets_in_one_file_are_separate(tmp_path: Path, alice: Keypair) -> None:
    one = LocalChain(tmp_path / "c.sqlite", 1)
    two = LocalChain(tmp_path / "c.sqlite", 2)
    one.register(alice, alice.ss58_address)
    assert len(one.metagraph()) == 1 and two.metagraph() == []


def test_a_full_subnet_refuses_registration(tmp_path: Path, alice: Keypair, bob: Keypair) -> None:
    chain = LocalChain(tmp_path / "c.sqlite", params=LocalParams(max_uids=1))
    chain.register(alice, alice.ss58_address)
    with pytest.raises(ChainError, match="full"):
        chain.register(bob, alice.ss58_address)


def test_a_hotkey_belongs_to_one_coldkey(tmp_path: Path, alice: Keypair, bob: Keypair) -> None:
    chain = LocalChain(tmp_path / "c.sqlite")
    chain.register(alice, alice.ss58_address)
    with pytest.raises(ChainError, match="owned"):
        chain.register(alice, bob.ss58_address)


def test_permits_go_to_the_top_stakes_above_the_minimum(
    tmp_path: Path, alice: Keypair, bob: Keypair, charlie: Keypair, dave: Keypair
) -> None:
    chain = LocalChain(
        tmp_path / "c.sqlite", params=LocalParams(max_validators=2, min_validator_stake=5.0)
    )
    for hotkey in (alice, bob, charlie, dave):
        chain.register(hotkey, alice.ss58_address)
    chain.add_stake(alice.ss58_address, 10.0)
    chain.add_stake(bob.ss58_address, 30.0)
    chain.add_stake(charlie.ss58_address, 20.0)
    assert chain.add_stake(dave.ss58_address, 2.0) == 2.0
    assert chain.add_stake(dave.ss58_address, 2.0) == 4.0  # the faucet adds up

    assert [n.validator_permit for n in chain.metagraph()] == [False, True, True, False]
    with pytest.raises(ChainError):
        chain.add_stake(dave.ss58_address, 0.0)


def test_weights_on_unknown_uids_are_refused(tmp_path: Path, alice: Keypair) -> None:
    chain = LocalChain(tmp_path / "c.sqlite")
    chain.register(alice, alice.ss58_address)
    chain.add_stake(alice.ss58_address, 10.0)
    with pytest.raises(ChainError, match="not registered"):
        chain.set_weights(alice, {0: 1.0, 5: 1.0})
    assert chain.weights(0) == {}


def test_serve_validates_the_endpoint(tmp_path: Path, alice: Keypair) -> None:
    chain = LocalChain(tmp_path / "c.sqlite")
    chain.register(alice, alice.ss58_address)
    with pytest.raises(ValueError):
        chain.serve(alice, "not-an-ip", 8000)
    with pytest.raises(ChainError, match="port"):
        chain.serve(alice, "127.0.0.1", 0)
    chain.serve(alice, "::1", 8000)
    assert chain.metagraph()[0].endpoint == "[::1]:8000"


def test_epochs_follow_the_chain_schedule(tmp_path: Path) -> None:
    clock = ManualClock()
    chain = LocalChain(tmp_path / "c.sqlite", 1, params=LocalParams(tempo=9), clock=clock)
    seen = []
    for _ in range(10):
        seen.append(chain.blocks_until_next_epoch())
        clock.now += 1.0
    # Netuid 1, tempo 9: epochs run at blocks 7, 17, ... (subtensor's fixed schedule).
    assert seen == [7, 6, 5, 4, 3, 2, 1, 0, 9, 8]


def test_the_commitment_space_resets_the_block_after_the_epoch_runs(
    tmp_path: Path, alice: Keypair
) -> None:
    clock = ManualClock()
    chain = LocalChain(tmp_path / "c.sqlite", 1, params=LocalParams(tempo=9), clock=clock)
    chain.register(alice, alice.ss58_address)
    for n in range(31):
        chain.commit(alice, str(n))

    # Netuid 1, tempo 9: the epoch runs at block 7 and epoch_index moves on at block 8.
    with pytest.raises(CommitmentSpaceError, match="used 3100 of its 3100 .* resets in 8 blocks"):
        chain.commit(alice, "full")
    clock.now += 7.0
    with pytest.raises(CommitmentSpaceError, match="resets in 1 blocks"):
        chain.commit(alice, "still full")
    clock.now += 1.0
    assert chain.commit(alice, "reset").block == 8


def test_the_later_of_two_commitments_in_one_block_holds(tmp_path: Path, alice: Keypair) -> None:
    chain = LocalChain(tmp_path / "c.sqlite", clock=ManualClock())
    chain.register(alice, alice.ss58_address)
    first = chain.commit(alice, "first")
    second = chain.commit(alice, "second")

    assert first.block == second.block
    assert chain.commitments() == {alice.ss58_address: second}
    assert chain.commitments(block=first.block) == {alice.ss58_address: second}


def test_commitments_are_per_subnet(tmp_path: Path, alice: Keypair) -> None:
    one = LocalChain(tmp_path / "c.sqlite", 1)
    two = LocalChain(tmp_path / "c.sqlite", 2)
    one.register(alice, alice.ss58_address)
    one.commit(alice, "on one")

    assert list(one.commitments()) == [alice.ss58_address]
    assert two.commitments() == {}
    with pytest.raises(ChainError, match="not registered"):
        two.commit(alice, "on two")


def test_a_file_from_before_commitments_gains_the_table(tmp_path: Path, alice: Keypair) -> None:
    path = tmp_path / "c.sqlite"
    LocalChain(path).register(alice, alice.ss58_address)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("DROP TABLE commitments")  # as a file written before the table existed

    chain = LocalChain(path)

    assert chain.commit(alice, "after the upgrade").data == "after the upgrade"
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == (
            str(SCHEMA_VERSION),
        )


def test_open_chain_picks_the_implementation(tmp_path: Path) -> None:
    local = open_chain("local-embedded", 3, tmp_path / "c.sqlite")
    assert isinstance(local, LocalChain) and local.netuid == 3
    for network in ("finney", "test", "local", "ws://127.0.0.1:9944"):
        remote = open_chain(network, 3)
        assert isinstance(remote, SdkChain) and remote.netuid == 3  # nothing connects yet
        remote.close()
    with pytest.raises(ChainError, match="unknown network"):
        open_chain("mainnet", 1)


@pytest.mark.parametrize(
    ("given", "published"),
    [
        ("finney", "finney"),
        ("local-embedded", "local-embedded"),
        ("ws://127.0.0.1:9944", "ws://127.0.0.1:9944"),
        ("wss://user:secret@node.example:443/ws?apikey=k#x", "wss://node.example:443/ws"),
        ("ws://[::1]:9944", "ws://[::1]:9944"),
    ],
)
def test_a_record_publishes_a_node_without_its_credentials(given: str, published: str) -> None:
    assert public_network(given) == published
    assert is_endpoint(given) == given.startswith(("ws://", "wss://"))
