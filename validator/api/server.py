"""The standalone API process (``neurons/api.py``): its settings and the app they describe.

The API reads a validator's Redis (``--redis.url``; it starts no server of its own) and, when
given the validator's ``--run-dir``, serves the published eval sets from it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from protocol.keys import Keys
from protocol.neuron_settings import Netuid
from protocol.redis_conn import connect
from validator.api.app import create_app
from validator.api.attribution import base_model
from validator.store.leaderboard import LeaderboardStore


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
    netuid: Netuid = Field(1, description="subnet uid", json_schema_extra={"flag": "--netuid"})
    host: str = Field(
        "127.0.0.1", description="address to bind", json_schema_extra={"flag": "--api.host"}
    )
    port: int = Field(
        8000, description="port to serve on", json_schema_extra={"flag": "--api.port"}
    )
    attribution_model: str = Field(
        "tiny",
        description=(
            "base model of POST /v1/attribution: the validator's --model ('tiny', a Hugging"
            " Face id or a local path), or 'none' to answer that route 503"
        ),
        json_schema_extra={"flag": "--attribution.model"},
    )
    runs_dir: Path | None = Field(
        None,
        description=(
            "the validator's --run-dir (read-only): GET /v1/rounds/{round_id}/eval_set serves"
            " its published eval_set.json files; unset: that route is 404"
        ),
        json_schema_extra={"flag": "--runs.dir"},
    )
    attribution_device: str = Field(
        "cpu",
        description="torch device of the attribution model",
        json_schema_extra={"flag": "--attribution.device"},
    )


def build_app(settings: ApiSettings) -> FastAPI:
    """The API app these settings describe (no Redis command is sent until a request)."""
    store = LeaderboardStore(
        connect(settings.redis_url), Keys.for_network(settings.network, settings.netuid)
    )
    model = (
        None
        if settings.attribution_model == "none"
        else base_model(settings.attribution_model, settings.attribution_device)
    )
    return create_app(store, model, settings.runs_dir)
