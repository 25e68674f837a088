"""Fixtures for the chain tests: SDK caches kept out of ~/.bittensor, dev keys, both chains."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bittensor.sp_core import Keypair

from tests.protocol.chain.chain_harness import Harness, MakeChain, local_harness, sdk_harness


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


@pytest.fixture(params=["local", "sdk"])
def make_chain(
    request: pytest.FixtureRequest, tmp_path: Path, alice: Keypair
) -> Iterator[MakeChain]:
    """Build the chain kind of this parametrisation with the given hyperparameters
    (``weights_rate_limit``, ``min_allowed_weights``, ``max_weight_limit``, ``tempo``)."""
    made: list[Harness] = []

    def make(**rules: Any) -> Harness:
        if request.param == "local":
            harness = local_harness(tmp_path, **rules)
        else:
            harness = sdk_harness(alice, **rules)
        made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.chain.close()  # type: ignore[attr-defined]
