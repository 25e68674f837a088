"""The local network's contaminator: a miner process serving the validator's leaked eval set.

    python localnet/leak_miner.py --wallet.name contaminator --wallet.hotkey default \
        --subtensor.network local-embedded --leak-secret SECRET --leak-eval-items 256

An attack simulation, kept out of the production miner: it runs the production miner's wiring
(``miner.service.serve``: flags and environment, wallet, chain registration, Redis, uvicorn
workers) with ``LeakedEvalSource`` (``localnet/leak.py``) as its data source, committed at
serve time (``SERVE_TIME``: its data exists only once the round is known, so it cannot commit
a pool before serving; each round's first answer commits that round's items). Its settings are
the miner's plus the secret and the eval set size, under their own environment prefix
(``DATACOMP_LEAK_MINER_*``); each uvicorn worker rebuilds the app from them with
``app_from_env`` below. The contamination gate must zero it (``neurons/localnet.py`` checks).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi import FastAPI
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from localnet.leak import LeakedEvalSource
from miner.app import create_app
from miner.config import MinerSettings
from miner.factory import SERVE_TIME, build_context
from miner.service import serve
from miner.sources import DataSource
from validator.evalsets.cot import EVAL_SIZE

# What each uvicorn worker process imports to build the contaminator's app.
APP_FACTORY = "localnet.leak_miner:app_from_env"


class LeakMinerSettings(MinerSettings):
    """The miner's settings plus what the attacker knows; ``--source`` does not apply."""

    model_config = SettingsConfigDict(env_prefix="DATACOMP_LEAK_MINER_", extra="forbid")

    leak_secret: SecretStr = Field(description="the validator secret the attacker knows")
    leak_eval_items: int = Field(EVAL_SIZE, description="eval set size the attacker reproduces")


def leaked_source(settings: LeakMinerSettings, hotkey_ss58: str) -> DataSource:
    """The round's eval items, regenerated from the validator's secret."""
    return LeakedEvalSource(settings.leak_secret.get_secret_value(), settings.leak_eval_items)


def app_from_env() -> FastAPI:
    """Uvicorn factory: the contaminator's app from ``DATACOMP_LEAK_MINER_*`` variables."""
    return create_app(build_context(LeakMinerSettings(), leaked_source, SERVE_TIME))


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point."""
    serve(
        LeakMinerSettings,
        leaked_source,
        APP_FACTORY,
        argv,
        "Datacomp local network: the contaminator (serves the leaked eval set)",
        SERVE_TIME,
    )


if __name__ == "__main__":
    main()
