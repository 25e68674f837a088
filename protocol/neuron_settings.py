"""Settings every neuron shares: its wallet and the chain it is on (flags bittensor users know)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings

# A subnet uid: a u16 on chain.
Netuid = Annotated[int, Field(ge=0, le=65535)]


class NeuronSettings(BaseSettings):
    """Wallet and chain; subclasses set ``wallet_name``'s default and their env prefix."""

    wallet_name: str = Field(
        "default", description="wallet (coldkey) name", json_schema_extra={"flag": "--wallet.name"}
    )
    wallet_hotkey: str = Field(
        "default", description="hotkey name", json_schema_extra={"flag": "--wallet.hotkey"}
    )
    wallet_path: Path = Field(
        Path("~/.bittensor/wallets"),
        description="wallets directory",
        json_schema_extra={"flag": "--wallet.path"},
    )
    create_wallet: bool = Field(
        False, description="create the wallet non-interactively if missing (local networks)"
    )
    network: str = Field(
        "local-embedded",
        description="chain: local-embedded, local, test, finney",
        json_schema_extra={"flag": "--subtensor.network"},
    )
    netuid: Netuid = Field(1, description="subnet uid", json_schema_extra={"flag": "--netuid"})
    chain_path: Path = Field(
        Path(".localnet/chain.sqlite"),
        description="embedded chain state file (local-embedded only)",
        json_schema_extra={"flag": "--chain.path"},
    )
