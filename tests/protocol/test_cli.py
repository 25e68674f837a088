"""protocol/cli.py: flags from settings fields, env-only secrets, clear errors, to_env."""

from __future__ import annotations

import pytest
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from protocol.cli import build_parser, parse_settings, to_env


class Demo(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLI_DEMO_", extra="forbid")

    count: int = Field(1, ge=0, description="how many", json_schema_extra={"flag": "--demo.count"})
    table: dict[str, float] = Field({"a": 1.0}, description="a JSON table")
    token: SecretStr | None = Field(
        None, description="API token", json_schema_extra={"env_only": True}
    )


def test_env_only_field_has_no_flag_and_help_names_its_variable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = build_parser(Demo, "demo")
    with pytest.raises(SystemExit):
        parser.parse_args(["--token", "s3cret"])
    assert "unrecognized arguments: --token" in capsys.readouterr().err
    assert "CLI_DEMO_TOKEN: API token" in parser.format_help()
    assert "--demo.count" in parser.format_help()


def test_each_flag_help_names_the_variable_it_is_read_from(monkeypatch: pytest.MonkeyPatch) -> None:
    # The variable follows the field, not the flag: --demo.count is CLI_DEMO_COUNT.
    help_text = " ".join(build_parser(Demo, "demo").format_help().split())
    assert "--demo.count COUNT how many [env: CLI_DEMO_COUNT]" in help_text
    assert "a JSON table [env: CLI_DEMO_TABLE]" in help_text
    monkeypatch.setenv("CLI_DEMO_COUNT", "7")  # and the named variable is the one read
    assert parse_settings(Demo, [], "demo").count == 7


def test_env_only_field_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLI_DEMO_TOKEN", "s3cret")
    settings = parse_settings(Demo, ["--demo.count", "3"], "demo")
    assert settings.count == 3
    assert settings.token is not None and settings.token.get_secret_value() == "s3cret"


def test_invalid_value_exits_naming_flag_and_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_settings(Demo, ["--demo.count", "-1"], "demo")
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--demo.count (CLI_DEMO_COUNT): Input should be greater than or equal to 0" in err
    assert "Traceback" not in err


def test_to_env_round_trips_secrets_and_json(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Demo(count=2, table={"a": 0.25, "b": 0.75}, token=SecretStr("k"))
    env = to_env(settings)
    assert env == {
        "CLI_DEMO_COUNT": "2",
        "CLI_DEMO_TABLE": '{"a": 0.25, "b": 0.75}',
        "CLI_DEMO_TOKEN": "k",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert Demo() == settings
