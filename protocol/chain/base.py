"""The chain interface: everything validators and miners need from a Bittensor chain.

Two implementations: ``protocol.chain.local.LocalChain`` (embedded, the default; a SQLite file
shared by every process of a local network) and ``protocol.chain.sdk.SdkChain`` (the bittensor
11.3 SDK against finney / test / local subtensor). Both take the same values and apply the
same set-weights rules, so the contract tests run against both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bittensor.sp_core import Keypair


@dataclass(frozen=True)
class Neuron:
    """One registered uid as the metagraph shows it."""

    uid: int
    hotkey: str
    coldkey: str
    stake: float  # alpha stake on this subnet, in whole tokens (not rao)
    validator_permit: bool
    endpoint: str | None  # "ip:port" as served on chain, None until the neuron serves
    last_update: int  # block of the neuron's last weight set (0 = never)


@dataclass(frozen=True)
class WeightRules:
    """The subnet hyperparameters that govern a weight set."""

    weights_rate_limit: int  # blocks between two weight sets of one hotkey
    min_allowed_weights: int  # fewest non-zero weights a set may carry
    max_weight_limit: float  # largest share one uid may take, in [0, 1]
    tempo: int  # blocks per epoch


class ChainError(Exception):
    """A chain operation was refused (not registered, rate limited, too few weights, ...)."""


class Chain(Protocol):
    """What a neuron needs from the chain; synchronous, one netuid per instance."""

    netuid: int

    def metagraph(self) -> list[Neuron]:
        """Every registered uid, ordered by uid."""
        ...

    def register(self, hotkey: Keypair, coldkey_ss58: str) -> int:
        """Register ``hotkey`` on the subnet (idempotent); returns its uid."""
        ...

    def serve(self, hotkey: Keypair, ip: str, port: int) -> None:
        """Advertise the endpoint a miner serves on."""
        ...

    def set_weights(self, hotkey: Keypair, weights: dict[int, float]) -> dict[int, int]:
        """Set weights under the chain's rules; returns the u16 weights that were written.

        Raises ``ChainError`` when the hotkey is unregistered, rate limited, or the set has
        fewer than ``min_allowed_weights`` non-zero entries.
        """
        ...

    def block(self) -> int:
        """The current block number."""
        ...

    def weight_rules(self) -> WeightRules:
        """The subnet's weight hyperparameters."""
        ...

    def blocks_until_next_epoch(self) -> int:
        """Blocks left before the subnet's next epoch boundary."""
        ...
