"""The chain layer: the ``Chain`` interface, its two implementations, and ``open_chain``.

``open_chain`` is the one place a network name becomes a chain: ``local-embedded`` (the
default for laptops and CI) opens the SQLite-backed ``LocalChain``; every network the SDK
knows (``finney``, ``test``, ``archive``, ``devnet``, ``local`` = a subtensor node on
``ws://127.0.0.1:9944``) or a raw ``ws://`` / ``wss://`` URL opens ``SdkChain``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

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
    "is_endpoint",
    "open_chain",
    "public_network",
    "sdk_networks",
]


def public_network(network: str) -> str:
    """``network`` as a round record may publish it (a name as it is).

    An endpoint URL loses its user, password, query and fragment: a node's API key often
    rides there.
    """
    if not is_endpoint(network):
        return network
    parts = urlsplit(network)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def is_endpoint(network: str) -> bool:
    """Whether ``network`` is a node's URL rather than a network's name."""
    return network.startswith(("ws://", "wss://"))


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
    if network in NETWORKS or is_endpoint(network):
        return SdkChain(network, netuid, coldkey=coldkey)
    raise ChainError(
        f"unknown network {network!r}: use {LOCAL_EMBEDDED!r}, one of {sdk_networks()}, "
        "or a ws:// / wss:// endpoint"
    )
