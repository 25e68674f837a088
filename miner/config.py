"""The miner's settings: flags (``--wallet.name``), environment (``DATACOMP_MINER_*``), defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from protocol.neuron_settings import NeuronSettings
from protocol.schemas import Competition

# Samples per competition in the committed pool (miner/manifests.py). A validator asks for 64
# a round by default: a pool of 1,024 lets two rounds' seeded draws share ~4 samples, keeps the
# manifest 11 levels tall (a proof is ~0.75 KB of JSON per sample) and builds in milliseconds
# from the generator. A teacher source pays for every pooled sample at start.
DEFAULT_POOL_SIZE = 1024


class MinerSettings(NeuronSettings):
    """Everything a miner process needs to start."""

    model_config = SettingsConfigDict(env_prefix="DATACOMP_MINER_", extra="forbid")

    wallet_name: str = Field(
        "miner", description="wallet (coldkey) name", json_schema_extra={"flag": "--wallet.name"}
    )
    host: str = Field(
        "127.0.0.1", description="address to bind", json_schema_extra={"flag": "--axon.ip"}
    )
    port: int = Field(
        8091, description="port to serve on", json_schema_extra={"flag": "--axon.port"}
    )
    external_ip: str | None = Field(
        None,
        description="address advertised on chain (default: --axon.ip)",
        json_schema_extra={"flag": "--axon.external_ip"},
    )
    workers: int = Field(1, description="uvicorn worker processes (>1 needs a Redis URL)")
    redis_url: str | None = Field(
        None,
        description="Redis for the replay guard (default: $REDIS_URL, else an embedded server)",
        json_schema_extra={"flag": "--redis.url"},
    )
    competition: Competition = Field(Competition.COT_SFT, description="competition served")
    source: Literal["generator", "file", "teacher"] = Field("generator", description="data source")
    data: Path | None = Field(
        None,
        description="dataset file, JSONL or JSON list (source=file)",
        json_schema_extra={"flag": "--data"},
    )
    generator_seed: str | None = Field(
        None, description="generator seed (default: the hotkey address)"
    )
    teacher_url: str | None = Field(
        None, description="OpenAI-compatible base URL, e.g. http://host:8000/v1"
    )
    teacher_model: str = Field("teacher", description="model name at the teacher endpoint")
    teacher_api_key: SecretStr | None = Field(
        None,
        description="API key for the teacher endpoint",
        json_schema_extra={"env_only": True},  # never a flag: a command line is readable by all
    )
    min_validator_stake: float = Field(1.0, description="least stake a caller needs to be served")
    ledger_path: Path = Field(
        Path(".localnet/miner-ledger.jsonl"), description="append-only ledger of served responses"
    )
    manifest_path: Path | None = Field(
        None,
        description="the committed pool the workers serve (default: beside the ledger, "
        "<ledger name>-manifest.jsonl)",
        json_schema_extra={"flag": "--manifest.path"},
    )
    pool_size: int = Field(
        DEFAULT_POOL_SIZE,
        ge=1,
        description="samples per competition in the committed pool (a round serves a selection)",
        json_schema_extra={"flag": "--manifest.pool-size"},
    )

    @property
    def manifest_file(self) -> Path:
        """Where the pool manifest is: ``manifest_path``, else beside the ledger."""
        if self.manifest_path is not None:
            return self.manifest_path
        return self.ledger_path.with_name(f"{self.ledger_path.stem}-manifest.jsonl")
