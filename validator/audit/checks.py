"""The audit's checks: each a named verdict over a published round and the chain's history.

Pure functions over explicit inputs (the round record, the published sets, one signed
response, the commitments the chain held at the recorded blocks); ``validator/audit/rescore.py``
re-trains, ``validator/audit/__main__.py`` wires them to files and a chain.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from protocol.auth import ResponseBinding, ResponseSignatureError, verify_response
from protocol.chain.base import Commitment
from protocol.commitments import CommitmentKind, eval_commitment_digest, parse_commitment
from protocol.schemas import Competition, CotSample, PreferenceSample, SubmissionResponse
from tasks.safety_prompts import Label, SafetyPrompt
from validator.evalsets.cot import EvalSet, eval_set_from_dict
from validator.evalsets.preference import PreferenceEvalSet
from validator.evalsets.publish import preference_sha256
from validator.manifests import commitment_error, proven_samples
from validator.store.records import EvalCommitmentRecord, MinerRoundRecord, RoundRecord


@dataclass(frozen=True)
class Finding:
    """One check: its name, whether it held, and what was compared."""

    check: str
    ok: bool
    detail: str


@contextmanager
def _well_typed(what: str) -> Iterator[None]:
    """A JSON value of the wrong type is unusable input: a ValueError naming ``what``.

    Null for a number or a number for a list is as unusable as a missing key (``KeyError``) or
    a bad value (``ValueError``): the audit command reports it (exit 2), not a traceback.
    """
    try:
        yield
    except (TypeError, AttributeError) as exc:
        raise ValueError(f"{what} is malformed: {type(exc).__name__}: {exc}") from exc


def published_cot_set(published: Mapping[str, Any]) -> EvalSet:
    """The CoT held-out set as published at the top of ``eval_set.json``."""
    with _well_typed("the published CoT set"):
        return eval_set_from_dict(published)


def published_preference_set(published: Mapping[str, Any]) -> PreferenceEvalSet:
    """The preference held-out set as published under ``"preference"`` in ``eval_set.json``."""
    with _well_typed("the published preference set"):
        return _preference_set(published["preference"])


def _preference_set(body: Mapping[str, Any]) -> PreferenceEvalSet:

    def prompts(rows: Sequence[Mapping[str, Any]]) -> tuple[SafetyPrompt, ...]:
        return tuple(
            SafetyPrompt(
                str(r["prompt"]),
                Label(r["label"]),
                str(r["category"]),
                str(r["intent"]),
                bool(r["howto"]),
            )
            for r in rows
        )

    return PreferenceEvalSet(
        round_id=str(body["round_id"]),
        seed=int(body["seed"]),
        harmful=prompts(body["harmful"]),
        benign=prompts(body["benign"]),
        pairs=tuple(
            (str(p["prompt"]), str(p["chosen"]), str(p["rejected"])) for p in body["pairs"]
        ),
    )


def recomputed_set_hashes(published: Mapping[str, Any]) -> dict[str, str]:
    """Each published held-out set's sha256, recomputed from its published content."""
    hashes: dict[str, str] = {}
    if "items" in published:
        hashes[Competition.COT_SFT.value] = published_cot_set(published).sha256()
    if "preference" in published:
        preference = published_preference_set(published)
        hashes[Competition.PREFERENCE.value] = preference_sha256(preference)
    return hashes


def eval_commitment_findings(
    record: RoundRecord, published: Mapping[str, Any], on_chain: Commitment | None
) -> list[Finding]:
    """Whether the published sets are what the validator committed on chain before it pulled."""
    committed = record.eval_commitment
    if committed is None or committed.block is None:
        why = "no commitment recorded" if committed is None else committed.error
        return [Finding("eval set committed", False, f"round is uncommitted: {why}")]
    hashes = recomputed_set_hashes(published)
    findings = [
        Finding(
            "published sets match the committed hashes",
            hashes == committed.eval_sets,
            f"recomputed {hashes} vs committed {committed.eval_sets}",
        )
    ]
    digest = eval_commitment_digest(record.round_id, hashes, committed.salt)
    findings.append(_on_chain_finding(committed, digest, on_chain))
    pulls = sorted(record.commitments_block.values())
    findings.append(
        Finding(
            "committed before the pull",
            # No read block recorded: nothing shows the commitment came first (not a pass).
            bool(pulls) and all(committed.block <= block for block in pulls),
            f"commitment block {committed.block}, commitments read at {pulls or 'no block'}",
        )
    )
    return findings


def _on_chain_finding(
    committed: EvalCommitmentRecord, digest: str, on_chain: Commitment | None
) -> Finding:
    name = "the chain holds the digest at the recorded block"
    if on_chain is None:
        return Finding(name, False, f"no commitment of the validator at block {committed.block}")
    parsed = parse_commitment(on_chain.data)
    ok = (
        parsed is not None
        and parsed.kind == CommitmentKind.EVAL
        and parsed.digest == digest == committed.digest
        and on_chain.block == committed.block
    )
    return Finding(
        name, ok, f"chain {on_chain.data!r} at {on_chain.block}; recomputed dce1:{digest}"
    )


@dataclass(frozen=True)
class SignedResponse:
    """A miner's response as it signed it (``validator/store/run_log.py``: ``signed/``)."""

    miner_hotkey: str
    validator_hotkey: str
    request_nonce_ns: int
    signature_headers: dict[str, str]
    body: bytes
    requested: int
    kept_sha256: list[str]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SignedResponse:
        """The dump's JSON form (a ValueError or KeyError for one that is not)."""
        with _well_typed("the signed response"):
            return cls(
                str(data["miner_hotkey"]),
                str(data["validator_hotkey"]),
                int(data["request_nonce_ns"]),
                _str_dict(data["signature_headers"]),
                str(data["body"]).encode("utf-8"),
                int(data["request"]["num_samples"]),
                [str(h) for h in data["kept_sha256"]],
            )


def _str_dict(value: Any) -> dict[str, str]:
    """A JSON object of strings (``dict()`` of a list of pairs would pass as one)."""
    if not isinstance(value, dict):
        raise ValueError(f"an object expected, got {type(value).__name__}")
    return {str(k): str(v) for k, v in value.items()}


def response_findings(
    signed: SignedResponse,
    record: RoundRecord,
    miner: MinerRoundRecord,
    on_chain: Commitment | None,
) -> tuple[list[Finding], SubmissionResponse | None, list[CotSample | PreferenceSample]]:
    """Signature, commitment binding and proofs of one signed response.

    Also the response and its proven samples, in order (what screening saw); None and [] when
    the signature fails.
    """
    binding = ResponseBinding(signed.miner_hotkey, signed.validator_hotkey, signed.request_nonce_ns)
    try:
        verify_response(signed.signature_headers, signed.body, binding)
        signature = Finding("miner's signature", True, f"signed by {signed.miner_hotkey}")
    except ResponseSignatureError as exc:
        return [Finding("miner's signature", False, str(exc))], None, []
    findings = [
        signature,
        Finding(
            "signed for this round's validator and miner",
            signed.validator_hotkey == record.validator_hotkey
            and signed.miner_hotkey == miner.hotkey,
            f"validator {signed.validator_hotkey}, miner {signed.miner_hotkey}",
        ),
    ]
    response = SubmissionResponse.model_validate_json(signed.body)
    error = commitment_error(miner.hotkey, response, on_chain)
    findings.append(
        Finding(
            "the commitment binds this hotkey to the root",
            error is None and on_chain is not None and on_chain.block == miner.commit_block,
            error or f"root {response.manifest_root[:16]}... committed at {miner.commit_block}",
        )
    )
    kept, _, failed = proven_samples(response)
    findings.append(
        Finding(
            "proofs",
            len(failed) == miner.unproven,
            f"{len(kept)} proven, {len(failed)} unproven (recorded {miner.unproven})",
        )
    )
    return findings, response, kept
