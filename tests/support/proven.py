"""Responses as an honest miner builds them: samples with proofs against their manifest root."""

from __future__ import annotations

from collections.abc import Sequence

from miner.manifests import prove_all
from miner.sources import Sample
from protocol.manifest import Manifest
from protocol.schemas import Competition, SubmissionResponse, samples_sha256


def proven_response(
    competition: Competition,
    round_id: str,
    samples: Sequence[Sample],
    manifest: Manifest | None = None,
) -> SubmissionResponse:
    """``samples`` with their proofs in ``manifest`` (default: a manifest of just these)."""
    manifest = manifest or Manifest([(competition, s) for s in samples])
    proven = prove_all(manifest, competition, samples)
    return SubmissionResponse(
        competition=competition,
        round_id=round_id,
        samples=list(samples),
        samples_sha256=samples_sha256(list(samples)),  # type: ignore[arg-type]
        manifest_root=proven.manifest_root,
        manifest_size=proven.manifest_size,
        proofs=proven.proofs,
    )
