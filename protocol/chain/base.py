"""The chain interface: everything validators and miners need from a Bittensor chain.

Two implementations: ``protocol.chain.local.LocalChain`` (embedded, the default; a SQLite file
shared by every process of a local network) and ``protocol.chain.sdk.SdkChain`` (the bittensor
11.3 SDK against finney / test / local subtensor). Both take the same values and apply the
same set-weights rules, so the contract tests run against both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from math import isfinite
from typing import Protocol

from bittensor.intents import normalize
from bittensor.intents.weights import clip_to_max_weight
from bittensor.result import BittensorError
from bittensor.settings import U16_MAX
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


@dataclass(frozen=True)
class Commitment:
    """A hotkey's commitment on the subnet (the Commitments pallet's ``CommitmentOf``)."""

    hotkey: str
    data: str  # the committed Raw bytes as UTF-8 text (this protocol writes ASCII)
    block: int  # the block it was included at


# The Commitments pallet's limits (subtensor ``pallets/commitments``): one Raw field holds at
# most 128 bytes; each hotkey may write ``COMMITMENT_SPACE_PER_EPOCH`` bytes per subnet per
# epoch (``MaxSpace``'s default, 3,100), and every commitment counts as at least
# ``MIN_COMMITMENT_SPACE`` (100) bytes of it: 31 commitments per hotkey per epoch.
MAX_COMMITMENT_BYTES = 128
COMMITMENT_SPACE_PER_EPOCH = 3100
MIN_COMMITMENT_SPACE = 100


def commitment_space(data: bytes) -> int:
    """The bytes of a hotkey's epoch quota one commitment of ``data`` uses."""
    return max(MIN_COMMITMENT_SPACE, len(data))


def epoch_index(block: int, netuid: int, tempo: int) -> int:
    """The subnet's epoch number at ``block`` (subtensor's ``get_epoch_index``)."""
    return (block + netuid + 1) // (tempo + 1)


class ChainError(Exception):
    """A chain operation was refused (not registered, rate limited, too few weights, ...)."""


class NotRegisteredError(ChainError):
    """The hotkey holds no uid on the subnet."""


class RateLimitedError(ChainError):
    """The hotkey set weights less than ``weights_rate_limit`` blocks ago; retry later."""


class CommitmentSpaceError(ChainError):
    """The hotkey used its commitment space for this epoch (``SpaceLimitExceeded``)."""


class NoValidatorPermitError(ChainError):
    """The hotkey lacks a validator permit, which the chain requires to weight other uids."""


def commitment_bytes(data: str) -> bytes:
    """``data`` as the UTF-8 bytes one Raw field stores.

    Raises ``ChainError`` when ``data`` is not encodable or over ``MAX_COMMITMENT_BYTES``.
    """
    try:
        raw = data.encode()
    except UnicodeEncodeError as error:
        raise ChainError(f"commitment data is not encodable as UTF-8: {error}") from error
    if len(raw) > MAX_COMMITMENT_BYTES:
        raise ChainError(
            f"commitment data is {len(raw)} bytes of UTF-8; a Raw field holds at most "
            f"{MAX_COMMITMENT_BYTES}"
        )
    return raw


def max_weight_limit_u16(rules: WeightRules) -> int:
    """The rules' ``max_weight_limit`` as the u16 the chain stores (65535 = no limit)."""
    return max(0, min(U16_MAX, round(rules.max_weight_limit * U16_MAX)))


def conform_weights(
    weights: Mapping[int, float], rules: WeightRules, own_uid: int | None = None
) -> dict[int, int]:
    """Fit ``weights`` to the subnet's rules exactly as the SDK's ``SetWeights`` does.

    The steps are the SDK's own functions in the SDK's order: sort by uid, clip to
    ``max_weight_limit`` (``bittensor.intents.weights.clip_to_max_weight``), scale so the
    largest is 65535 and round to u16 dropping zeros (``bittensor.intents.normalize``), then
    require ``min_allowed_weights`` non-zero entries. A single weight on ``own_uid`` (a
    self-weight) is exempt from the clip and the minimum, as on chain.

    Raises ``ChainError`` for negative or non-finite weights, an all-zero set, or too few
    non-zero weights.
    """
    uids = sorted(int(uid) for uid in weights)
    values = [float(weights[uid]) for uid in uids]
    if any(not isfinite(v) or v < 0 for v in values):
        raise ChainError("weights must be finite and non-negative")
    if any(uid < 0 or uid > U16_MAX for uid in uids):
        raise ChainError("uids must be in 0..65535")
    is_self_weight = own_uid is not None and uids == [own_uid]
    limit_u16 = max_weight_limit_u16(rules)
    try:
        if not is_self_weight and limit_u16 < U16_MAX and sum(values) > 0:
            values = clip_to_max_weight(values, limit_u16 / U16_MAX)
        out_uids, out_values = normalize(uids, values)
    except BittensorError as error:
        raise ChainError(str(error)) from error
    if not out_uids:
        raise ChainError("all weights are zero; nothing to set")
    if not is_self_weight and len(out_uids) < rules.min_allowed_weights:
        raise ChainError(
            f"the subnet requires at least {rules.min_allowed_weights} non-zero weights; "
            f"only {len(out_uids)} remain after normalisation"
        )
    return dict(zip(out_uids, out_values, strict=True))


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

    def commit(self, hotkey: Keypair, data: str) -> Commitment:
        """Replace the hotkey's commitment with ``data`` (one Raw field); returns it as stored.

        Raises ``NotRegisteredError`` for an unregistered hotkey, ``CommitmentSpaceError``
        when this epoch's commitment space is used up, ``ChainError`` for data over
        ``MAX_COMMITMENT_BYTES`` bytes of UTF-8.
        """
        ...

    def commitments(self, block: int | None = None) -> dict[str, Commitment]:
        """Every hotkey's commitment on the subnet as of ``block`` (the head when None).

        A past block needs the chain's history (an archive node on the real chain).
        """
        ...
