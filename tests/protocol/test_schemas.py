from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from protocol.limits import (
    MAX_CHARS_PER_FIELD,
    MAX_MANIFEST_LEAVES,
    MAX_PROOF_HASHES,
    MAX_SAMPLES_PER_RESPONSE,
)
from protocol.manifest import InclusionProof, Manifest, verify_inclusion
from protocol.schemas import (
    PROTOCOL_VERSION,
    Competition,
    CotSample,
    PreferenceSample,
    SampleProof,
    SubmissionRequest,
    SubmissionResponse,
    sample_sha256,
    samples_sha256,
)

COT = CotSample(prompt="p", chain_of_thought="c", final_answer="a")
ROOT = "ab" * 32


def _manifest_fields(count: int) -> dict[str, Any]:
    """Well-formed manifest fields for ``count`` samples (the schema checks form, not proofs)."""
    return {
        "manifest_root": ROOT,
        "manifest_size": max(count, 1),
        "proofs": [SampleProof(leaf_index=i, path=[]) for i in range(count)],
    }


def _response(samples: list[Any], **overrides: Any) -> dict[str, Any]:
    """A response body as JSON-ready data, with well-formed manifest fields."""
    fields = _manifest_fields(len(samples))
    return {
        "competition": "cot_sft",
        "round_id": "r",
        "samples": [s.model_dump() for s in samples],
        "samples_sha256": samples_sha256(samples),
        "manifest_root": fields["manifest_root"],
        "manifest_size": fields["manifest_size"],
        "proofs": [p.model_dump() for p in fields["proofs"]],
    } | overrides


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
            **_manifest_fields(MAX_SAMPLES_PER_RESPONSE + 1),
        )
    with pytest.raises(ValidationError, match="competition cot_sft takes CotSample"):
        SubmissionResponse(
            competition=Competition.COT_SFT,
            round_id="r",
            samples=[PreferenceSample(prompt="p", chosen="a", rejected="b")],
            samples_sha256="0" * 64,
            **_manifest_fields(1),
        )
    with pytest.raises(ValidationError):
        SubmissionResponse(
            competition=Competition.COT_SFT,
            round_id="r",
            samples=[COT],
            samples_sha256="XYZ",
            **_manifest_fields(1),
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


def test_a_response_carries_one_proof_per_sample() -> None:
    samples = [COT, CotSample(prompt="q", chain_of_thought="c", final_answer="b")]
    SubmissionResponse.model_validate(_response(samples))
    for proofs in ([], [{"leaf_index": 0, "path": []}], [{"leaf_index": 0, "path": []}] * 3):
        with pytest.raises(ValidationError, match=f"{len(proofs)} proofs for 2 samples"):
            SubmissionResponse.model_validate(_response(samples, proofs=proofs))
    empty = SubmissionResponse.model_validate(_response([], proofs=[]))
    assert empty.samples == [] and empty.proofs == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"proofs": [{"leaf_index": -1, "path": []}]},
        {"proofs": [{"leaf_index": MAX_MANIFEST_LEAVES, "path": []}]},
        {"proofs": [{"leaf_index": 0.5, "path": []}]},
        {"proofs": [{"leaf_index": 0, "path": ["00" * 32] * (MAX_PROOF_HASHES + 1)}]},
        {"proofs": [{"leaf_index": 0, "path": ["AB" * 32]}]},
        {"proofs": [{"leaf_index": 0, "path": ["ab" * 31]}]},
        {"proofs": [{"leaf_index": 0, "path": "ab" * 32}]},
        {"proofs": [{"leaf_index": 0, "path": [], "root": ROOT}]},
        {"proofs": [{"path": []}]},
        {"manifest_size": 0},
        {"manifest_size": MAX_MANIFEST_LEAVES + 1},
        {"manifest_root": ROOT.upper()},
        {"manifest_root": ROOT[:-1]},
        {"manifest_root": None},
    ],
    ids=lambda o: next(iter(o)) + ":" + repr(next(iter(o.values())))[:24],
)
def test_manifest_fields_are_bounded(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SubmissionResponse.model_validate(_response([COT], **overrides))


def test_the_bounds_admit_the_largest_honest_proof() -> None:
    path = ["00" * 32] * MAX_PROOF_HASHES
    proofs = [{"leaf_index": MAX_MANIFEST_LEAVES - 1, "path": path}]
    SubmissionResponse.model_validate(
        _response([COT], proofs=proofs, manifest_size=MAX_MANIFEST_LEAVES)
    )


def test_a_real_manifest_proof_round_trips_the_wire() -> None:
    samples = [
        CotSample(prompt=f"p{i}", chain_of_thought="c", final_answer=str(i)) for i in range(5)
    ]
    manifest = Manifest([(Competition.COT_SFT, s) for s in samples])
    proofs = [manifest.prove_sample(Competition.COT_SFT, s) for s in samples]
    wire = SubmissionResponse(
        competition=Competition.COT_SFT,
        round_id="r",
        samples=samples,
        samples_sha256=samples_sha256(samples),
        manifest_root=manifest.root,
        manifest_size=manifest.size,
        proofs=[SampleProof(leaf_index=p.leaf_index, path=list(p.path)) for p in proofs],
    ).model_dump_json()
    parsed = SubmissionResponse.model_validate_json(wire)
    assert len(parsed.proofs) == len(parsed.samples)
    for index, proof in enumerate(parsed.proofs):
        sample = parsed.samples[index]
        found = InclusionProof(proof.leaf_index, tuple(proof.path))
        assert (
            verify_inclusion(parsed.competition, sample, found, parsed.manifest_size, ROOT) is False
        )
        assert verify_inclusion(
            parsed.competition, sample, found, parsed.manifest_size, parsed.manifest_root
        )
