"""Round records with the commitments of round-record/3, and one as round-record/2 wrote it."""

from __future__ import annotations

from typing import Any

from protocol.commitments import eval_commitment_digest
from tests.support.rounds import make_round
from validator.store.records import EvalCommitmentRecord, RoundRecord

SALT = "ab" * 16  # the eval commitment's salt (hex), published with the sets


def committed_round(round_no: int, uids: list[int]) -> RoundRecord:
    """A round-record/3 round: the validator's eval commitment, read blocks, miners' roots."""
    record = make_round(round_no, uids)
    sets = {"cot_sft": f"{round_no:064x}"}
    record.eval_commitment = EvalCommitmentRecord(
        digest=eval_commitment_digest(record.round_id, sets, SALT),
        salt=SALT,
        eval_sets=sets,
        block=record.block - 1,
    )
    record.commitments_block = {"cot_sft": record.block + 7}
    for m in record.miners:
        m.manifest_root = f"{m.uid:02x}" * 32
        m.commit_block = 900 + m.uid
        m.unproven = m.uid
        m.invalid = 2
        m.wrong_answers = 1
        m.reasons = [f"{m.uid} served samples failed their manifest proof"]
    return record


def round_record_2(round_no: int, uids: list[int]) -> dict[str, Any]:
    """A round as a round-record/2 validator wrote it: none of the commitment fields."""
    data = make_round(round_no, uids).to_dict()
    data["record_version"] = "round-record/2"
    del data["eval_commitment"], data["commitments_block"]
    for miner in data["miners"]:
        del miner["manifest_root"], miner["commit_block"], miner["unproven"]
    return data
