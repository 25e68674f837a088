"""Manifests: RFC 9162 roots and inclusion proofs, checked against an independent implementation."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import protocol.manifest as manifest_module
from protocol.limits import MAX_PROOF_HASHES
from protocol.manifest import (
    MANIFEST_VERSION,
    InclusionProof,
    Manifest,
    Sample,
    leaf_bytes,
    root_from_proof,
    verify_inclusion,
)
from protocol.schemas import Competition, CotSample, PreferenceSample, sample_sha256

MAX_SIZE = 70  # every tree shape up to 64 leaves and a few past it (7 levels)


def _sample(n: int) -> tuple[Competition, Sample]:
    """Entry ``n``: CoT samples at even positions, preference pairs at odd ones."""
    if n % 2 == 0:
        return Competition.COT_SFT, CotSample(
            prompt=f"p{n}", chain_of_thought="c", final_answer="a"
        )
    return Competition.PREFERENCE, PreferenceSample(prompt=f"p{n}", chosen="y", rejected="n")


def _entries(size: int) -> list[tuple[Competition, Sample]]:
    return [_sample(n) for n in range(size)]


# RFC 9162 section 2.1, written out independently of pymerkle and of protocol.manifest.


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) of RFC 9162 section 2.1.1."""
    if len(leaves) == 1:
        return _sha256(b"\x00" + leaves[0])
    k = _split(len(leaves))
    return _sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:]))


def _rfc_path(m: int, leaves: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 section 2.1.3.1: the audit path, bottom-up."""
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if m < k:
        return _rfc_path(m, leaves[:k]) + [_mth(leaves[k:])]
    return _rfc_path(m - k, leaves[k:]) + [_mth(leaves[:k])]


@pytest.fixture(scope="module")
def manifests() -> dict[int, Manifest]:
    return {size: Manifest(_entries(size)) for size in range(1, MAX_SIZE + 1)}


def test_the_root_is_rfc_9162_mth(manifests: dict[int, Manifest]) -> None:
    for size, manifest in manifests.items():
        leaves = [leaf_bytes(c, s) for c, s in _entries(size)]
        assert manifest.root == _mth(leaves).hex(), size


def test_every_leaf_proof_is_the_rfc_path_and_verifies(manifests: dict[int, Manifest]) -> None:
    for size, manifest in manifests.items():
        leaves = [leaf_bytes(c, s) for c, s in manifest.entries]
        for index, (competition, sample) in enumerate(manifest.entries):
            proof = manifest.prove_sample(competition, sample)
            assert proof.leaf_index == index
            assert list(proof.path) == [h.hex() for h in _rfc_path(index, leaves)], (size, index)
            assert verify_inclusion(competition, sample, proof, size, manifest.root)


def test_the_leaf_is_version_competition_and_sample_hash() -> None:
    competition, sample = _sample(0)
    assert leaf_bytes(competition, sample) == (
        f"{MANIFEST_VERSION}|cot_sft|{sample_sha256(sample)}".encode()
    )


def test_a_changed_sample_fails(manifests: dict[int, Manifest]) -> None:
    for size in (1, 2, 5, 64, MAX_SIZE):
        manifest = manifests[size]
        competition, sample = manifest.entries[size - 1]
        proof = manifest.prove(size - 1)
        changed = sample.model_copy(update={"prompt": sample.prompt + " "})
        assert not verify_inclusion(competition, changed, proof, size, manifest.root)


def test_a_proof_under_the_other_competition_fails(manifests: dict[int, Manifest]) -> None:
    manifest = manifests[MAX_SIZE]
    for index, (competition, sample) in enumerate(manifest.entries):
        other = (
            Competition.PREFERENCE if competition is Competition.COT_SFT else Competition.COT_SFT
        )
        proof = manifest.prove(index)
        assert not verify_inclusion(other, sample, proof, MAX_SIZE, manifest.root)


def test_a_proof_at_any_other_index_fails(manifests: dict[int, Manifest]) -> None:
    for size in range(1, 22):
        manifest = manifests[size]
        for index, (competition, sample) in enumerate(manifest.entries):
            proof = manifest.prove(index)
            for wrong in [*range(size), -1, size, size + 1]:
                if wrong == index:
                    continue
                moved = replace(proof, leaf_index=wrong)
                assert not verify_inclusion(competition, sample, moved, size, manifest.root), (
                    size,
                    index,
                    wrong,
                )


def test_a_truncated_or_extended_path_fails(manifests: dict[int, Manifest]) -> None:
    for size, manifest in manifests.items():
        for index, (competition, sample) in enumerate(manifest.entries):
            proof = manifest.prove(index)
            longer = replace(proof, path=(*proof.path, manifest.root))
            assert not verify_inclusion(competition, sample, longer, size, manifest.root)
            if proof.path:
                shorter = replace(proof, path=proof.path[:-1])
                assert not verify_inclusion(competition, sample, shorter, size, manifest.root)
                dropped_first = replace(proof, path=proof.path[1:])
                assert not verify_inclusion(competition, sample, dropped_first, size, manifest.root)


@pytest.mark.parametrize(
    "entry",
    ["zz" * 32, "ab" * 31, "ab" * 33, "0x" + "ab" * 31, "", "AB" * 32 + "0"],
    ids=["non-hex", "31-bytes", "33-bytes", "0x-prefixed", "empty", "odd-length"],
)
def test_malformed_path_entries_are_refused(manifests: dict[int, Manifest], entry: str) -> None:
    manifest = manifests[MAX_SIZE]
    competition, sample = manifest.entries[3]
    proof = manifest.prove(3)
    for position in range(len(proof.path)):
        path = list(proof.path)
        path[position] = entry
        leaf = leaf_bytes(competition, sample)
        assert root_from_proof(leaf, 3, MAX_SIZE, path) is None
        assert not verify_inclusion(
            competition, sample, replace(proof, path=tuple(path)), MAX_SIZE, manifest.root
        )


def test_a_path_longer_than_any_honest_one_is_refused(manifests: dict[int, Manifest]) -> None:
    manifest = manifests[1]
    competition, sample = manifest.entries[0]
    path = ["00" * 32] * (MAX_PROOF_HASHES + 1)
    assert root_from_proof(leaf_bytes(competition, sample), 0, 1 << 30, path) is None


def test_a_wrong_size_or_root_fails(manifests: dict[int, Manifest]) -> None:
    manifest = manifests[MAX_SIZE]
    competition, sample = manifest.entries[MAX_SIZE - 1]
    proof = manifest.prove(MAX_SIZE - 1)
    assert not verify_inclusion(competition, sample, proof, MAX_SIZE + 1, manifest.root)
    assert not verify_inclusion(competition, sample, proof, MAX_SIZE - 1, manifest.root)
    assert not verify_inclusion(competition, sample, proof, MAX_SIZE, manifests[64].root)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), size=st.integers(min_value=2, max_value=300))
def test_any_flipped_bit_in_a_path_fails(data: st.DataObject, size: int) -> None:
    manifest = Manifest(_entries(size))
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    competition, sample = manifest.entries[index]
    proof = manifest.prove(index)
    assert verify_inclusion(competition, sample, proof, size, manifest.root)
    leaves = [leaf_bytes(c, s) for c, s in manifest.entries]
    assert list(proof.path) == [h.hex() for h in _rfc_path(index, leaves)]

    position = data.draw(st.integers(min_value=0, max_value=len(proof.path) - 1), label="entry")
    bit = data.draw(st.integers(min_value=0, max_value=255), label="bit")
    flipped = bytearray(bytes.fromhex(proof.path[position]))
    flipped[bit // 8] ^= 1 << (bit % 8)
    path = list(proof.path)
    path[position] = flipped.hex()
    bad = InclusionProof(index, tuple(path))
    assert not verify_inclusion(competition, sample, bad, size, manifest.root)


def test_prove_sample_of_an_unknown_sample_is_a_key_error(manifests: dict[int, Manifest]) -> None:
    manifest = manifests[5]
    competition, sample = _sample(5)  # position 5 is past a five-leaf manifest
    assert manifest.position(competition, sample) is None
    with pytest.raises(KeyError, match=sample_sha256(sample)[:12]):
        manifest.prove_sample(competition, sample)
    in_manifest_competition, in_manifest = manifest.entries[0]
    other = Competition.PREFERENCE
    assert in_manifest_competition is not other
    with pytest.raises(KeyError):
        manifest.prove_sample(other, in_manifest)


def test_prove_outside_the_manifest_is_an_index_error(manifests: dict[int, Manifest]) -> None:
    with pytest.raises(IndexError):
        manifests[3].prove(3)
    with pytest.raises(IndexError):
        manifests[3].prove(-1)


def test_a_repeated_entry_keeps_its_first_position() -> None:
    entries = [_sample(0), _sample(1), _sample(0)]
    manifest = Manifest(entries)

    assert manifest.size == 3
    assert manifest.position(*_sample(0)) == 0
    assert manifest.prove_sample(*_sample(0)).leaf_index == 0
    assert manifest.samples(Competition.COT_SFT) == [_sample(0)[1], _sample(0)[1]]
    assert manifest.samples(Competition.PREFERENCE) == [_sample(1)[1]]


def test_an_empty_or_oversized_manifest_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="at least one"):
        Manifest([])
    monkeypatch.setattr(manifest_module, "MAX_MANIFEST_LEAVES", 3)
    Manifest(_entries(3))
    with pytest.raises(ValueError, match="at most 3"):
        Manifest(_entries(4))
