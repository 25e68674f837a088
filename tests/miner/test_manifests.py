"""Commit before serving: the miner's manifests, their commitments on a real chain, the proofs.

``LocalChain`` is the real embedded chain (its clock is the test's, to move blocks on); the
miners are the real service over loopback HTTP (``running_miner``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from bittensor.sp_core import Keypair

from miner.app import MinerContext
from miner.config import MinerSettings
from miner.factory import PoolMode, build_source
from miner.manifests import (
    POOL_ID,
    PoolBook,
    PoolRefresher,
    PoolSource,
    ServeTimeBook,
    build_pool,
    ensure_committed,
    read_manifest,
    write_manifest,
)
from miner.sources import DataSourceError, FileSource, GeneratorSource, Sample
from protocol.auth import BtAuth
from protocol.chain.base import Commitment, CommitmentSpaceError
from protocol.chain.local import LocalChain
from protocol.commitments import manifest_commitment
from protocol.keys import Keys
from protocol.manifest import InclusionProof, Manifest, verify_inclusion
from protocol.schemas import (
    SUBMISSION_PATH,
    Competition,
    CotSample,
    PreferenceSample,
    SubmissionResponse,
)
from tests.support.miner_fixture import neuron, running_miner
from tests.support.proofs import unproven

COT = Competition.COT_SFT
PREF = Competition.PREFERENCE

# A pool small enough to build in milliseconds, large enough that a round draws a selection.
POOL_SIZE = 48


class Clock:
    """The chain's wall clock, moved by the test: one second is one block."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, blocks: int) -> None:
        self.now += blocks


def _chain(tmp: Path, *registered: Keypair, clock: Clock | None = None) -> LocalChain:
    chain = LocalChain(tmp / "chain.sqlite", clock=clock or Clock())
    for key in registered:
        chain.register(key, key.ss58_address)
    return chain


def _cot(i: int, answer: str = "") -> CotSample:
    return CotSample(
        prompt=f"What is {i} + 1?", chain_of_thought="add one", final_answer=answer or str(i + 1)
    )


def _ask(
    address: str,
    validator: Keypair,
    miner: Keypair,
    competition: Competition,
    count: int,
    round_id: str,
) -> httpx.Response:
    body = json.dumps(
        {"competition": competition.value, "round_id": round_id, "num_samples": count}
    ).encode()
    return httpx.post(
        f"http://{address}{SUBMISSION_PATH}",
        content=body,
        auth=BtAuth(validator, miner.ss58_address),
        timeout=10,
    )


def _served(response: httpx.Response) -> SubmissionResponse:
    assert response.status_code == 200, response.text
    return SubmissionResponse.model_validate_json(response.content)


def _write_dataset(path: Path, samples: list[CotSample]) -> None:
    path.write_text("".join(s.model_dump_json() + "\n" for s in samples), encoding="utf-8")


# ---- ensure_committed ---------------------------------------------------------------------


def test_an_unchanged_root_is_not_committed_again(tmp_path: Path, alice: Keypair) -> None:
    clock = Clock()
    chain = _chain(tmp_path, alice, clock=clock)
    first_pool = Manifest([(COT, _cot(i)) for i in range(4)])
    clock.advance(3)
    first = ensure_committed(chain, alice, first_pool)
    assert first == Commitment(
        alice.ss58_address, manifest_commitment(alice.ss58_address, first_pool.root), 3
    )
    clock.advance(5)
    # The same root again (a restart, another worker): the chain keeps the earlier block.
    assert ensure_committed(chain, alice, Manifest(first_pool.entries)) == first
    assert chain.commitments()[alice.ss58_address] == first
    # A changed root is committed, at the block of the change.
    changed = ensure_committed(chain, alice, Manifest([(COT, _cot(i)) for i in range(5)]))
    assert changed.block == 8 and changed.data != first.data
    assert chain.commitments()[alice.ss58_address] == changed


def test_another_hotkeys_commitment_of_the_same_root_is_not_ours(
    tmp_path: Path, alice: Keypair, bob: Keypair
) -> None:
    chain = _chain(tmp_path, alice, bob)
    pool = Manifest([(COT, _cot(0))])
    ensure_committed(chain, bob, pool)
    mine = ensure_committed(chain, alice, pool)
    assert mine.hotkey == alice.ss58_address
    assert mine.data == manifest_commitment(alice.ss58_address, pool.root)
    assert mine.data != chain.commitments()[bob.ss58_address].data  # bound to the hotkey


# ---- the pool and its file ----------------------------------------------------------------


def test_a_pool_covers_every_competition_the_source_serves(tmp_path: Path) -> None:
    source = GeneratorSource("honest")
    pool = build_pool(source, source.competitions(), POOL_SIZE)
    assert pool.samples(COT) == source.samples(COT, POOL_SIZE, POOL_ID)
    assert pool.samples(PREF) == source.samples(PREF, POOL_SIZE, POOL_ID)
    assert pool.size == 2 * POOL_SIZE
    path = tmp_path / "pool.jsonl"
    write_manifest(path, pool)
    again = read_manifest(path)
    assert again.root == pool.root and again.entries == pool.entries
    only_cot = build_pool(source, [COT], POOL_SIZE)
    assert only_cot.samples(PREF) == [] and only_cot.size == POOL_SIZE


def test_a_pool_keeps_a_repeated_sample_once(tmp_path: Path) -> None:
    dataset = tmp_path / "data.jsonl"
    _write_dataset(dataset, [_cot(0), _cot(1), _cot(0), _cot(2)])
    pool = build_pool(FileSource(dataset, COT), [COT, PREF], POOL_SIZE)
    assert sorted(s.prompt for s in pool.samples(COT)) == [_cot(i).prompt for i in range(3)]


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "at least one sample"),
        ("not json\n", "line 1"),
        ('{"competition": "poetry", "sample": {}}\n', "line 1"),
        ('{"competition": "cot_sft", "sample": {"prompt": "p"}}\n', "line 1: chain_of_thought"),
        ('{"competition": "cot_sft", "sample": {}, "extra": 1}\n', "line 1"),
        ("[1, 2]\n", "line 1"),
    ],
    ids=["empty", "not-json", "competition", "sample", "extra-key", "not-an-object"],
)
def test_a_bad_manifest_file_is_a_data_source_error(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "pool.jsonl"
    path.write_text(text)
    with pytest.raises(DataSourceError, match=reason):
        read_manifest(path)


def test_the_pool_source_serves_a_seeded_selection_per_round() -> None:
    source = GeneratorSource("honest")
    pool = build_pool(source, [COT], POOL_SIZE)
    served = PoolSource(pool, "seed")
    assert served.competitions() == (COT,)
    first = served.samples(COT, 8, "round-1")
    assert first == served.samples(COT, 8, "round-1")  # a validator re-asking gets the same
    assert first != served.samples(COT, 8, "round-2")
    assert first != PoolSource(pool, "other-seed").samples(COT, 8, "round-1")
    assert all(pool.position(COT, s) is not None for s in first)
    assert len(served.samples(COT, 10 * POOL_SIZE, "round-1")) == POOL_SIZE
    with pytest.raises(DataSourceError, match="no preference"):
        served.samples(PREF, 4, "round-1")


# ---- the pool miner over HTTP -------------------------------------------------------------


@pytest.fixture
def validators(bob: Keypair) -> list[Keypair]:
    return [bob, Keypair.create_from_uri("//Dave")]


@pytest.fixture
def pool_chain(tmp_path: Path, alice: Keypair) -> LocalChain:
    return _chain(tmp_path, alice)


@pytest.fixture
def pool_miner(
    tmp_path: Path,
    alice: Keypair,
    validators: list[Keypair],
    pool_chain: LocalChain,
    redis_client: redis.Redis,
    keys: Keys,
) -> Iterator[tuple[str, MinerContext, Manifest]]:
    """A production-mode miner: the pool committed, then written; PoolBook + PoolSource."""
    source = GeneratorSource("honest")
    pool = build_pool(source, source.competitions(), POOL_SIZE)
    ensure_committed(pool_chain, alice, pool)
    path = tmp_path / "pool.jsonl"
    write_manifest(path, pool)
    book = PoolBook(path, pool_chain, alice)
    metagraph = [neuron(0, alice, permit=False, stake=0.0)] + [
        neuron(i + 1, v, permit=True, stake=100.0) for i, v in enumerate(validators)
    ]
    with running_miner(
        alice,
        metagraph,
        redis_client,
        keys,
        tmp_path / "ledger.jsonl",
        source=PoolSource(book.manifest, "honest"),
        manifests=book,
    ) as (address, ctx):
        yield address, ctx, pool


def test_a_pool_miner_proves_every_response_against_its_committed_pool(
    pool_miner: tuple[str, MinerContext, Manifest],
    pool_chain: LocalChain,
    alice: Keypair,
    bob: Keypair,
) -> None:
    address, ctx, pool = pool_miner
    before = pool_chain.commitments()[alice.ss58_address]
    responses = [
        _served(_ask(address, bob, alice, competition, 8, round_id))
        for competition in (COT, PREF)
        for round_id in ("r-1", "r-2")
    ]
    for response in responses:
        assert response.manifest_root == pool.root and response.manifest_size == pool.size
        assert unproven(response) == []
    # One commitment serves every round and competition: nothing was committed again.
    assert pool_chain.commitments()[alice.ss58_address] == before
    assert before.data == manifest_commitment(alice.ss58_address, pool.root)
    assert [e.manifest_root for e in ctx.ledger.entries()] == [pool.root] * 4


def test_a_sample_outside_the_pool_is_refused(
    tmp_path: Path,
    pool_miner: tuple[str, MinerContext, Manifest],
    pool_chain: LocalChain,
    alice: Keypair,
    bob: Keypair,
    redis_client: redis.Redis,
    keys: Keys,
) -> None:
    _, ctx, pool = pool_miner
    outside = _cot(10_000)
    assert pool.position(COT, outside) is None
    with pytest.raises(DataSourceError, match="not in the committed manifest"):
        ctx.manifests.prove(COT, [*pool.samples(COT)[:2], outside], "r-1")
    # A service whose source is not its pool: every answer is refused, none is ledgered.
    metagraph = [
        neuron(0, alice, permit=False, stake=0.0),
        neuron(1, bob, permit=True, stake=100.0),
    ]
    with running_miner(
        alice,
        metagraph,
        redis_client,
        keys,
        tmp_path / "stray-ledger.jsonl",
        source=GeneratorSource("not-the-pool"),
        manifests=ctx.manifests,
    ) as (address, stray):
        refused = _ask(address, bob, alice, COT, 4, "r-1")
        assert refused.status_code == 503
        assert refused.json()["detail"] == "data source unavailable"
        assert stray.ledger.entries() == []


def test_a_refreshed_pool_file_is_served_and_proved_at_once(
    pool_miner: tuple[str, MinerContext, Manifest],
    pool_chain: LocalChain,
    alice: Keypair,
    bob: Keypair,
) -> None:
    address, ctx, pool = pool_miner
    assert isinstance(ctx.manifests, PoolBook)
    fresh = build_pool(GeneratorSource("fresh"), [COT], POOL_SIZE)
    ensure_committed(pool_chain, alice, fresh)  # what the parent does: commit, then swap
    write_manifest(ctx.manifests.path, fresh)
    response = _served(_ask(address, bob, alice, COT, 8, "r-1"))
    assert response.manifest_root == fresh.root and unproven(response) == []
    assert all(fresh.position(COT, s) is not None for s in response.samples)
    assert _ask(address, bob, alice, PREF, 4, "r-1").status_code == 404  # no longer served


def test_a_failed_commitment_is_a_503_with_a_reason(
    tmp_path: Path, alice: Keypair, bob: Keypair, redis_client: redis.Redis, keys: Keys
) -> None:
    unregistered = _chain(tmp_path)  # the miner holds no uid here: the chain refuses its commit
    metagraph = [
        neuron(0, alice, permit=False, stake=0.0),
        neuron(1, bob, permit=True, stake=100.0),
    ]
    with running_miner(
        alice,
        metagraph,
        redis_client,
        keys,
        tmp_path / "ledger.jsonl",
        manifests=ServeTimeBook(unregistered, alice),
    ) as (address, ctx):
        refused = _ask(address, bob, alice, COT, 4, "r-1")
        assert refused.status_code == 503
        assert refused.json()["detail"] == "manifest not committed on chain (NotRegisteredError)"
        assert ctx.ledger.entries() == []
        assert unregistered.commitments() == {}
        assert httpx.get(f"http://{address}/healthz").status_code == 200  # still serving


# ---- the dataset watcher: commit, then swap -----------------------------------------------


class RecordingChain(LocalChain):
    """The real chain, noting which pool the manifest file held when each commit was written."""

    manifest_path: Path
    file_roots: list[str | None]

    def commit(self, hotkey: Keypair, data: str) -> Commitment:
        path = self.manifest_path
        self.file_roots.append(read_manifest(path).root if path.exists() else None)
        return super().commit(hotkey, data)


def _bump(path: Path) -> None:
    """Move the file's mtime on: two writes within the clock's resolution still differ."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_the_watcher_commits_a_changed_dataset_before_it_swaps_the_pool(
    tmp_path: Path, alice: Keypair
) -> None:
    dataset, manifest_path = tmp_path / "data.jsonl", tmp_path / "pool.jsonl"
    _write_dataset(dataset, [_cot(i) for i in range(6)])
    chain = RecordingChain(tmp_path / "chain.sqlite")
    chain.manifest_path, chain.file_roots = manifest_path, []
    chain.register(alice, alice.ss58_address)

    def rebuild() -> Manifest:
        return build_pool(FileSource(dataset, COT, seed="s"), [COT], POOL_SIZE)

    old = rebuild()
    ensure_committed(chain, alice, old)  # at start: commit, then write
    write_manifest(manifest_path, old)
    watcher = PoolRefresher(dataset, rebuild, chain, alice, manifest_path, interval_s=60)
    assert watcher.check() is None  # unchanged: nothing to do
    _write_dataset(dataset, [_cot(i) for i in range(6, 14)])
    _bump(dataset)
    commitment = watcher.check()
    new = read_manifest(manifest_path)
    assert new.root != old.root and new.samples(COT) == rebuild().samples(COT)
    assert commitment is not None
    assert commitment.data == manifest_commitment(alice.ss58_address, new.root)
    assert chain.commitments()[alice.ss58_address] == commitment
    # When the new root was committed, the workers' file still held the old pool.
    assert chain.file_roots == [None, old.root]
    assert watcher.check() is None  # seen: not committed again
    # A dataset that does not load is skipped: the committed pool keeps being served.
    dataset.write_text("{not json\n")
    _bump(dataset)
    assert watcher.check() is None
    assert read_manifest(manifest_path).root == new.root
    assert chain.commitments()[alice.ss58_address] == commitment


class SpentChain(LocalChain):
    """The real chain with this epoch's commitment space used up until ``refill``."""

    spent = True

    def commit(self, hotkey: Keypair, data: str) -> Commitment:
        if self.spent:
            raise CommitmentSpaceError("SpaceLimitExceeded")
        return super().commit(hotkey, data)


def test_a_refresh_the_chain_refuses_keeps_the_old_pool_and_is_retried(
    tmp_path: Path, alice: Keypair
) -> None:
    dataset, manifest_path = tmp_path / "data.jsonl", tmp_path / "pool.jsonl"
    _write_dataset(dataset, [_cot(i) for i in range(6)])
    chain = SpentChain(tmp_path / "chain.sqlite")
    chain.register(alice, alice.ss58_address)

    def rebuild() -> Manifest:
        return build_pool(FileSource(dataset, COT, seed="s"), [COT], POOL_SIZE)

    old = rebuild()
    write_manifest(manifest_path, old)
    watcher = PoolRefresher(dataset, rebuild, chain, alice, manifest_path, interval_s=60)
    _write_dataset(dataset, [_cot(i) for i in range(6, 14)])
    _bump(dataset)
    with pytest.raises(CommitmentSpaceError):
        watcher.check()
    assert read_manifest(manifest_path).root == old.root  # not swapped: nothing committed
    chain.spent = False  # the next epoch
    commitment = watcher.check()  # the change is still pending: retried
    assert commitment is not None
    assert read_manifest(manifest_path).root != old.root
    assert commitment.data == manifest_commitment(
        alice.ss58_address, read_manifest(manifest_path).root
    )


def test_a_file_miner_follows_its_dataset(tmp_path: Path, alice: Keypair) -> None:
    """``PoolMode`` as ``serve`` runs it: prepare in the parent (watcher thread), open per worker."""
    dataset = tmp_path / "data.jsonl"
    _write_dataset(dataset, [_cot(i) for i in range(10)])
    settings = MinerSettings(
        source="file",
        data=dataset,
        competition=COT,
        ledger_path=tmp_path / "ledger.jsonl",
        pool_size=POOL_SIZE,
    )
    assert settings.manifest_file == tmp_path / "ledger-manifest.jsonl"
    chain = _chain(tmp_path, alice)
    mode = PoolMode(watch_interval_s=0.05)

    def build() -> FileSource:
        return build_source(settings, alice.ss58_address)  # type: ignore[return-value]

    stop = mode.prepare(settings, alice, chain, build(), build)
    try:
        source, book = mode.open(settings, alice, chain, build)
        assert isinstance(book, PoolBook)
        first = book.manifest()
        held = chain.commitments()[alice.ss58_address]
        assert held.data == manifest_commitment(alice.ss58_address, first.root)
        assert book.prove(COT, source.samples(COT, 4, "r"), "r").manifest_root == first.root
        fresh = [_cot(i, answer="x") for i in range(10)]
        _write_dataset(dataset, fresh)
        _bump(dataset)
        deadline = time.monotonic() + 10
        while book.manifest().root == first.root:
            assert time.monotonic() < deadline, "the watcher did not refresh the pool"
            time.sleep(0.05)
        second = book.manifest()
        assert chain.commitments()[alice.ss58_address].data == manifest_commitment(
            alice.ss58_address, second.root
        )
        served = source.samples(COT, 4, "r")
        assert all(s in fresh for s in served)
        assert book.prove(COT, served, "r").manifest_root == second.root
    finally:
        stop()


# ---- serve-time manifests -----------------------------------------------------------------


def test_serve_time_commits_a_round_once_and_resets_at_the_next(
    tmp_path: Path, alice: Keypair
) -> None:
    clock = Clock()
    chain = _chain(tmp_path, alice, clock=clock)
    book = ServeTimeBook(chain, alice)
    source = GeneratorSource("honest")
    cot = source.samples(COT, 6, "r-1")
    first = book.prove(COT, cot, "r-1")
    assert first.manifest_size == 6
    held = chain.commitments()[alice.ss58_address]
    assert held.data == manifest_commitment(alice.ss58_address, first.manifest_root)
    clock.advance(4)
    assert book.prove(COT, cot[:3], "r-1").manifest_root == first.manifest_root
    assert chain.commitments()[alice.ss58_address] == held  # unchanged root: no commit
    pairs: list[Sample] = list(source.samples(PREF, 4, "r-1"))
    both = book.prove(PREF, pairs, "r-1")
    assert both.manifest_size == 10  # the round's data so far, one root over both
    assert chain.commitments()[alice.ss58_address].block == held.block + 4
    nxt = book.prove(COT, source.samples(COT, 2, "r-2"), "r-2")
    assert nxt.manifest_size == 2  # a new round starts a new manifest


def test_precommit_commits_a_whole_round_in_one_commitment(tmp_path: Path, alice: Keypair) -> None:
    clock = Clock()
    chain = _chain(tmp_path, alice, clock=clock)
    book = ServeTimeBook(chain, alice)
    source = GeneratorSource("honest")
    data: dict[Competition, list[Sample]] = {
        COT: list(source.samples(COT, 5, "r")),
        PREF: list(source.samples(PREF, 3, "r")),
    }
    held = book.precommit("r", data)
    clock.advance(7)
    for competition, samples in data.items():
        proven = book.prove(competition, samples, "r")
        assert held.data == manifest_commitment(alice.ss58_address, proven.manifest_root)
        assert proven.manifest_size == 8
    assert chain.commitments()[alice.ss58_address] == held


def test_a_repeated_sample_proves_into_one_leaf(tmp_path: Path, alice: Keypair) -> None:
    book = ServeTimeBook(_chain(tmp_path, alice), alice)
    proven = book.prove(COT, [_cot(1), _cot(2), _cot(1)], "r")
    assert proven.manifest_size == 2
    assert proven.proofs[0] == proven.proofs[2]


# ---- adversarial: equivocation ------------------------------------------------------------


def test_one_pool_miner_serving_two_validators_commits_one_root_for_both(
    pool_miner: tuple[str, MinerContext, Manifest],
    pool_chain: LocalChain,
    alice: Keypair,
    validators: list[Keypair],
) -> None:
    """Equivocation: whatever each validator is served is provable under the one committed
    root, and a sample changed after proving (served to one validator as another's) fails."""
    address, _, pool = pool_miner
    committed = pool_chain.commitments()[alice.ss58_address]
    bob, dave = validators
    to_bob = _served(_ask(address, bob, alice, COT, 8, "r-1"))
    to_dave = _served(_ask(address, dave, alice, COT, 12, "r-1"))
    for response in (to_bob, to_dave):
        assert committed.data == manifest_commitment(alice.ss58_address, response.manifest_root)
        assert unproven(response) == []
    assert pool_chain.commitments()[alice.ss58_address] == committed
    # Altered after proving: each tampering breaks the sample's proof.
    sample = to_bob.samples[0]
    assert isinstance(sample, CotSample)
    proof = InclusionProof(to_bob.proofs[0].leaf_index, tuple(to_bob.proofs[0].path))
    size, root = to_bob.manifest_size, to_bob.manifest_root
    assert verify_inclusion(COT, sample, proof, size, root)
    for altered in (
        sample.model_copy(update={"final_answer": sample.final_answer + "0"}),
        sample.model_copy(update={"chain_of_thought": sample.chain_of_thought + " "}),
        sample.model_copy(update={"prompt": sample.prompt.upper()}),
        to_bob.samples[1],  # another pool sample under this one's proof
    ):
        assert not verify_inclusion(COT, altered, proof, size, root)
    as_pair = PreferenceSample(prompt=sample.prompt, chosen=sample.chain_of_thought, rejected="")
    assert not verify_inclusion(PREF, as_pair, proof, size, root)
    other = InclusionProof(proof.leaf_index ^ 1, proof.path)
    assert not verify_inclusion(COT, sample, other, size, root)  # another leaf's place


def test_serving_two_validators_different_data_at_serve_time_leaves_one_root_committed(
    tmp_path: Path,
    alice: Keypair,
    validators: list[Keypair],
    redis_client: redis.Redis,
    keys: Keys,
) -> None:
    """The serve-time race, seen from the chain: the later commit replaces the earlier, so the
    first validator's root no longer matches; a miner cannot keep two data sets committed."""
    chain = _chain(tmp_path, alice)
    bob, dave = validators
    metagraph = [neuron(0, alice, permit=False, stake=0.0)] + [
        neuron(i + 1, v, permit=True, stake=100.0) for i, v in enumerate(validators)
    ]
    with running_miner(
        alice,
        metagraph,
        redis_client,
        keys,
        tmp_path / "ledger.jsonl",
        manifests=ServeTimeBook(chain, alice),
    ) as (address, _):
        to_bob = _served(_ask(address, bob, alice, COT, 4, "r-1"))
        to_dave = _served(_ask(address, dave, alice, PREF, 4, "r-1"))
    assert unproven(to_bob) == [] and unproven(to_dave) == []
    assert to_bob.manifest_root != to_dave.manifest_root
    held = chain.commitments()[alice.ss58_address].data
    assert held == manifest_commitment(alice.ss58_address, to_dave.manifest_root)
    assert held != manifest_commitment(alice.ss58_address, to_bob.manifest_root)
