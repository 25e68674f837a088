"""The local network's demo miners that serve data of a chosen quality (teacher, sloppy).

    python localnet/demo_miner.py --wallet.name sloppy --wallet.hotkey default \
        --subtensor.network local-embedded --generator-seed sloppy --quality wrong

A simulation, kept out of the production miner (whose generator serves correct data only): it
runs the production miner's wiring (``miner.service.serve``) with the generator degraded to one
rung of the demo ladder (``tasks/quality.py``: ``correct_other_words`` is the teacher's own
phrasing, ``wrong`` the sloppy miner's answers; for preference pairs the rung of the same
spirit, ``miner/sources.py``). Its settings are the miner's plus ``--quality``, under their own
environment prefix (``DATACOMP_DEMO_MINER_*``); each uvicorn worker rebuilds the app from them
with ``app_from_env`` below.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from miner.app import create_app
from miner.config import MinerSettings
from miner.factory import build_context
from miner.service import serve
from miner.sources import DataSource, GeneratorSource
from tasks.quality import Quality

# What each uvicorn worker process imports to build a demo miner's app.
APP_FACTORY = "localnet.demo_miner:app_from_env"


class DemoMinerSettings(MinerSettings):
    """The miner's settings plus the quality rung; ``--source`` does not apply (generator)."""

    model_config = SettingsConfigDict(env_prefix="DATACOMP_DEMO_MINER_", extra="forbid")

    quality: Quality = Field(description="the rung of the demo ladder the generator serves")


def degraded_source(settings: DemoMinerSettings, hotkey_ss58: str) -> DataSource:
    """The generator at ``settings.quality``, seeded like the miner's (default: the hotkey)."""
    return GeneratorSource(settings.generator_seed or hotkey_ss58, settings.quality)


def app_from_env() -> FastAPI:
    """Uvicorn factory: a demo miner's app from ``DATACOMP_DEMO_MINER_*`` variables."""
    return create_app(build_context(DemoMinerSettings(), degraded_source))


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point."""
    serve(
        DemoMinerSettings,
        degraded_source,
        APP_FACTORY,
        argv,
        "Datacomp local network: a demo miner serving degraded data",
    )


if __name__ == "__main__":
    main()
