"""The read-only REST API and web page over the Redis leaderboard.

| path | answers |
|---|---|
| ``GET /v1/competitions`` | competitions with a leaderboard |
| ``GET /v1/competitions/{competition}/leaderboard?offset=&limit=`` | a page, highest EMA first |
| ``GET /v1/competitions/{competition}/miners/{uid}?history=`` | one miner: breakdown, history |
| ``GET /v1/rounds?offset=&limit=`` | rounds, newest first |
| ``GET /v1/rounds/{round_id}`` | one round's full record |
| ``GET /healthz`` | 200 when Redis answers, else 503 |
| ``GET /metrics`` | Prometheus text exposition |
| ``GET /`` | the web page (assets under ``/static``, shipped in the package: no internet) |

Errors: bad parameters 422 (FastAPI's validation reasons), unknown competition, miner or round
404, Redis unreachable 503. The Redis client's 2 s socket timeouts bound every request; the
handlers are plain ``def`` so a slow Redis blocks a worker thread, never the event loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import redis
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from validator.leaderboard import (
    COUNTERS,
    CompetitionSummary,
    LeaderboardPage,
    LeaderboardStore,
    MinerDetail,
    RoundsPage,
)
from validator.records import RoundRecord

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


def _known(store: LeaderboardStore, competition: str) -> None:
    if not store.has_competition(competition):
        raise HTTPException(404, f"unknown competition {competition!r}")


def create_app(store: LeaderboardStore) -> FastAPI:
    """The API over ``store``."""
    app = FastAPI(
        title="Datacomp Subnet leaderboard",
        version=API_VERSION,
        description="Read-only leaderboard, miner history and round records of one validator.",
        responses=UNAVAILABLE,
    )
    app.state.store = store

    async def redis_unreachable(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": f"redis unreachable: {type(exc).__name__}"}, status_code=503)

    app.add_exception_handler(redis.ConnectionError, redis_unreachable)
    app.add_exception_handler(redis.TimeoutError, redis_unreachable)

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

    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    return app


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
