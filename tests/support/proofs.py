"""Manifest proofs in tests: responses built as a miner builds them, and checked as a validator does.

Hostile and malformed miners (``hostile_miner.py``, ``malformed_payloads.py``) serve datacomp/2
bodies whose proofs verify against the root they name (``manifest_fields``); they commit
nothing on chain, so a validator that reads commitments finds no binding for them.
``proven_response`` is such a response as a model; ``unproven`` lists the samples of a
response whose proofs do not lead to the root it names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from miner.manifests import prove_all
from miner.sources import Sample
from protocol.manifest import InclusionProof, Manifest, verify_inclusion
from protocol.schemas import Competition, SubmissionResponse, samples_sha256


def manifest_fields(competition: Competition, samples: Sequence[Sample]) -> dict[str, Any]:
    """``manifest_root``, ``manifest_size`` and ``proofs`` (JSON-ready) of ``samples``."""
    proven = prove_all(Manifest([(competition, s) for s in samples]), competition, samples)
    return {
        "manifest_root": proven.manifest_root,
        "manifest_size": proven.manifest_size,
        "proofs": [p.model_dump() for p in proven.proofs],
    }


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


def unproven(response: SubmissionResponse) -> list[int]:
    """Indices of the samples whose proofs do not place them under the response's root."""
    served: Sequence[Sample] = response.samples
    return [
        index
        for index, (sample, proof) in enumerate(zip(served, response.proofs, strict=True))
        if not verify_inclusion(
            response.competition,
            sample,
            InclusionProof(proof.leaf_index, tuple(proof.path)),
            response.manifest_size,
            response.manifest_root,
        )
    ]
