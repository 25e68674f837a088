"""Serve the leaderboard REST API and web page over a validator's Redis.

    python neurons/api.py --redis.url redis://localhost:6379/0 --subtensor.network finney \
        --netuid 1 --api.host 0.0.0.0 --api.port 8000 --attribution.model Qwen/Qwen2.5-0.5B \
        --runs.dir /data/runs

Wiring only: settings from flags/env (``DATACOMP_API_*``; ``validator/api/server.py``), uvicorn.
The API only reads; it starts even when Redis is down and answers 503 until it is back.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uvicorn

from protocol.cli import parse_settings
from validator.api.server import ApiSettings, build_app


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point."""
    settings = parse_settings(ApiSettings, argv, "Datacomp subnet leaderboard API")
    uvicorn.run(build_app(settings), host=settings.host, port=settings.port, log_level="info")


if __name__ == "__main__":
    main()
