"""The chain layer: the ``Chain`` interface, its two implementations, and ``open_chain``.

``open_chain`` is the one place a network name becomes a chain: ``local-embedded`` (the
default for laptops and CI) opens the SQLite-backed ``LocalChain``; every network the SDK
knows (``finney``, ``test``, ``archive``, ``devnet``, ``local`` = a subtensor node on
``ws://127.0.0.1:9944``) or a raw ``ws://`` / ``wss://`` URL opens ``SdkChain``.
"""

from __future__ import annotations

from pathlib import Path

from bittensor.settings import NETWORKS
from bittensor.signing import WalletLike

from protocol.chain.base import (
    Chain,
    ChainError,
    Commitment,
    CommitmentSpaceError,
    Neuron,
    NotRegisteredError,
    NoValidatorPermitError,
    RateLimitedError,
    WeightRules,
    conform_weights,
)
from protocol.chain.local import LocalChain, LocalParams
from protocol.chain.sdk import SdkChain

LOCAL_EMBEDDED = "local-embedded"  # the embedded SQLite chain; "local" is the SDK's local node
DEFAULT_LOCAL_PATH = Path(".datacomp") / "chain.sqlite"  # per checkout, next to other local state

__all__ = [
    "DEFAULT_LOCAL_PATH",
    "LOCAL_EMBEDDED",
    "Chain",
    "ChainError",
    "Commitment",
    "CommitmentSpaceError",
    "LocalChain",
    "LocalParams",
    "Neuron",
    "NoValidatorPermitError",
    "NotRegisteredError",
    "RateLimitedError",
    "SdkChain",
    "WeightRules",
    "conform_weights",
    "open_chain",
    "sdk_networks",
]


def sdk_networks() -> list[str]:
    """The network names the bittensor SDK resolves to an endpoint."""
    return sorted(NETWORKS)


def open_chain(
    network: str = LOCAL_EMBEDDED,
    netuid: int = 1,
    local_path: Path | None = None,
    *,
    coldkey: WalletLike | None = None,
) -> Chain:
    """The chain for ``network``.

    ``local-embedded`` opens ``LocalChain`` at ``local_path``; anything the SDK knows opens
    ``SdkChain``, where ``coldkey`` signs registrations (see ``SdkChain``).

    Raises ``ChainError`` for a network name neither knows.
    """
    if network == LOCAL_EMBEDDED:
        return LocalChain(local_path or DEFAULT_LOCAL_PATH, netuid)
    if network in NETWORKS or network.startswith(("ws://", "wss://")):
        return SdkChain(network, netuid, coldkey=coldkey)
    raise ChainError(
        f"unknown network {network!r}: use {LOCAL_EMBEDDED!r}, one of {sdk_networks()}, "
        "or a ws:// / wss:// endpoint"
    )
