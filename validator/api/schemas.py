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
    404: {"model": ErrorBody, "description": "unknown competition, miner or round"}
}
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorBody, "description": "Redis unreachable"}
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
