"""The read-only REST API and web page over the Redis leaderboard.

| path | answers |
|---|---|
| ``GET /v1/competitions`` | competitions with a leaderboard |
| ``GET /v1/competitions/{competition}/leaderboard?offset=&limit=`` | a page, highest EMA first |
| ``GET /v1/competitions/{competition}/miners/{uid}?history=`` | one miner: breakdown, history |
| ``GET /v1/rounds?offset=&limit=`` | rounds, newest first |
| ``GET /v1/rounds/{round_id}`` | one round's full record |
| ``POST /v1/attribution`` | token attribution of one prompt/completion under the base model |
| ``GET /healthz`` | 200 when Redis answers, else 503 |
| ``GET /metrics`` | Prometheus text exposition |
| ``GET /`` | the web page (assets under ``/static``, shipped in the package: no internet) |

Errors: bad parameters 422 (FastAPI's validation reasons), unknown competition, miner or round
404, Redis unreachable 503. The Redis client's 2 s socket timeouts bound every request; the
handlers are plain ``def`` so a slow Redis blocks a worker thread, never the event loop.

Attribution is the one route that does not read Redis: it runs a model
(``validator.attribution.methods``), given to ``create_app`` as a ``ModelProvider`` that loads
on first use (default: the embedded tiny base), so the API starts as fast as before and its
other routes never wait for a model. No model (``model=None``) or one that fails to load is
503 with the reason.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import redis
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from validator.store.leaderboard import (
    COUNTERS,
    CompetitionSummary,
    LeaderboardPage,
    LeaderboardStore,
    MinerDetail,
    RoundsPage,
)
from validator.store.records import RoundRecord

API_VERSION = "v1"
WEB_DIR = Path(__file__).parent / "web"

# One page of the leaderboard or rounds list: 200 rows is a screenful of a 256-uid subnet
# and keeps a response well under 100 KB.
MAX_PAGE = 200
DEFAULT_PAGE = 50
# History points returned with a miner (the store keeps up to HISTORY_LEN = 1000).
DEFAULT_HISTORY = 200

# Competition names are short snake_case identifiers (``cot_sft``); round ids are what the
# validator generates. Anything else is a 422 before Redis is asked.
COMPETITION_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
ROUND_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"


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


class ModelProvider:
    """A ``(model, tokenizer)`` pair loaded on first use, then kept; ``lock`` serialises use.

    One attribution at a time: concurrent forward passes of one CPU model only thrash. A failed
    load is not cached: the next request tries again.
    """

    def __init__(self, name: str, load: Callable[[], tuple[Any, Any]]) -> None:
        self.name = name
        self._load = load
        self._pair: tuple[Any, Any] | None = None
        self._load_lock = threading.Lock()
        self.lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory."""
        return self._pair is not None

    def get(self) -> tuple[Any, Any]:
        """The pair, loading it on the first call (concurrent first calls load once)."""
        with self._load_lock:
            if self._pair is None:
                self._pair = self._load()
            return self._pair


def base_model(name: str = "tiny", device: str = "cpu") -> ModelProvider:
    """A provider of ``load_base(name, device)``; torch is imported on first use, not here."""

    def load() -> tuple[Any, Any]:
        from validator.model.base import load_base

        return load_base(name, device)

    return ModelProvider(name, load)


# The default: one process-wide tiny base, loaded by the first attribution request (~1 s: the
# checkpoint ships in validator/model/data/).
DEFAULT_MODEL = base_model()


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


def get_store(request: Request) -> LeaderboardStore:
    """The store the app was built with."""
    store: LeaderboardStore = request.app.state.store
    return store


Store = Annotated[LeaderboardStore, Depends(get_store)]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="rows to skip")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"rows to return, 1..{MAX_PAGE}")]
History = Annotated[int, Query(ge=1, le=1000, description="history points, newest kept")]
CompetitionName = Annotated[str, PathParam(pattern=COMPETITION_PATTERN, description="e.g. cot_sft")]
Uid = Annotated[int, PathParam(ge=0, le=65535, description="miner uid")]
RoundId = Annotated[str, PathParam(pattern=ROUND_ID_PATTERN)]

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


def _known(store: LeaderboardStore, competition: str) -> None:
    if not store.has_competition(competition):
        raise HTTPException(404, f"unknown competition {competition!r}")


class AsciiJSONResponse(JSONResponse):
    """JSON with non-ASCII characters escaped, so any Python string can be rendered.

    A 422 echoes the request's input, and a lone surrogate (legal in a JSON escape, not in
    UTF-8; pydantic rejects it as ``string_unicode``) would make the default UTF-8 rendering
    raise: a 422 turned into a 500.
    """

    def render(self, content: Any) -> bytes:
        """``content`` as ASCII JSON."""
        return json.dumps(
            content, ensure_ascii=True, allow_nan=False, separators=(",", ":")
        ).encode()


async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 body (``{"detail": [errors]}``), rendered by ``AsciiJSONResponse``."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return AsciiJSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


def _attribute(provider: ModelProvider | None, body: AttributionRequest) -> AttributionResult:
    """Run the attribution; 503 for model trouble, 422 for a prompt the tokenizer overfills."""
    if provider is None:
        raise HTTPException(503, "no model is configured for attribution on this API")
    try:
        model, tokenizer = provider.get()
    except Exception as exc:  # any load failure (missing files, no network, OOM) is a 503
        reason = f"model {provider.name!r} unavailable: {type(exc).__name__}: {exc}"
        raise HTTPException(503, reason[:MAX_REASON_CHARS]) from exc
    from validator.attribution.methods import attribute  # torch: first use only

    with provider.lock:
        try:
            result = attribute(
                model,
                tokenizer,
                body.prompt,
                body.completion,
                body.method,
                max_seq_len=ATTRIBUTION_MAX_TOKENS,
                occlusion_budget=OCCLUSION_BUDGET,
            )
        except ValueError as exc:  # a tokenizer with more tokens than bytes can overfill
            error = {"type": "value_error", "loc": ("body", "prompt"), "msg": str(exc)}
            raise RequestValidationError([error]) from exc
        except FloatingPointError as exc:
            raise HTTPException(503, f"model {provider.name!r}: {exc}") from exc
    return AttributionResult(
        model=provider.name,
        method=result.method,
        tokens=[
            TokenScore(token=t, score=s, special=sp)
            for t, s, sp in zip(result.tokens, result.scores, result.special, strict=True)
        ],
        separator_score=result.separator_score,
        completion_logprob=result.completion_logprob,
        completion_tokens=result.completion_tokens,
        truncated=result.truncated,
    )


def create_app(store: LeaderboardStore, model: ModelProvider | None = DEFAULT_MODEL) -> FastAPI:
    """The API over ``store``; ``model`` serves ``/v1/attribution`` (None: that route is 503)."""
    app = FastAPI(
        title="Datacomp Subnet leaderboard",
        version=API_VERSION,
        description=(
            "Read-only leaderboard, miner history and round records of one validator,"
            " and token attribution on its base model."
        ),
        responses=UNAVAILABLE,
    )
    app.state.store = store
    app.state.model = model

    async def redis_unreachable(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": f"redis unreachable: {type(exc).__name__}"}, status_code=503)

    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(redis.ConnectionError, redis_unreachable)
    app.add_exception_handler(redis.TimeoutError, redis_unreachable)
    _add_leaderboard_routes(app)
    _add_service_routes(app)
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    return app


def _add_leaderboard_routes(app: FastAPI) -> None:
    """The Redis reads: competitions, leaderboard pages, miners, rounds."""

    @app.get(f"/{API_VERSION}/competitions", response_model=list[CompetitionSummary])
    def competitions(store: Store) -> list[CompetitionSummary]:
        """Competitions that have a leaderboard."""
        return store.competitions()

    @app.get(
        f"/{API_VERSION}/competitions/{{competition}}/leaderboard",
        response_model=LeaderboardPage,
        responses=NOT_FOUND,
    )
    def leaderboard(
        store: Store, competition: CompetitionName, offset: Offset = 0, limit: Limit = DEFAULT_PAGE
    ) -> LeaderboardPage:
        """A page of the leaderboard, highest EMA score first."""
        _known(store, competition)
        return store.leaderboard(competition, offset, limit)

    @app.get(
        f"/{API_VERSION}/competitions/{{competition}}/miners/{{uid}}",
        response_model=MinerDetail,
        responses=NOT_FOUND,
    )
    def miner(
        store: Store, competition: CompetitionName, uid: Uid, history: History = DEFAULT_HISTORY
    ) -> MinerDetail:
        """One miner: rank, score, last round's breakdown, score history (oldest first)."""
        _known(store, competition)
        detail = store.miner(competition, uid, history)
        if detail is None:
            raise HTTPException(404, f"uid {uid} has no score in {competition!r}")
        return detail

    @app.get(f"/{API_VERSION}/rounds", response_model=RoundsPage)
    def rounds(store: Store, offset: Offset = 0, limit: Limit = DEFAULT_PAGE) -> RoundsPage:
        """Rounds, newest first."""
        return store.rounds(offset, limit)

    @app.get(f"/{API_VERSION}/rounds/{{round_id}}", response_model=RoundRecord, responses=NOT_FOUND)
    def round_record(store: Store, round_id: RoundId) -> RoundRecord:
        """One round's full record: seeds, eval hash, versions, every miner's breakdown."""
        record = store.round(round_id)
        if record is None:
            raise HTTPException(404, f"unknown round {round_id!r}")
        return record


def _add_service_routes(app: FastAPI) -> None:
    """Everything else: attribution, health, metrics and the web page."""

    @app.post(
        f"/{API_VERSION}/attribution",
        response_model=AttributionResult,
        responses={**MODEL_UNAVAILABLE, **UNREADABLE_BODY},
    )
    def attribution(body: AttributionRequest, request: Request) -> AttributionResult:
        """How much each prompt token drives the completion's log-probability (base model).

        Scores are signed, in nats for occlusion: the drop of ``log p(completion | prompt)``
        when the token is replaced by a neutral one (higher = the completion leans on it).
        """
        return _attribute(request.app.state.model, body)

    @app.get("/healthz", response_model=Health, responses={503: {"model": Health}})
    def healthz(store: Store) -> JSONResponse:
        """200 when Redis answers, 503 when it does not."""
        try:
            store.ping()
        except (redis.ConnectionError, redis.TimeoutError):
            return JSONResponse(Health(status="unavailable", redis=False).model_dump(), 503)
        return JSONResponse(Health(status="ok", redis=True).model_dump())

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics(store: Store) -> PlainTextResponse:
        """Prometheus text format; ``datacomp_redis_up 0`` (and no counters) when Redis is down."""
        return PlainTextResponse(exposition(store), media_type=PROMETHEUS_CONTENT_TYPE)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html")


PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def exposition(store: LeaderboardStore) -> str:
    """The metrics in Prometheus text format 0.0.4."""
    try:
        values = store.metrics()
    except (redis.ConnectionError, redis.TimeoutError):
        values = None
    lines = [
        "# HELP datacomp_redis_up Whether the leaderboard's Redis answered this scrape.",
        "# TYPE datacomp_redis_up gauge",
        f"datacomp_redis_up {0 if values is None else 1}",
    ]
    if values is None:
        return "\n".join(lines) + "\n"
    summaries = {
        "round_duration_s": (
            "datacomp_round_duration_seconds",
            "Round durations (finished - started).",
        ),
        "apply_duration_s": ("datacomp_apply_duration_seconds", "Leaderboard apply durations."),
    }
    for base, (metric, help_text) in summaries.items():
        lines += [
            f"# HELP {metric} {help_text}",
            f"# TYPE {metric} summary",
            f"{metric}_sum {values[base + '_sum']:g}",
            f"{metric}_count {values[base + '_count']:g}",
        ]
    for name, help_text in COUNTERS.items():
        if name.startswith(tuple(summaries)):
            continue
        metric = f"datacomp_{name}_total"
        lines += [
            f"# HELP {metric} {help_text}",
            f"# TYPE {metric} counter",
            f"{metric} {values[name]:g}",
        ]
    return "\n".join(lines) + "\n"
