"""When to set weights: once per epoch, never inside the chain's rate limit. Pure."""

from __future__ import annotations


def epoch_id(block: int, blocks_until_next_epoch: int) -> int:
    """An id for the epoch ``block`` is in: the block at which that epoch ends."""
    return block + blocks_until_next_epoch


def should_set_weights(
    block: int,
    last_update: int,
    rate_limit_blocks: int,
    current_epoch: int,
    last_set_epoch: int,
) -> bool:
    """True when the rate limit has passed since our last set and this epoch has none yet.

    One set per epoch is all the chain uses (it reads weights at the epoch boundary); more
    only spends fees, and a set inside the rate limit is refused anyway.
    """
    rate_ok = last_update == 0 or block - last_update >= rate_limit_blocks
    return rate_ok and current_epoch != last_set_epoch
