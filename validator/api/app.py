"""The read-only REST API and web page over the Redis leaderboard.

| path | answers |
|---|---|
| ``GET /v1/competitions`` | competitions with a leaderboard |
| ``GET /v1/competitions/{competition}/leaderboard?offset=&limit=`` | a page, highest EMA first |
| ``GET /v1/competitions/{competition}/miners/{uid}?history=`` | one miner: breakdown, history |
| ``GET /v1/rounds?offset=&limit=`` | rounds, newest first |
| ``GET /v1/rounds/{round_id}`` | one round's full record |
| ``GET /v1/rounds/{round_id}/commitments`` | the eval commitment, read blocks, miners' roots |
| ``GET /v1/rounds/{round_id}/eval_set`` | the published held-out sets (given ``runs_dir``) |
| ``GET /v1/miners/{hotkey}/receipt?competition=`` | why a miner got its latest score |
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

The published held-out sets (``eval_set.json``) live in the validator's round directories, not
in Redis: given that runs directory (``runs_dir``, read-only) the API serves them, else their
route is 404 naming where the validator host publishes them (``validator.api.receipts``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import redis
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles

from validator.api.attribution import DEFAULT_MODEL, ModelProvider, attribute_request
from validator.api.metrics import PROMETHEUS_CONTENT_TYPE, exposition
from validator.api.receipts import eval_set_file, find_miner, receipt, round_commitments
from validator.api.schemas import (
    EVAL_SET_OK,
    MODEL_UNAVAILABLE,
    NOT_FOUND,
    UNAVAILABLE,
    UNREADABLE_BODY,
    AttributionRequest,
    AttributionResult,
    Health,
    Receipt,
    RoundCommitments,
)
from validator.store.leaderboard import (
    CompetitionSummary,
    LeaderboardPage,
    LeaderboardStore,
    MinerDetail,
    RoundsPage,
)
from validator.store.records import RoundRecord

API_VERSION = "v1"
WEB_DIR = Path(__file__).parent / "web"  # the page and its assets, shipped in the package

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
# Hotkeys are ss58 (base58, 48 characters); test and local networks use other alphanumerics.
HOTKEY_PATTERN = r"^[A-Za-z0-9]{1,64}$"


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
Hotkey = Annotated[str, PathParam(pattern=HOTKEY_PATTERN, description="the miner's hotkey")]
CompetitionQuery = Annotated[
    str, Query(pattern=COMPETITION_PATTERN, description="the competition, e.g. cot_sft")
]


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


def _round(store: LeaderboardStore, round_id: str) -> RoundRecord:
    record = store.round(round_id)
    if record is None:
        raise HTTPException(404, f"unknown round {round_id!r}")
    return record


def create_app(
    store: LeaderboardStore,
    model: ModelProvider | None = DEFAULT_MODEL,
    runs_dir: Path | None = None,
) -> FastAPI:
    """The API over ``store``; ``model`` serves ``/v1/attribution`` (None: that route is 503).

    ``runs_dir``: the validator's round directories (read-only), whose ``eval_set.json`` files
    ``/v1/rounds/{round_id}/eval_set`` serves; None: that route is 404 saying where they are.
    """
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
    app.state.runs_dir = runs_dir

    async def redis_unreachable(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": f"redis unreachable: {type(exc).__name__}"}, status_code=503)

    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(redis.ConnectionError, redis_unreachable)
    app.add_exception_handler(redis.TimeoutError, redis_unreachable)
    _add_leaderboard_routes(app)
    _add_commitment_routes(app)
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
        return _round(store, round_id)


def _add_commitment_routes(app: FastAPI) -> None:
    """What a third party audits with: commitments, the published set, per-miner receipts."""

    @app.get(
        f"/{API_VERSION}/rounds/{{round_id}}/commitments",
        response_model=RoundCommitments,
        responses=NOT_FOUND,
    )
    def commitments(store: Store, round_id: RoundId, request: Request) -> RoundCommitments:
        """What a round's scores were held to, and where its published set is.

        The validator's eval commitment (and its on-chain string), the blocks the miners'
        commitments were read at, each miner's manifest root and commit block.
        """
        return round_commitments(_round(store, round_id), request.app.state.runs_dir)

    @app.get(
        f"/{API_VERSION}/rounds/{{round_id}}/eval_set",
        response_class=FileResponse,
        responses={**EVAL_SET_OK, **NOT_FOUND},
    )
    def eval_set(store: Store, round_id: RoundId, request: Request) -> FileResponse:
        """The round's published held-out sets and commitment salt (``eval_set.json``)."""
        if not store.has_round(round_id):
            raise HTTPException(404, f"unknown round {round_id!r}")
        path = eval_set_file(request.app.state.runs_dir, round_id)
        return FileResponse(path, media_type="application/json")

    @app.get(
        f"/{API_VERSION}/miners/{{hotkey}}/receipt", response_model=Receipt, responses=NOT_FOUND
    )
    def miner_receipt(
        store: Store, hotkey: Hotkey, request: Request, competition: CompetitionQuery = "cot_sft"
    ) -> Receipt:
        """Why the miner got its score in its latest round, and how to reproduce it.

        Status and reasons, sample counts, score components and CI, the commitments, and the
        audit command line.
        """
        _known(store, competition)
        round_id = store.latest_round_of(competition, hotkey)
        record = store.round(round_id) if round_id is not None else None
        miner = find_miner(record, hotkey, competition) if record is not None else None
        if record is None or miner is None:
            raise HTTPException(404, f"hotkey {hotkey!r} has no round in {competition!r}")
        api_url = str(request.base_url).rstrip("/")
        return receipt(record, miner, request.app.state.runs_dir, api_url)


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
        return attribute_request(request.app.state.model, body)

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
