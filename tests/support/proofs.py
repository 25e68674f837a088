"""A response's manifest fields for samples nobody committed: a manifest over exactly them.

Hostile and malformed miners (``hostile_miner.py``, ``malformed_payloads.py``) serve datacomp/2
bodies whose proofs verify against the root they name; they commit nothing on chain, so a
validator that reads commitments finds no binding for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from miner.manifests import prove_all
from miner.sources import Sample
from protocol.manifest import Manifest
from protocol.schemas import Competition


def manifest_fields(competition: Competition, samples: Sequence[Sample]) -> dict[str, Any]:
    """``manifest_root``, ``manifest_size`` and ``proofs`` (JSON-ready) of ``samples``."""
    proven = prove_all(Manifest([(competition, s) for s in samples]), competition, samples)
    return {
        "manifest_root": proven.manifest_root,
        "manifest_size": proven.manifest_size,
        "proofs": [p.model_dump() for p in proven.proofs],
    }
