"""Fixtures for the chain tests: SDK caches kept out of ~/.bittensor, dev keys, both chains."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from bittensor.sp_core import Keypair
from standin_substrate import StandInSubstrate

from protocol.chain import Chain, LocalChain, LocalParams, SdkChain


@pytest.fixture(autouse=True)
def _sdk_caches(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK writes its runtime and token-symbol caches under ~/.bittensor; point them at
    a temporary folder."""
    cache = tmp_path_factory.mktemp("bittensor-cache")
    monkeypatch.setenv("BITTENSOR_RUNTIME_CACHE_DIR", str(cache / "runtime"))
    monkeypatch.setenv("BTCLI_TOKEN_SYMBOLS_CACHE", str(cache / "token_symbols.json"))


@pytest.fixture
def alice() -> Keypair:
    return Keypair.create_from_uri("//Alice")


@pytest.fixture
def bob() -> Keypair:
    return Keypair.create_from_uri("//Bob")


@pytest.fixture
def charlie() -> Keypair:
    return Keypair.create_from_uri("//Charlie")


@pytest.fixture
def dave() -> Keypair:
    return Keypair.create_from_uri("//Dave")


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


def _local(tmp_path: Path, **rules: Any) -> Harness:
    clock = ManualClock()
    chain = LocalChain(
        tmp_path / "chain.sqlite", 1, params=LocalParams(**rules), block_time_s=1.0, clock=clock
    )

    def advance(blocks: int) -> None:
        clock.now += blocks * 1.0

    advance(1_000)  # start away from genesis, like the stand-in's head
    return Harness("local", chain, chain.add_stake, advance, chain.weights)


def _sdk(coldkey: Keypair, **rules: Any) -> Harness:
    max_weight_limit = rules.pop("max_weight_limit", 1.0)
    standin = StandInSubstrate(1, max_weight_limit=round(max_weight_limit * 65535), **rules)
    chain = SdkChain("local", 1, substrate=standin, coldkey=coldkey)

    def stake(hotkey_ss58: str, amount: float) -> None:
        uid = standin.uid_of(hotkey_ss58)
        assert uid is not None, "the stand-in holds stake on registered hotkeys only"
        standin.neurons[uid].stake_rao += round(amount * 1e9)

    return Harness(
        "sdk", chain, stake, standin.advance, lambda uid: standin.neurons[uid].weights, standin
    )


@pytest.fixture(params=["local", "sdk"])
def make_chain(
    request: pytest.FixtureRequest, tmp_path: Path, alice: Keypair
) -> Iterator[MakeChain]:
    """Build the chain kind of this parametrisation with the given hyperparameters
    (``weights_rate_limit``, ``min_allowed_weights``, ``max_weight_limit``, ``tempo``)."""
    made: list[Harness] = []

    def make(**rules: Any) -> Harness:
        harness = _local(tmp_path, **rules) if request.param == "local" else _sdk(alice, **rules)
        made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.chain.close()  # type: ignore[attr-defined]
