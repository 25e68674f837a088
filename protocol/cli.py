"""Command-line flags from a pydantic-settings class, with the dotted names bittensor users know.

Each field becomes a flag: its ``json_schema_extra={"flag": "--wallet.name"}`` if given, else
``--field-name``; its description is the help text. A field marked
``json_schema_extra={"env_only": True}`` (an API key) gets no flag: a command line is visible
to every user of the machine, so it is read from the environment only, and ``--help`` names
its variable; every other flag's help names its variable too (named after the field, which is
not always the flag). Values not given on the command line come from the environment (the
class's env prefix) and then the field default, so the same class configures a CLI run, a docker-compose
service and a uvicorn worker. Invalid settings stop the program with one line per problem,
naming the flag and the environment variable.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings

S = TypeVar("S", bound=BaseSettings)


def flag_of(name: str, extra: Any) -> str:
    """The command-line flag of a settings field."""
    if isinstance(extra, dict) and isinstance(extra.get("flag"), str):
        return str(extra["flag"])
    return "--" + name.replace("_", "-")


def env_only(extra: Any) -> bool:
    """Whether a field is read from the environment only (no flag)."""
    return isinstance(extra, dict) and extra.get("env_only") is True


def env_name(settings_cls: type[BaseSettings], name: str) -> str:
    """The environment variable of a settings field."""
    return (str(settings_cls.model_config.get("env_prefix", "")) + name).upper()


def build_parser(settings_cls: type[BaseSettings], description: str) -> argparse.ArgumentParser:
    """An argparse parser with one flag per settings field (env-only fields listed in the epilog)."""
    env_lines = [
        f"  {env_name(settings_cls, name)}: {field.description or ''}"
        for name, field in settings_cls.model_fields.items()
        if env_only(field.json_schema_extra)
    ]
    parser = argparse.ArgumentParser(
        description=description,
        epilog="environment only:\n" + "\n".join(env_lines) if env_lines else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for name, field in settings_cls.model_fields.items():
        if env_only(field.json_schema_extra):
            continue
        flag = flag_of(name, field.json_schema_extra)
        # The variable is named after the field, not the flag (--axon.port: ..._PORT): say it.
        help_text = f"{field.description or ''} [env: {env_name(settings_cls, name)}]".lstrip()
        if field.annotation is bool:
            parser.add_argument(
                flag, dest=name, action=argparse.BooleanOptionalAction, default=None, help=help_text
            )
        else:
            parser.add_argument(flag, dest=name, default=None, help=help_text, metavar=name.upper())
    return parser


def describe_errors(settings_cls: type[BaseSettings], exc: ValidationError) -> str:
    """One line per problem: ``--flag (ENV_VAR) [key]: message``."""
    lines = []
    for error in exc.errors():
        loc = [str(p) for p in error["loc"]]
        field = settings_cls.model_fields.get(loc[0]) if loc else None
        if field is None:  # a model-level check: its message names the flags itself
            where = ""
        else:
            extra = field.json_schema_extra
            flag = "" if env_only(extra) else flag_of(loc[0], extra) + " "
            where = f"{flag}({env_name(settings_cls, loc[0])})"
            where += "".join(f" [{p}]" for p in loc[1:]) + ": "
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(where + message)
    return "; ".join(lines)


def parse_settings(settings_cls: type[S], argv: Sequence[str] | None, description: str) -> S:
    """Settings from flags, then environment, then defaults; exits 2 with the reasons if invalid."""
    parser = build_parser(settings_cls, description)
    args = parser.parse_args(argv)
    given = {k: v for k, v in vars(args).items() if v is not None}
    try:
        return settings_cls(**given)
    except ValidationError as exc:
        parser.error(describe_errors(settings_cls, exc))


def to_env(settings: BaseSettings) -> dict[str, str]:
    """The settings as environment variables (for worker processes), secrets included."""
    env: dict[str, str] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        key = env_name(type(settings), name)
        if isinstance(value, dict | list):  # complex values: JSON, as pydantic-settings reads them
            env[key] = json.dumps(value)
            continue
        env[key] = str(value.value if hasattr(value, "value") else value)
    return env
