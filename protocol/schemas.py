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
    MAX_REQUESTED_SAMPLES,
    MAX_ROUND_ID_CHARS,
    MAX_SAMPLES_PER_RESPONSE,
)

# Bumped whenever a field is added, removed or changes meaning.
PROTOCOL_VERSION = "datacomp/1"

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

    protocol_version: Literal["datacomp/1"] = "datacomp/1"  # == PROTOCOL_VERSION
    competition: Competition
    round_id: Annotated[
        str, StringConstraints(min_length=1, max_length=MAX_ROUND_ID_CHARS, pattern=r"^[\w.:-]+$")
    ]
    num_samples: Annotated[int, Field(ge=1, le=MAX_REQUESTED_SAMPLES)]


class SubmissionResponse(_Strict):
    """What a miner serves: samples plus the hash of the manifest it committed to."""

    protocol_version: Literal["datacomp/1"] = "datacomp/1"  # == PROTOCOL_VERSION
    competition: Competition
    round_id: str
    samples: Annotated[
        list[CotSample] | list[PreferenceSample], Field(max_length=MAX_SAMPLES_PER_RESPONSE)
    ]
    manifest_sha256: Sha256Hex

    @model_validator(mode="after")
    def _samples_match_competition(self) -> SubmissionResponse:
        expected = SAMPLE_TYPES[self.competition]
        for index, sample in enumerate(self.samples):
            if not isinstance(sample, expected):
                raise ValueError(
                    f"sample {index} is a {type(sample).__name__}, "
                    f"competition {self.competition.value} takes {expected.__name__}"
                )
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


def manifest_sha256(samples: list[CotSample] | list[PreferenceSample]) -> str:
    """Hash of a data manifest: sha256 over the newline-joined per-sample hashes, in order.

    A miner can commit this on chain ahead of serving; anyone holding the samples can
    recompute it, and a single changed character changes it.
    """
    joined = "\n".join(sample_sha256(s) for s in samples)
    return hashlib.sha256(joined.encode()).hexdigest()
