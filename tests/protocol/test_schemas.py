from __future__ import annotations

import pytest
from pydantic import ValidationError

from protocol.limits import MAX_CHARS_PER_FIELD, MAX_SAMPLES_PER_RESPONSE
from protocol.schemas import (
    PROTOCOL_VERSION,
    Competition,
    CotSample,
    PreferenceSample,
    SubmissionRequest,
    SubmissionResponse,
    samples_sha256,
    sample_sha256,
)

COT = CotSample(prompt="p", chain_of_thought="c", final_answer="a")


def test_request_defaults_to_current_version() -> None:
    request = SubmissionRequest(competition=Competition.COT_SFT, round_id="r-1", num_samples=3)
    assert request.protocol_version == PROTOCOL_VERSION


@pytest.mark.parametrize(
    "fields",
    [
        {"num_samples": 0},
        {"num_samples": MAX_SAMPLES_PER_RESPONSE + 1},
        {"round_id": ""},
        {"round_id": "a/b"},
        {"round_id": "x" * 65},
        {"protocol_version": "datacomp/0"},
        {"competition": "unknown"},
    ],
)
def test_request_limits(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SubmissionRequest.model_validate(
            {"competition": "cot_sft", "round_id": "r", "num_samples": 1} | fields
        )


def test_field_length_limit() -> None:
    CotSample(prompt="p", chain_of_thought="x" * MAX_CHARS_PER_FIELD, final_answer="")
    with pytest.raises(ValidationError):
        CotSample(prompt="p", chain_of_thought="x" * (MAX_CHARS_PER_FIELD + 1), final_answer="")
    with pytest.raises(ValidationError):
        CotSample(prompt="", chain_of_thought="c", final_answer="a")


def test_response_sample_count_and_type() -> None:
    with pytest.raises(ValidationError):
        SubmissionResponse(
            competition=Competition.COT_SFT,
            round_id="r",
            samples=[COT] * (MAX_SAMPLES_PER_RESPONSE + 1),
            samples_sha256="0" * 64,
        )
    with pytest.raises(ValidationError, match="competition cot_sft takes CotSample"):
        SubmissionResponse(
            competition=Competition.COT_SFT,
            round_id="r",
            samples=[PreferenceSample(prompt="p", chosen="a", rejected="b")],
            samples_sha256="0" * 64,
        )
    with pytest.raises(ValidationError):
        SubmissionResponse(
            competition=Competition.COT_SFT, round_id="r", samples=[COT], samples_sha256="XYZ"
        )


def test_non_string_and_nan_content_rejected() -> None:
    with pytest.raises(ValidationError):
        CotSample.model_validate(
            {"prompt": float("nan"), "chain_of_thought": "c", "final_answer": "a"}
        )
    with pytest.raises(ValidationError):
        SubmissionResponse.model_validate_json(
            b'{"competition":"cot_sft","round_id":"r","samples":[{"prompt":NaN}],"samples_sha256":"'
            + b"0" * 64
            + b'"}'
        )


def test_manifest_hash_is_order_and_content_sensitive() -> None:
    other = CotSample(prompt="p", chain_of_thought="c", final_answer="b")
    assert samples_sha256([COT, other]) != samples_sha256([other, COT])
    assert sample_sha256(COT) != sample_sha256(other)
    assert samples_sha256([COT]) == samples_sha256(
        [CotSample(prompt="p", chain_of_thought="c", final_answer="a")]
    )
