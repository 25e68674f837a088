"""Wire schemas (pydantic): samples, the submission request and the signed response.

Versioned: ``PROTOCOL_VERSION`` names the shape of every model here. A validator sends the
version it speaks; a miner answering another version is refused by both sides, never
half-parsed. Every model forbids unknown fields and bounds every string, so a hostile body
fails validation with a reason rather than reaching the training loop.
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from protocol.limits import (
    MAX_CHARS_PER_FIELD,
    MAX_MANIFEST_LEAVES,
    MAX_PROOF_HASHES,
    MAX_REQUESTED_SAMPLES,
    MAX_ROUND_ID_CHARS,
    MAX_SAMPLES_PER_RESPONSE,
)

# Bumped whenever a field is added, removed or changes meaning.
# /2: responses carry the manifest root the miner committed on chain and a proof per sample;
# ``manifest_sha256`` renamed ``samples_sha256`` (it hashes the served list, not the manifest).
PROTOCOL_VERSION = "datacomp/2"

SUBMISSION_PATH = "/v1/submission"

# Text fields: bounded, and a sample whose prompt is blank is no sample.
Text = Annotated[str, StringConstraints(max_length=MAX_CHARS_PER_FIELD)]
NonEmptyText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_CHARS_PER_FIELD)]
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class Competition(StrEnum):
    """The competitions a miner may serve; each fixes a sample schema."""

    COT_SFT = "cot_sft"
    PREFERENCE = "preference"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class CotSample(_Strict):
    """A chain-of-thought SFT sample: the model learns ``chain_of_thought`` then the answer."""

    prompt: NonEmptyText
    chain_of_thought: Text
    final_answer: Text


class PreferenceSample(_Strict):
    """A preference pair for DPO: ``chosen`` should be preferred over ``rejected``."""

    prompt: NonEmptyText
    chosen: Text
    rejected: Text


Sample = CotSample | PreferenceSample

SAMPLE_TYPES: dict[Competition, type[CotSample] | type[PreferenceSample]] = {
    Competition.COT_SFT: CotSample,
    Competition.PREFERENCE: PreferenceSample,
}


class SubmissionRequest(_Strict):
    """What a validator asks a miner for in one round."""

    protocol_version: Literal["datacomp/2"] = "datacomp/2"  # == PROTOCOL_VERSION
    competition: Competition
    round_id: Annotated[
        str, StringConstraints(min_length=1, max_length=MAX_ROUND_ID_CHARS, pattern=r"^[\w.:-]+$")
    ]
    num_samples: Annotated[int, Field(ge=1, le=MAX_REQUESTED_SAMPLES)]


class SampleProof(_Strict):
    """A served sample's place in the miner's committed manifest (``protocol/manifest.py``)."""

    leaf_index: Annotated[int, Field(ge=0, lt=MAX_MANIFEST_LEAVES)]
    path: Annotated[list[Sha256Hex], Field(max_length=MAX_PROOF_HASHES)]  # siblings, bottom-up


class SubmissionResponse(_Strict):
    """What a miner serves: samples, each with its proof against the manifest root it committed.

    ``samples_sha256`` hashes the served list (``samples_sha256()``); ``manifest_root`` and
    ``manifest_size`` name the Merkle tree the miner committed on chain, and ``proofs[i]``
    places ``samples[i]`` in it.
    """

    protocol_version: Literal["datacomp/2"] = "datacomp/2"  # == PROTOCOL_VERSION
    competition: Competition
    round_id: str
    samples: Annotated[
        list[CotSample] | list[PreferenceSample], Field(max_length=MAX_SAMPLES_PER_RESPONSE)
    ]
    samples_sha256: Sha256Hex
    manifest_root: Sha256Hex
    manifest_size: Annotated[int, Field(ge=1, le=MAX_MANIFEST_LEAVES)]
    proofs: Annotated[list[SampleProof], Field(max_length=MAX_SAMPLES_PER_RESPONSE)]

    @model_validator(mode="after")
    def _samples_match_competition(self) -> SubmissionResponse:
        expected = SAMPLE_TYPES[self.competition]
        for index, sample in enumerate(self.samples):
            if not isinstance(sample, expected):
                raise ValueError(
                    f"sample {index} is a {type(sample).__name__}, "
                    f"competition {self.competition.value} takes {expected.__name__}"
                )
        if len(self.proofs) != len(self.samples):
            raise ValueError(f"{len(self.proofs)} proofs for {len(self.samples)} samples")
        return self


def first_error(exc: ValidationError, where: str = "body") -> str:
    """``"field.path: message"`` of a validation error's first problem (a 4xx reason)."""
    first = exc.errors()[0]
    location = ".".join(str(p) for p in first["loc"]) or where
    return f"{location}: {first['msg']}"


def sample_sha256(sample: CotSample | PreferenceSample) -> str:
    """Content hash of one sample: sha256 of its canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(sample.model_dump(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def samples_sha256(samples: list[CotSample] | list[PreferenceSample]) -> str:
    """Hash of a served list: sha256 over the newline-joined per-sample hashes, in order.

    Anyone holding the samples can recompute it, and a single changed character changes it.
    What a miner commits on chain is its manifest's Merkle root (``protocol/manifest.py``).
    """
    joined = "\n".join(sample_sha256(s) for s in samples)
    return hashlib.sha256(joined.encode()).hexdigest()
