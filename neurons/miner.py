"""Run a miner: register and serve on the chain, then answer validators over signed HTTP.

    python neurons/miner.py --wallet.name W --wallet.hotkey H --axon.port 8091 \
        --subtensor.network local-embedded --source file --data samples.jsonl

Wiring only: settings from flags/env, wallet, chain registration and endpoint, the data
pool's manifest committed on chain (``--manifest.pool-size`` samples per competition; see
``miner/manifests.py``), Redis (an embedded server when no URL is given, shared with the
uvicorn workers), then uvicorn.

``miner.service.serve`` is that wiring with the settings class, the data source and the
uvicorn worker factory as parameters; ``main`` is the production miner's choice of them. The
local network's contaminator (``localnet/leak_miner.py``) reuses ``serve`` with its own
source, so this miner knows nothing of it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from miner.config import MinerSettings
from miner.factory import build_source
from miner.service import serve

# What each uvicorn worker process imports to build the production miner's app.
APP_FACTORY = "miner.factory:app_from_env"


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point."""
    serve(MinerSettings, build_source, APP_FACTORY, argv, "Datacomp subnet miner")


if __name__ == "__main__":
    main()
