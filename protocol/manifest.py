"""A miner's data manifest: a Merkle tree over what it serves, and proofs against its root.

A miner commits the root of its manifest on chain before it serves (``protocol/commitments.py``
binds the root to the hotkey); every response then carries, per sample, an inclusion proof
against that root. A validator checks each proof, so a sample the miner did not commit is
rejected, and the same root can never stand for two different samples.

The tree is RFC 9162's (Certificate Transparency v2, section 2.1): SHA-256, leaves hashed as
``H(0x00 || leaf)``, inner nodes as ``H(0x01 || left || right)``, unbalanced trees split at the
largest power of two. It is built and proved with ``pymerkle`` (a maintained implementation);
proofs are verified here with RFC 9162's own algorithm (section 2.1.3.2), which also checks
the leaf's position, so any CT library can check a miner's proofs from the wire fields alone:
``leaf_index``, the audit ``path`` (bottom-up sibling hashes) and the tree's ``size``.

A leaf is ``MANIFEST_VERSION | competition | sha256 of the sample's canonical JSON``: one
manifest covers every competition a miner serves, and a CoT sample cannot stand in for a
preference pair with the same hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from pymerkle import InmemoryTree

from protocol.limits import MAX_MANIFEST_LEAVES, MAX_PROOF_HASHES
from protocol.schemas import Competition, CotSample, PreferenceSample, sample_sha256

# Part of every leaf: a change to the leaf format or the tree changes every root.
MANIFEST_VERSION = "datacomp-manifest/1"


_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

Sample = CotSample | PreferenceSample


def leaf_bytes(competition: Competition, sample: Sample) -> bytes:
    """The leaf a sample occupies in a manifest (before RFC 9162's leaf hashing)."""
    return f"{MANIFEST_VERSION}|{competition.value}|{sample_sha256(sample)}".encode()


def leaf_hash(leaf: bytes) -> bytes:
    """RFC 9162 leaf hash: ``SHA-256(0x00 || leaf)``."""
    return hashlib.sha256(_LEAF_PREFIX + leaf).digest()


def _node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


@dataclass(frozen=True)
class InclusionProof:
    """Where a sample sits in a manifest and the sibling hashes from it up to the root."""

    leaf_index: int  # 0-based position of the leaf
    path: tuple[str, ...]  # hex sibling hashes, bottom-up (RFC 9162's inclusion path)


class Manifest:
    """An ordered manifest of (competition, sample) entries and its Merkle tree.

    Entries keep their order (the leaf index is the position); an entry repeated keeps its
    first position. Raises ``ValueError`` for an empty manifest or one over
    ``MAX_MANIFEST_LEAVES``.
    """

    def __init__(self, entries: Sequence[tuple[Competition, Sample]]) -> None:
        if not entries:
            raise ValueError("a manifest needs at least one sample")
        if len(entries) > MAX_MANIFEST_LEAVES:
            raise ValueError(f"a manifest holds at most {MAX_MANIFEST_LEAVES} samples")
        self.entries = tuple(entries)
        self._tree = InmemoryTree(algorithm="sha256", security=True)
        self._index: dict[bytes, int] = {}
        for position, (competition, sample) in enumerate(self.entries):
            leaf = leaf_bytes(competition, sample)
            self._tree.append_entry(leaf)
            self._index.setdefault(leaf, position)
        self.root = self._tree.get_state().hex()

    @property
    def size(self) -> int:
        """The number of leaves."""
        return len(self.entries)

    def position(self, competition: Competition, sample: Sample) -> int | None:
        """The leaf index of ``sample`` under ``competition``, None when it is not here."""
        return self._index.get(leaf_bytes(competition, sample))

    def samples(self, competition: Competition) -> list[Sample]:
        """The entries of one competition, in manifest order."""
        return [sample for c, sample in self.entries if c == competition]

    def prove(self, leaf_index: int) -> InclusionProof:
        """The inclusion proof of the leaf at ``leaf_index`` (0-based)."""
        if not 0 <= leaf_index < self.size:
            raise IndexError(f"leaf {leaf_index} outside a manifest of {self.size}")
        proof = self._tree.prove_inclusion(leaf_index + 1)  # pymerkle counts from 1
        # pymerkle's path starts with the leaf's own hash; the siblings follow, bottom-up.
        return InclusionProof(leaf_index, tuple(digest.hex() for digest in proof.path[1:]))

    def prove_sample(self, competition: Competition, sample: Sample) -> InclusionProof:
        """The proof for ``sample``; ``KeyError`` when it is not in the manifest."""
        position = self.position(competition, sample)
        if position is None:
            raise KeyError(f"sample {sample_sha256(sample)[:12]} is not in the manifest")
        return self.prove(position)


def root_from_proof(leaf: bytes, leaf_index: int, size: int, path: Sequence[str]) -> str | None:
    """The root a proof leads to (RFC 9162 section 2.1.3.2), or None when it is malformed.

    Malformed: an index outside the tree, a path of the wrong length for the position, a
    path entry that is not 32 bytes of hex.
    """
    if not 0 <= leaf_index < size or len(path) > MAX_PROOF_HASHES:
        return None
    try:
        siblings = [bytes.fromhex(h) for h in path]
    except ValueError:
        return None
    if any(len(s) != 32 for s in siblings):
        return None
    fn, sn = leaf_index, size - 1
    node = leaf_hash(leaf)
    for sibling in siblings:
        if sn == 0:
            return None  # a longer path than the tree is tall
        if fn % 2 == 1 or fn == sn:
            node = _node_hash(sibling, node)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            node = _node_hash(node, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        return None  # a shorter path than the tree is tall
    return node.hex()


def verify_inclusion(
    competition: Competition, sample: Sample, proof: InclusionProof, size: int, root: str
) -> bool:
    """Whether ``proof`` places ``sample`` (under ``competition``) in the tree of ``root``."""
    found = root_from_proof(leaf_bytes(competition, sample), proof.leaf_index, size, proof.path)
    return found is not None and found == root
