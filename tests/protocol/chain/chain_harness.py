"""The two chains under test behind one shape, for the contract tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bittensor.sp_core import Keypair

from protocol.chain import Chain, LocalChain, LocalParams, SdkChain
from tests.protocol.chain.standin_substrate import StandInSubstrate


class ManualClock:
    """Unix seconds that move only when a test says so (blocks follow it)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    """One chain under test plus the levers a test needs that are not part of ``Chain``."""

    kind: str
    chain: Chain
    stake: Callable[[str, float], object]  # give a hotkey stake (whole tokens)
    advance: Callable[[int], None]  # produce n blocks
    written: Callable[[int], dict[int, int]]  # the u16 weights stored for a uid
    standin: StandInSubstrate | None = None


MakeChain = Callable[..., Harness]


def local_harness(tmp_path: Path, **rules: Any) -> Harness:
    """A LocalChain on a manual clock, 1000 blocks past genesis."""
    clock = ManualClock()
    chain = LocalChain(
        tmp_path / "chain.sqlite", 1, params=LocalParams(**rules), block_time_s=1.0, clock=clock
    )

    def advance(blocks: int) -> None:
        clock.now += blocks * 1.0

    advance(1_000)  # start away from genesis, like the stand-in's head
    return Harness("local", chain, chain.add_stake, advance, chain.weights)


def sdk_harness(coldkey: Keypair, **rules: Any) -> Harness:
    """An SdkChain on a fresh stand-in substrate; ``coldkey`` signs registrations."""
    max_weight_limit = rules.pop("max_weight_limit", 1.0)
    standin = StandInSubstrate(1, max_weight_limit=round(max_weight_limit * 65535), **rules)
    chain = SdkChain("local", 1, substrate=standin.as_substrate(), coldkey=coldkey)

    def stake(hotkey_ss58: str, amount: float) -> None:
        uid = standin.uid_of(hotkey_ss58)
        assert uid is not None, "the stand-in holds stake on registered hotkeys only"
        standin.neurons[uid].stake_rao += round(amount * 1e9)

    return Harness(
        "sdk", chain, stake, standin.advance, lambda uid: standin.neurons[uid].weights, standin
    )
