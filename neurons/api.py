"""Serve the leaderboard REST API and web page over a validator's Redis.

    python neurons/api.py --redis.url redis://localhost:6379/0 --subtensor.network finney \
        --netuid 1 --api.host 0.0.0.0 --api.port 8000

Wiring only: settings from flags/env (``DATACOMP_API_*``), a Redis client, the store, uvicorn.
The API only reads; it starts even when Redis is down and answers 503 until it is back.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uvicorn
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from protocol.cli import parse_settings
from protocol.keys import Keys
from protocol.redis_conn import connect
from validator.api import create_app
from validator.leaderboard import LeaderboardStore


class ApiSettings(BaseSettings):
    """Everything the API process needs."""

    model_config = SettingsConfigDict(env_prefix="DATACOMP_API_", extra="forbid")

    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="the validator's Redis",
        json_schema_extra={"flag": "--redis.url"},
    )
    network: str = Field(
        "local-embedded",
        description="chain network whose leaderboard to serve",
        json_schema_extra={"flag": "--subtensor.network"},
    )
    netuid: int = Field(1, description="subnet uid", json_schema_extra={"flag": "--netuid"})
    host: str = Field(
        "127.0.0.1", description="address to bind", json_schema_extra={"flag": "--api.host"}
    )
    port: int = Field(
        8000, description="port to serve on", json_schema_extra={"flag": "--api.port"}
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point."""
    settings = parse_settings(ApiSettings, argv, "Datacomp subnet leaderboard API")
    store = LeaderboardStore(
        connect(settings.redis_url), Keys.for_network(settings.network, settings.netuid)
    )
    uvicorn.run(create_app(store), host=settings.host, port=settings.port, log_level="info")


if __name__ == "__main__":
    main()
