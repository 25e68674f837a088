"""A round's commitments and a miner's receipt, built from round records; the published set.

A third party checks a round with the API and the miner's data only: the validator's eval
commitment (the ``dce1:`` string it wrote on chain before pulling, its salt and the set hashes
it covers), the blocks at which the miners' manifest commitments were read, each miner's
manifest root and commit block, and the published held-out sets (``eval_set.json``), which
the API serves when it is given the validator's runs directory.

``eval_set_file`` is the only place a path is built from a request: it serves one file name
(``EVAL_SET_FILE``) directly inside ``<runs_dir>/<round_id>/``, after resolving symlinks, and
nothing else.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from fastapi import HTTPException

from protocol.commitments import CommitmentKind
from validator.api.schemas import (
    EvalCommitmentView,
    EvalSetLocation,
    MinerCommitment,
    Receipt,
    ReceiptCommitments,
    ReceiptCounts,
    RoundCommitments,
)
from validator.store.records import EvalCommitmentRecord, MinerRoundRecord, RoundRecord

# The file a validator publishes its held-out sets in (validator/store/run_log.py): the one
# file name the API ever serves from the runs directory.
EVAL_SET_FILE = "eval_set.json"
# The validator's default ``--run-dir`` (validator/config.py): where receipts point a reader.
VALIDATOR_RUNS = "runs"


def chain_value(digest: str) -> str:
    """The exact on-chain string of an eval commitment: ``dce1:<digest>``."""
    return f"{CommitmentKind.EVAL.value}:{digest}"


def eval_set_path_text(round_id: str) -> str:
    """``runs/<round_id>/eval_set.json``: where the validator host publishes the sets."""
    return f"{VALIDATOR_RUNS}/{round_id}/{EVAL_SET_FILE}"


def eval_set_file(runs_dir: Path | None, round_id: str) -> Path:
    """The round's published ``eval_set.json`` under ``runs_dir``; HTTP 404 with the reason.

    Refused: no runs directory configured, a round id that is not one plain directory name
    (``.``, ``..``), a path that resolves (symlinks followed) anywhere but
    ``<runs_dir>/<round_id>/eval_set.json``, and a file that is not there.
    """
    where = eval_set_path_text(round_id)
    if runs_dir is None:
        raise HTTPException(
            404, f"this API does not serve eval sets: published on the validator host at {where}"
        )
    root = runs_dir.resolve()
    path = (root / round_id / EVAL_SET_FILE).resolve()
    if round_id in (".", "..") or path != root / round_id / EVAL_SET_FILE:
        raise HTTPException(404, f"round {round_id!r} has no eval set under the runs directory")
    if not path.is_file():
        raise HTTPException(404, f"{where} is not in this API's runs directory (not published?)")
    return path


def eval_set_location(runs_dir: Path | None, round_id: str) -> EvalSetLocation:
    """Where the round's published sets are: this API's URL when it can serve them."""
    where = eval_set_path_text(round_id)
    try:
        eval_set_file(runs_dir, round_id)
    except HTTPException as exc:
        return EvalSetLocation(url=None, validator_path=where, note=str(exc.detail))
    return EvalSetLocation(
        url=f"/v1/rounds/{round_id}/eval_set",
        validator_path=where,
        note=f"served by this API; the same file as {where} on the validator host",
    )


def eval_commitment_view(commitment: EvalCommitmentRecord | None) -> EvalCommitmentView | None:
    """The record's eval commitment with its on-chain string (None before round-record/3)."""
    if commitment is None:
        return None
    return EvalCommitmentView(
        digest=commitment.digest,
        chain_value=chain_value(commitment.digest),
        salt=commitment.salt,
        eval_sets=dict(commitment.eval_sets),
        block=commitment.block,
        error=commitment.error,
    )


def round_commitments(record: RoundRecord, runs_dir: Path | None) -> RoundCommitments:
    """A round's commitments: the validator's, the read blocks, every miner's, the set."""
    return RoundCommitments(
        round_id=record.round_id,
        validator_hotkey=record.validator_hotkey,
        block=record.block,
        eval_commitment=eval_commitment_view(record.eval_commitment),
        commitments_block=dict(record.commitments_block),
        miners=[
            MinerCommitment(
                uid=m.uid,
                hotkey=m.hotkey,
                competition=m.competition.value,
                manifest_root=m.manifest_root,
                commit_block=m.commit_block,
                unproven=m.unproven,
            )
            for m in record.miners
        ],
        eval_set=eval_set_location(runs_dir, record.round_id),
    )


def audit_command(runs_dir: Path | None, round_id: str, hotkey: str, competition: str) -> str:
    """The command line that re-checks and re-scores this miner's round (shell-quoted).

    Run on the validator host, in the round's directory under ``runs_dir`` (the validator's
    ``--run-dir``; ``runs`` when this API was not given it). The base model, network and netuid
    come from the round record (round-record/6), so the command needs no more.
    """
    return shlex.join(
        [
            "python",
            "-m",
            "validator.audit",
            (Path(runs_dir or VALIDATOR_RUNS) / round_id).as_posix(),
            "--miner",
            hotkey,
            "--competition",
            competition,
        ]
    )


def find_miner(record: RoundRecord, hotkey: str, competition: str) -> MinerRoundRecord | None:
    """The hotkey's record in ``competition`` of this round, or None."""
    for miner in record.miners:
        if miner.hotkey == hotkey and miner.competition.value == competition:
            return miner
    return None


def api_audit_command(api_url: str, round_id: str, hotkey: str, competition: str) -> str:
    """The same audit from anywhere: this API's record and set, the miner's own signed response."""
    return shlex.join(
        [
            "python",
            "-m",
            "validator.audit",
            "--api",
            api_url,
            "--round",
            round_id,
            "--signed",
            "YOUR_SIGNED_RESPONSE.json",
            "--miner",
            hotkey,
            "--competition",
            competition,
        ]
    )


def receipt(
    record: RoundRecord, miner: MinerRoundRecord, runs_dir: Path | None, api_url: str
) -> Receipt:
    """Why ``miner`` got its score in ``record``, the commitments, and the audit commands."""
    competition = miner.competition.value
    committed = record.eval_commitment
    return Receipt(
        round_id=record.round_id,
        round_block=record.block,
        started_at=record.started_at,
        competition=competition,
        uid=miner.uid,
        hotkey=miner.hotkey,
        status=miner.status.value,
        error=miner.error,
        reasons=list(miner.reasons),
        counts=ReceiptCounts(
            offered=miner.offered,
            accepted=miner.accepted,
            duplicates=miner.duplicates,
            contaminated=miner.contaminated,
            contamination_allowance=miner.contamination_allowance,
            invalid=miner.invalid,
            unproven=miner.unproven,
            wrong_answers=miner.wrong_answers,
        ),
        components=dict(miner.components),
        ci_low=miner.ci_low,
        ci_high=miner.ci_high,
        score=miner.score,
        ema=miner.ema,
        weight=miner.weight,
        commitments=ReceiptCommitments(
            manifest_root=miner.manifest_root,
            commit_block=miner.commit_block,
            commitments_block=record.commitments_block.get(competition),
            eval_commitment_digest=committed.digest if committed else None,
            eval_commitment_chain_value=chain_value(committed.digest) if committed else None,
            eval_commitment_block=committed.block if committed else None,
        ),
        eval_set=eval_set_location(runs_dir, record.round_id),
        audit_command=audit_command(runs_dir, record.round_id, miner.hotkey, competition),
        audit_from_api=api_audit_command(api_url, record.round_id, miner.hotkey, competition),
    )
