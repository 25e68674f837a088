"""The validator's commitment to a round's held-out sets, written on chain before it pulls.

Before any miner is asked for data, the round's held-out sets are drawn and their hashes
committed: ``dce1:`` + sha256(canonical JSON of {competition: set sha256} || salt)
(``protocol.commitments.eval_commitment``). After the round the sets are published in
``eval_set.json`` together with the salt, so anyone can recompute the digest and compare it
with the chain's record of the validator's commitment at the recorded block: a set chosen or
changed after seeing the miners' data cannot match (``validator/audit.py`` checks it).

The salt keeps the commitment from confirming a guessed set before it is published. It is
derived from the validator's secret and the round id (a hash: the secret stays secret), so a
repeated round commits the same digest and nothing new needs storing.

A commitment the chain refuses (this epoch's commitment space used up, the chain down) does
not stop the round: the record says why, and the audit reports the round as uncommitted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from bittensor.sp_core import Keypair

from protocol.chain.base import Chain, ChainError
from protocol.commitments import eval_commitment, eval_commitment_digest
from protocol.schemas import Competition
from validator.store.records import EvalCommitmentRecord

_SALT_DOMAIN = "datacomp/eval-commitment-salt/1"


def eval_salt(secret: str, round_id: str) -> str:
    """The round's salt: sha256 hex of the secret and the round id (published after the round)."""
    return hashlib.sha256(f"{_SALT_DOMAIN}|{secret}|{round_id}".encode()).hexdigest()


def commit_eval_sets(
    chain: Chain,
    hotkey: Keypair,
    secret: str,
    round_id: str,
    eval_set_sha256: Mapping[Competition, str],
) -> EvalCommitmentRecord:
    """Commit the round's held-out set hashes on chain; the record of what was committed."""
    sets = {c.value: digest for c, digest in eval_set_sha256.items()}
    salt = eval_salt(secret, round_id)
    digest = eval_commitment_digest(round_id, sets, salt)
    record = EvalCommitmentRecord(digest=digest, salt=salt, eval_sets=sets)
    try:
        stored = chain.commit(hotkey, eval_commitment(round_id, sets, salt))
    except ChainError as exc:
        record.error = f"{type(exc).__name__}: {exc}"
        return record
    record.block = stored.block
    return record
