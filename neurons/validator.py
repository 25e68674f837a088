"""Run a validator: pull miners' data, screen it, train a LoRA per miner, score, set weights.

    DATACOMP_VALIDATOR_SECRET=<128-bit secret> python neurons/validator.py --wallet.name V \
        --wallet.hotkey H --subtensor.network finney \
        --netuid N --model Qwen/Qwen2.5-0.5B --device cuda --serve-api

Defaults run on CPU against the embedded local chain with the embedded tiny model.
Wiring only: see validator/service.py and validator/round.py.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from protocol.cli import parse_settings
from protocol.redis_conn import exit_on_sigterm, stop_embedded
from validator.api.attribution import base_model
from validator.config import ValidatorSettings
from validator.service import build, close, run_rounds, serve_api_in_background


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = parse_settings(ValidatorSettings, argv, "Datacomp subnet validator")
    exit_on_sigterm()  # SIGTERM (docker, systemd) unwinds: the embedded Redis is stopped
    ctx, store = build(settings)
    try:
        if settings.serve_api:
            serve_api_in_background(
                store,
                settings.api_host,
                settings.api_port,
                settings.run_dir,
                base_model(settings.model, "cpu"),  # the GPU is the rounds'
            )
            print(
                f"API and leaderboard page: http://{settings.api_host}:{settings.api_port}/",
                flush=True,
            )
        run_rounds(ctx, settings.rounds, settings.round_interval_s)
    finally:
        close(ctx)
        stop_embedded(store.client)  # a no-op for a server at --redis.url


if __name__ == "__main__":
    main()
