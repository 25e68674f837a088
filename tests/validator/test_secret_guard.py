"""No default secret on a public network (issue 11, row 9): a clear refusal, naming the fix."""

from __future__ import annotations

import secrets

import pytest
from pydantic import ValidationError

from protocol.cli import parse_settings
from validator.config import MIN_SECRET_BITS, ValidatorSettings, secret_bits


@pytest.mark.parametrize("network", ["finney", "test", "wss://entrypoint-finney.example:443"])
def test_a_public_network_refuses_the_default_secret(
    network: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_settings(ValidatorSettings, ["--subtensor.network", network], "validator")
    assert exited.value.code == 2
    said = capsys.readouterr().err
    assert "DATACOMP_VALIDATOR_SECRET" in said and "public" in said


def test_the_secret_is_not_a_flag(capsys: pytest.CaptureFixture[str]) -> None:
    # A command line is readable by every user of the machine: the secret is env-only.
    with pytest.raises(SystemExit):
        parse_settings(ValidatorSettings, ["--secret", secrets.token_hex(16)], "validator")
    assert "unrecognized arguments: --secret" in capsys.readouterr().err


@pytest.mark.parametrize(
    "weak", ["short", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "0123456789abcdef"]
)
def test_a_public_network_refuses_a_weak_secret(weak: str) -> None:
    with pytest.raises(ValidationError, match="fewer than 128"):
        ValidatorSettings(network="finney", secret=weak)


def test_the_environment_variable_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    strong = secrets.token_hex(16)
    monkeypatch.setenv("DATACOMP_VALIDATOR_SECRET", strong)
    settings = ValidatorSettings(network="finney")
    assert settings.secret.get_secret_value() == strong


def test_local_networks_keep_the_default_and_128_bits_is_the_bar() -> None:
    assert ValidatorSettings(network="local-embedded").secret.get_secret_value()
    assert ValidatorSettings(network="local").network == "local"
    assert secret_bits(secrets.token_hex(16)) == MIN_SECRET_BITS
    assert secret_bits(secrets.token_urlsafe(22)) >= MIN_SECRET_BITS
