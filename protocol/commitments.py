"""What neurons write into their on-chain commitment, and how it is read back.

A hotkey holds one commitment per subnet (the Commitments pallet; each new one replaces the
last and carries the block it was included at). Its raw data is at most 128 bytes, so a
commitment holds a short tagged hash, never the data itself:

- a miner: ``dcm1:`` + sha256(``MANIFEST_VERSION | hotkey | manifest root``). The hash binds
  the root to the committing hotkey: a second hotkey copying the commitment string (the SN6
  exploit, which SN37 fixed by committing ``hash(model_hash, hotkey)``) commits a value that
  does not match ``manifest_binding(its own hotkey, root)``, and a front-runner who sees the
  commitment in the mempool learns nothing of the root it would need to bind to itself;
- a validator: ``dce1:`` + sha256(canonical JSON of the round's held-out set hashes ||
  salt), committed before it pulls; after the round it publishes the sets and the salt
  (``eval_set.json``) and anyone can recompute the hash (``validator/audit.py``).

Both parse back with ``parse_commitment``; anything else on chain is ``None`` (someone else's
format), never an error.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from protocol.manifest import MANIFEST_VERSION

# The pallet's limit on one Raw field (Data::Raw0..Raw128): the tags below keep to 69 bytes.
MAX_COMMITMENT_BYTES = 128

EVAL_COMMITMENT_VERSION = "datacomp-eval-commitment/1"


class CommitmentKind(StrEnum):
    """What a commitment string announces; the value is its on-chain tag."""

    MANIFEST = "dcm1"  # a miner's manifest root, bound to its hotkey
    EVAL = "dce1"  # a validator's held-out sets for one round, salted


@dataclass(frozen=True)
class ParsedCommitment:
    """A commitment in one of this protocol's formats."""

    kind: CommitmentKind
    digest: str  # 64 hex characters


def _tagged(kind: CommitmentKind, digest: str) -> str:
    return f"{kind.value}:{digest}"


def manifest_binding(hotkey_ss58: str, root: str) -> str:
    """sha256 hex of the manifest root bound to ``hotkey_ss58``."""
    return hashlib.sha256(f"{MANIFEST_VERSION}|{hotkey_ss58}|{root}".encode()).hexdigest()


def manifest_commitment(hotkey_ss58: str, root: str) -> str:
    """The commitment string a miner writes for its manifest ``root``."""
    return _tagged(CommitmentKind.MANIFEST, manifest_binding(hotkey_ss58, root))


def eval_sets_canonical(round_id: str, eval_set_sha256: Mapping[str, str]) -> bytes:
    """The canonical bytes of a round's held-out sets: version, round id, competition -> hash."""
    body = {
        "version": EVAL_COMMITMENT_VERSION,
        "round_id": round_id,
        "eval_sets": dict(sorted(eval_set_sha256.items())),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def eval_commitment_digest(round_id: str, eval_set_sha256: Mapping[str, str], salt: str) -> str:
    """sha256 hex of ``eval_sets_canonical || salt`` (``salt``: hex, published after the round)."""
    return hashlib.sha256(
        eval_sets_canonical(round_id, eval_set_sha256) + bytes.fromhex(salt)
    ).hexdigest()


def eval_commitment(round_id: str, eval_set_sha256: Mapping[str, str], salt: str) -> str:
    """The commitment string a validator writes before it pulls."""
    return _tagged(CommitmentKind.EVAL, eval_commitment_digest(round_id, eval_set_sha256, salt))


def parse_commitment(data: str) -> ParsedCommitment | None:
    """The commitment in this protocol's format, or None for anything else."""
    tag, sep, digest = data.partition(":")
    if not sep or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        return None
    try:
        kind = CommitmentKind(tag)
    except ValueError:
        return None
    return ParsedCommitment(kind, digest)
