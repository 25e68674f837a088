"""The API's request and response bodies, their limits, and the error responses it documents."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Attribution. 127 characters hold every eval prompt of both competitions (CoT at most 61
# bytes, safety at most 126 in safety-eval/2). They are at most 508 UTF-8 bytes: with bos and the separator
# every valid prompt fits a 512-token window (the embedded model's positions) with room for
# the completion's eos, so a schema-valid request is never refused for length.
ATTRIBUTION_MAX_TOKENS = 512
PROMPT_MAX_CHARS = 127
# A longer completion is cut to the window, as in training; the bound only caps the body.
COMPLETION_MAX_CHARS = 1024
# Occlusion costs one sequence-long row per prompt token (and one for the prompt as is). The
# budget admits the longest prompt with a refusal-length answer (bos + 127 + separator = 129
# rows of up to 160 tokens) and every CoT eval item (~63 rows of ~160). Measured on one CPU
# thread of the tiny model while a CI run shared the machine: 127-char prompt + 30-token
# answer 16 s, a CoT-sized item 4-8 s; the full window (129 rows of 512) 26 s, too long
# for one request, so past the budget the gradient method answers (one backward pass) and
# the response's ``method`` says so.
OCCLUSION_BUDGET = 129 * 160
# A failed model load's reason is reported, cut to a readable length.
MAX_REASON_CHARS = 300


class AttributionRequest(BaseModel):
    """One prompt and the completion whose log-probability is attributed to its tokens."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(
        max_length=PROMPT_MAX_CHARS,
        description="the raw prompt; the training format's separator is appended",
    )
    completion: str = Field(
        max_length=COMPLETION_MAX_CHARS,
        description=f"the completion as trained on; cut to a {ATTRIBUTION_MAX_TOKENS}-token window",
    )
    method: Literal["occlusion", "gradient"] = Field(
        "occlusion",
        description=f"occlusion (exact drop; gradient above {OCCLUSION_BUDGET} token positions)"
        " or gradient x input",
    )


class TokenScore(BaseModel):
    """One prompt token: its text, its score (higher = drives the completion more)."""

    token: str
    score: float
    special: bool


class AttributionResult(BaseModel):
    """Per prompt token, in order, joining back to the prompt; and what was measured."""

    model: str
    method: Literal["occlusion", "gradient"]
    tokens: list[TokenScore]
    separator_score: float | None
    completion_logprob: float
    completion_tokens: int
    truncated: bool


class ErrorBody(BaseModel):
    """An error's reason."""

    detail: str


class Health(BaseModel):
    """Liveness of the API and its Redis."""

    status: str
    redis: bool


NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {
        "model": ErrorBody,
        "description": "unknown competition, miner or round; eval set not served",
    }
}
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorBody, "description": "Redis unreachable"}
}
# The eval set route answers the validator's file as is: JSON, its schema that of eval_set.json.
EVAL_SET_OK: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "eval_set.json as the validator published it",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}
# FastAPI answers 400 (not 422) to a body it cannot decode as text (not UTF-8).
UNREADABLE_BODY: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "the body is not UTF-8 text"}
}
MODEL_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {
        "model": ErrorBody,
        "description": "no model configured, the model failed to load, or it gave non-finite values",
    }
}


# ---- commitments and receipts --------------------------------------------------------------


class EvalSetLocation(BaseModel):
    """Where a round's published held-out sets (``eval_set.json``) can be read."""

    url: str | None = Field(
        description="the API path serving eval_set.json; null when this API does not serve it"
    )
    validator_path: str = Field(
        description="where the validator publishes it, relative to its working directory"
    )
    note: str = Field(description="how to obtain it")


class EvalCommitmentView(BaseModel):
    """The validator's commitment to the round's held-out sets, made on chain before it pulled."""

    digest: str = Field(description="sha256 hex of the canonical set hashes || salt")
    chain_value: str = Field(description="the exact on-chain string, dce1:<digest>")
    salt: str = Field(description="hex; published with the sets after the round")
    eval_sets: dict[str, str] = Field(description="competition -> the held-out set's sha256")
    block: int | None = Field(description="where the chain included it; null when refused")
    error: str | None = Field(description="why the chain refused it")


class MinerCommitment(BaseModel):
    """What one miner's response was held to."""

    uid: int
    hotkey: str
    competition: str
    manifest_root: str | None = Field(
        description="the manifest root its samples were proved against"
    )
    commit_block: int | None = Field(
        description="block of its manifest commitment; earlier = earlier holder in dedup"
    )
    unproven: int = Field(description="served samples whose Merkle proof failed (dropped)")


class RoundCommitments(BaseModel):
    """Everything a third party needs, beside the miners' data, to check a round."""

    round_id: str
    validator_hotkey: str
    block: int = Field(description="the block the round started at")
    eval_commitment: EvalCommitmentView | None = Field(
        description="null for rounds recorded before round-record/3"
    )
    commitments_block: dict[str, int] = Field(
        description="competition -> block at which the miners' commitments were read"
    )
    miners: list[MinerCommitment]
    eval_set: EvalSetLocation


class ReceiptCounts(BaseModel):
    """What happened to the samples a miner offered."""

    offered: int
    accepted: int
    duplicates: int
    contaminated: int = Field(description="samples matching the eval pool, never trained on")
    contamination_allowance: int = Field(
        description="the most matches chance explains; more zero the round"
    )
    invalid: int
    unproven: int
    wrong_answers: int


class ReceiptCommitments(BaseModel):
    """The commitments the miner's score rests on: its own and the validator's."""

    manifest_root: str | None
    commit_block: int | None
    commitments_block: int | None = Field(
        description="block at which the validator read the miners' commitments"
    )
    eval_commitment_digest: str | None = Field(description="null before round-record/3")
    eval_commitment_chain_value: str | None = Field(description="dce1:<digest>")
    eval_commitment_block: int | None


class Receipt(BaseModel):
    """Why a miner got its score in its latest round, and how to reproduce it."""

    round_id: str
    round_block: int
    started_at: float = Field(description="round start, unix seconds")
    competition: str
    uid: int
    hotkey: str
    status: str = Field(description="scored, failed, contaminated or empty")
    error: str | None
    reasons: list[str]
    counts: ReceiptCounts
    components: dict[str, float] = Field(description="each score component by name")
    ci_low: float = Field(description="bootstrap CI of the per-item improvement, low end")
    ci_high: float
    score: float = Field(description="this round's score")
    ema: float = Field(description="moving score after this round")
    weight: float = Field(description="weight share after this round")
    commitments: ReceiptCommitments
    eval_set: EvalSetLocation
    audit_command: str = Field(
        description="run on the validator host (or a copy of the round directory)"
    )
    audit_from_api: str = Field(
        description="run anywhere: this API's record and held-out set, the miner's signed response"
    )
