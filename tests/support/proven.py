"""Responses as an honest miner builds them: samples with proofs against their manifest root."""

from __future__ import annotations

from collections.abc import Sequence

from protocol.manifest import Manifest
from protocol.schemas import (
    Competition,
    CotSample,
    PreferenceSample,
    SampleProof,
    SubmissionResponse,
    samples_sha256,
)


def proven_response(
    competition: Competition,
    round_id: str,
    samples: Sequence[CotSample | PreferenceSample],
    manifest: Manifest | None = None,
) -> SubmissionResponse:
    """``samples`` with their proofs in ``manifest`` (default: a manifest of just these)."""
    manifest = manifest or Manifest([(competition, s) for s in samples])
    proofs = []
    for sample in samples:
        proof = manifest.prove_sample(competition, sample)
        proofs.append(SampleProof(leaf_index=proof.leaf_index, path=list(proof.path)))
    return SubmissionResponse(
        competition=competition,
        round_id=round_id,
        samples=list(samples),  # type: ignore[arg-type]
        samples_sha256=samples_sha256(list(samples)),  # type: ignore[arg-type]
        manifest_root=manifest.root,
        manifest_size=manifest.size,
        proofs=proofs,
    )
