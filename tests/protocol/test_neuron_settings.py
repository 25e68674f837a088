"""``NeuronSettings``: the wallet and chain flags every neuron takes, as bittensor spells them.

Read the way a neuron reads them (``protocol/cli.py``): a subclass with its own env prefix, as
the miner's and the validator's settings are, from flags, then its environment, then the
defaults; bad values stop it with the flag and the variable named.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field, ValidationError
from pydantic_settings import SettingsConfigDict

from protocol.cli import build_parser, parse_settings, to_env
from protocol.neuron_settings import NeuronSettings

PREFIX = "NEURON_SETTINGS_TEST_"


class Neuron(NeuronSettings):
    """A neuron's settings as the miner and validator declare theirs."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="forbid")

    wallet_name: str = Field(
        "neuron", description="wallet (coldkey) name", json_schema_extra={"flag": "--wallet.name"}
    )


# The flags a bittensor user types, and the field each one sets.
FLAGS = {
    "--wallet.name": "wallet_name",
    "--wallet.hotkey": "wallet_hotkey",
    "--wallet.path": "wallet_path",
    "--subtensor.network": "network",
    "--netuid": "netuid",
    "--chain.path": "chain_path",
}


@pytest.fixture(autouse=True)
def _no_stray_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither the prefixed variables nor bare ones (NETUID, NETWORK) from the runner's shell."""
    for name in NeuronSettings.model_fields:
        monkeypatch.delenv(PREFIX + name.upper(), raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def test_defaults_are_the_local_embedded_chain() -> None:
    settings = parse_settings(Neuron, [], "neuron")
    assert settings.wallet_name == "neuron"  # the subclass's own default wins
    assert (settings.wallet_hotkey, settings.create_wallet) == ("default", False)
    assert settings.wallet_path == Path("~/.bittensor/wallets")  # expanded by its user
    assert (settings.network, settings.netuid) == ("local-embedded", 1)
    assert settings.chain_path == Path(".localnet/chain.sqlite")


def test_every_field_has_the_flag_bittensor_users_know() -> None:
    parser = build_parser(Neuron, "neuron")
    dests = {
        flag: action.dest
        for action in parser._actions
        for flag in action.option_strings
        if flag != "-h" and flag != "--help"
    }
    assert {flag: dests[flag] for flag in FLAGS} == FLAGS
    assert dests["--create-wallet"] == dests["--no-create-wallet"] == "create_wallet"
    assert set(dests.values()) == set(NeuronSettings.model_fields)  # nothing without a flag
    help_text = parser.format_help()
    assert "subnet uid" in help_text and "local-embedded, local, test, finney" in help_text


def test_flags_set_every_field_with_its_type() -> None:
    argv = [
        *("--wallet.name", "cold", "--wallet.hotkey", "hot"),
        *("--wallet.path", "/srv/wallets", "--subtensor.network", "test"),
        *("--netuid", "42", "--chain.path", "/tmp/chain.sqlite", "--create-wallet"),
    ]
    settings = parse_settings(Neuron, argv, "neuron")
    assert (settings.wallet_name, settings.wallet_hotkey) == ("cold", "hot")
    assert settings.wallet_path == Path("/srv/wallets")
    assert (settings.network, settings.netuid, settings.create_wallet) == ("test", 42, True)
    assert settings.chain_path == Path("/tmp/chain.sqlite")


def test_the_environment_is_read_under_the_subclass_prefix_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PREFIX + "NETUID", "7")
    monkeypatch.setenv(PREFIX + "CREATE_WALLET", "true")
    monkeypatch.setenv("NETWORK", "finney")  # a bare variable is some other program's
    settings = parse_settings(Neuron, [], "neuron")
    assert (settings.netuid, settings.create_wallet, settings.network) == (
        7,
        True,
        "local-embedded",
    )
    # A flag beats the environment.
    assert parse_settings(Neuron, ["--netuid", "9"], "neuron").netuid == 9
    assert parse_settings(Neuron, ["--no-create-wallet"], "neuron").create_wallet is False


def test_settings_round_trip_through_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a parent hands its worker processes (``to_env``) reads back as the same settings."""
    settings = Neuron(
        wallet_hotkey="hk", wallet_path=Path("/w"), network="test", netuid=3, create_wallet=True
    )
    env = to_env(settings)
    assert env[PREFIX + "NETUID"] == "3" and env[PREFIX + "WALLET_PATH"] == "/w"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert Neuron() == settings


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--netuid", "one"], f"--netuid ({PREFIX}NETUID): Input should be a valid integer"),
        (["--netuid", "1.5"], f"--netuid ({PREFIX}NETUID): Input should be a valid integer"),
        (
            ["--netuid", "-1"],
            f"--netuid ({PREFIX}NETUID): Input should be greater than or equal to 0",
        ),
        (
            ["--netuid", "65536"],
            f"--netuid ({PREFIX}NETUID): Input should be less than or equal to 65535",
        ),
    ],
)
def test_a_bad_flag_value_exits_naming_the_flag_and_the_variable(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_settings(Neuron, argv, "neuron")
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_bad_environment_value_exits_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(PREFIX + "CREATE_WALLET", "perhaps")
    with pytest.raises(SystemExit) as exc:
        parse_settings(Neuron, [], "neuron")
    assert exc.value.code == 2
    assert f"--create-wallet ({PREFIX}CREATE_WALLET)" in capsys.readouterr().err


def test_an_unknown_flag_or_field_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_settings(Neuron, ["--wallet.nmae", "x"], "neuron")
    assert "unrecognized arguments: --wallet.nmae" in capsys.readouterr().err
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Neuron(wallet_nmae="x")  # type: ignore[call-arg]
