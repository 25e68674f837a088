"""The validator's commitment to a round's held-out sets (validator/eval_commitment.py)."""

from __future__ import annotations

from pathlib import Path

from bittensor.sp_core import Keypair

from protocol.chain.local import LocalChain, LocalParams
from protocol.commitments import eval_commitment
from protocol.schemas import Competition
from validator.eval_commitment import commit_eval_sets, eval_salt

SETS = {Competition.COT_SFT: "aa" * 32, Competition.PREFERENCE: "bb" * 32}


def _chain(tmp_path: Path) -> tuple[LocalChain, Keypair]:
    chain = LocalChain(tmp_path / "chain.sqlite", params=LocalParams(tempo=1000))
    key = Keypair.create_from_uri("//Validator")
    chain.register(key, key.ss58_address)
    return chain, key


def test_the_commitment_is_on_chain_under_the_validator(tmp_path: Path) -> None:
    chain, key = _chain(tmp_path)
    record = commit_eval_sets(chain, key, "secret", "round-1", SETS)
    assert record.error is None and record.block is not None
    stored = chain.commitments()[key.ss58_address]
    assert stored.data == eval_commitment("round-1", record.eval_sets, record.salt)
    assert stored.data == f"dce1:{record.digest}" and stored.block == record.block
    assert record.eval_sets == {"cot_sft": "aa" * 32, "preference": "bb" * 32}


def test_the_salt_is_the_rounds_and_hides_the_secret() -> None:
    salt = eval_salt("secret", "round-1")
    assert salt == eval_salt("secret", "round-1") != eval_salt("secret", "round-2")
    assert salt != eval_salt("other", "round-1") and "secret" not in salt
    assert len(bytes.fromhex(salt)) == 32


def test_a_refused_commitment_is_recorded_not_raised(tmp_path: Path) -> None:
    """An unregistered validator (or a spent epoch quota) cannot commit: the round goes on,
    and its record says why (the audit reports the round as uncommitted)."""
    chain, _ = _chain(tmp_path)
    stranger = Keypair.create_from_uri("//Stranger")
    record = commit_eval_sets(chain, stranger, "secret", "round-1", SETS)
    assert record.block is None and record.error is not None
    assert record.error.startswith("NotRegisteredError")


def test_the_epoch_quota_is_reported(tmp_path: Path) -> None:
    """31 commitments of 69 bytes (100 each) fit a 3,100-byte epoch; the 32nd is refused."""
    chain, key = _chain(tmp_path)
    records = [commit_eval_sets(chain, key, "s", f"r{i}", SETS) for i in range(32)]
    assert all(r.error is None for r in records[:31])
    assert records[31].error is not None and records[31].error.startswith("CommitmentSpaceError")
