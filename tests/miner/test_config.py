"""MinerSettings: the production miner's data sources, as flags and environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from miner.config import MinerSettings
from protocol.cli import parse_settings


def _parse(argv: list[str]) -> MinerSettings:
    return parse_settings(MinerSettings, argv, "miner")


@pytest.mark.parametrize("source", ["generator", "file", "teacher"])
def test_the_production_sources_parse(source: str) -> None:
    assert _parse(["--source", source]).source == source


def test_source_leak_is_refused_with_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    """The train-on-test attacker is the local network's own program, not a miner source."""
    with pytest.raises(SystemExit) as exited:
        _parse(["--source", "leak"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert (
        "--source (DATACOMP_MINER_SOURCE): Input should be 'generator', 'file' or 'teacher'" in err
    )
    with pytest.raises(ValidationError, match="Input should be 'generator', 'file' or 'teacher'"):
        MinerSettings(source="leak")


def test_the_miner_has_no_leak_settings(capsys: pytest.CaptureFixture[str]) -> None:
    assert not [name for name in MinerSettings.model_fields if "leak" in name]
    with pytest.raises(SystemExit):
        _parse(["--leak-secret", "s"])
    assert "unrecognized arguments: --leak-secret s" in capsys.readouterr().err


def test_the_miner_has_no_quality_setting(capsys: pytest.CaptureFixture[str]) -> None:
    """Degraded data is the local network's simulation (localnet/demo_miner.py), not a miner's."""
    assert not [name for name in MinerSettings.model_fields if "quality" in name]
    with pytest.raises(SystemExit):
        _parse(["--generator-quality", "wrong"])
    assert "unrecognized arguments: --generator-quality wrong" in capsys.readouterr().err
