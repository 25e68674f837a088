"""Hold every pulled response to what its miner committed on chain before serving.

After a competition's pull the validator reads the subnet's commitments once (one read, one
block) and checks each verified response:

1. the miner's commitment must be a manifest commitment that binds *this* hotkey to the
   response's ``manifest_root`` (``protocol.commitments.manifest_binding``). A missing,
   foreign, stale or copied commitment (another hotkey's string replayed: the SN6 exploit)
   fails the whole response: nothing it served is provably the miner's;
2. each sample's proof must place it, under this competition, in the tree of that root
   (``protocol.manifest.verify_inclusion``). A sample that fails is dropped with its reason;
   the others go on. A miner cannot serve two validators different samples under one root
   (a leaf is the sample's hash), nor anything outside its root.

A response that passes carries its commitment block: the earliest-holder rule of dedup
(``scoring/dedup.py``) ranks miners by it, earlier block first, then lower uid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from protocol.chain.base import Commitment
from protocol.commitments import CommitmentKind, manifest_binding, parse_commitment
from protocol.manifest import InclusionProof, verify_inclusion
from protocol.schemas import CotSample, PreferenceSample, SampleProof, SubmissionResponse
from validator.pull import PullResult

# Reasons itemised per miner before the rest are summed up (as screening does).
MAX_ITEMISED_REASONS = 3


@dataclass(frozen=True)
class ManifestCheck:
    """One pulled response held to its miner's commitment."""

    uid: int
    commit_block: int | None = None  # the commitment's block, when the response passed
    manifest_root: str | None = None
    unproven: int = 0  # samples whose proof failed (dropped)
    reasons: list[str] = field(default_factory=list)
    error: str | None = None  # the whole response refused (no valid commitment)


def commitment_error(
    hotkey: str, response: SubmissionResponse, commitment: Commitment | None
) -> str | None:
    """Why the miner's commitment does not cover ``response`` (None when it does)."""
    if commitment is None:
        return "no manifest commitment on chain: a miner must commit before it serves"
    parsed = parse_commitment(commitment.data)
    if parsed is None or parsed.kind != CommitmentKind.MANIFEST:
        return "the hotkey's commitment is not a manifest commitment"
    if parsed.digest != manifest_binding(hotkey, response.manifest_root):
        return (
            "the committed manifest is not this root under this hotkey "
            "(stale, or another hotkey's commitment replayed)"
        )
    return None


def proven_samples(
    response: SubmissionResponse,
) -> tuple[list[CotSample | PreferenceSample], list[SampleProof], list[int]]:
    """The samples whose proofs verify (with their proofs), and the indices that failed."""
    kept: list[CotSample | PreferenceSample] = []
    proofs: list[SampleProof] = []
    failed: list[int] = []
    served: Sequence[CotSample | PreferenceSample] = response.samples
    for index, (sample, proof) in enumerate(zip(served, response.proofs, strict=True)):
        inclusion = InclusionProof(proof.leaf_index, tuple(proof.path))
        if verify_inclusion(
            response.competition,
            sample,
            inclusion,
            response.manifest_size,
            response.manifest_root,
        ):
            kept.append(sample)
            proofs.append(proof)
        else:
            failed.append(index)
    return kept, proofs, failed


def check_response(result: PullResult, commitment: Commitment | None) -> ManifestCheck:
    """Hold one pulled response to ``commitment`` (its hotkey's, as the chain has it now)."""
    return _held(result, commitment)[0]


def _held(result: PullResult, commitment: Commitment | None) -> tuple[ManifestCheck, PullResult]:
    """The check of one response, and the result narrowed to what it let through."""
    response = result.response
    if response is None:
        return ManifestCheck(result.uid), result
    error = commitment_error(result.hotkey, response, commitment)
    if error is not None or commitment is None:
        check = ManifestCheck(result.uid, manifest_root=response.manifest_root, error=error)
        return check, replace(result, response=None, error=error)
    kept, proofs, failed = proven_samples(response)
    reasons = [
        f"sample {i}: its proof does not place it under the committed root"
        for i in failed[:MAX_ITEMISED_REASONS]
    ]
    if len(failed) > MAX_ITEMISED_REASONS:
        reasons.append(f"... {len(failed)} samples without a valid proof in all")
    root, block = response.manifest_root, commitment.block
    if failed and len(failed) == len(response.samples):
        error = "no served sample is in the committed manifest"
        check = ManifestCheck(result.uid, block, root, len(failed), reasons, error)
        return check, replace(result, response=None, error=error)
    check = ManifestCheck(result.uid, block, root, len(failed), reasons)
    if failed:
        narrowed = response.model_copy(update={"samples": kept, "proofs": proofs})
        return check, replace(result, response=narrowed)
    return check, result


def held_to_commitments(
    results: Sequence[PullResult], commitments: Mapping[str, Commitment]
) -> tuple[list[PullResult], dict[int, ManifestCheck]]:
    """Every result held to its miner's commitment: results narrowed to proven samples.

    A refused response becomes a failed result with the reason (its samples go nowhere); an
    accepted one keeps only the samples whose proofs verify. Returns the results, in order,
    and each uid's ``ManifestCheck``.
    """
    checks: dict[int, ManifestCheck] = {}
    held: list[PullResult] = []
    for result in results:
        check, narrowed = _held(result, commitments.get(result.hotkey))
        checks[result.uid] = check
        held.append(narrowed)
    return held, checks
