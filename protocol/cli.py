"""Command-line flags from a pydantic-settings class, with the dotted names bittensor users know.

Each field becomes a flag: its ``json_schema_extra={"flag": "--wallet.name"}`` if given, else
``--field-name``; its description is the help text. Values not given on the command line come
from the environment (the class's env prefix) and then the field default, so the same class
configures a CLI run, a docker-compose service and a uvicorn worker.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic_settings import BaseSettings

S = TypeVar("S", bound=BaseSettings)


def flag_of(name: str, extra: Any) -> str:
    """The command-line flag of a settings field."""
    if isinstance(extra, dict) and isinstance(extra.get("flag"), str):
        return str(extra["flag"])
    return "--" + name.replace("_", "-")


def build_parser(settings_cls: type[BaseSettings], description: str) -> argparse.ArgumentParser:
    """An argparse parser with one flag per settings field."""
    parser = argparse.ArgumentParser(description=description)
    for name, field in settings_cls.model_fields.items():
        flag = flag_of(name, field.json_schema_extra)
        help_text = field.description or ""
        if field.annotation is bool:
            parser.add_argument(
                flag, dest=name, action=argparse.BooleanOptionalAction, default=None, help=help_text
            )
        else:
            parser.add_argument(flag, dest=name, default=None, help=help_text, metavar=name.upper())
    return parser


def parse_settings(settings_cls: type[S], argv: Sequence[str] | None, description: str) -> S:
    """Settings from flags, then environment, then defaults."""
    args = build_parser(settings_cls, description).parse_args(argv)
    given = {k: v for k, v in vars(args).items() if v is not None}
    return settings_cls(**given)


def to_env(settings: BaseSettings) -> dict[str, str]:
    """The settings as environment variables (for worker processes), secrets included."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    env: dict[str, str] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        if isinstance(value, dict | list):  # complex values: JSON, as pydantic-settings reads them
            env[(prefix + name).upper()] = json.dumps(value)
            continue
        env[(prefix + name).upper()] = str(value.value if hasattr(value, "value") else value)
    return env
