"""ValidatorSettings: competition shares and the preference judge, as flags and environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from protocol.cli import parse_settings, to_env
from validator.config import ExecutorKind, ValidatorSettings
from validator.executor.local import LocalExecutor
from validator.service import build_executor


def _parse(argv: list[str]) -> ValidatorSettings:
    return parse_settings(ValidatorSettings, argv, "validator")


def test_default_shares_run_both_competitions() -> None:
    assert ValidatorSettings().active_shares() == {"cot_sft": 0.7, "preference": 0.3}


@pytest.mark.parametrize(
    ("shares", "active"),
    [
        ('{"preference": 1}', {"preference": 1.0}),  # CoT left out: off
        ('{"cot_sft": 0, "preference": 0.5}', {"preference": 0.5}),  # CoT at 0: off
        ('{"cot_sft": 1, "preference": 0}', {"cot_sft": 1.0}),
    ],
)
def test_zero_or_absent_share_switches_a_competition_off(
    shares: str, active: dict[str, float]
) -> None:
    assert _parse(["--competition.shares", shares]).active_shares() == active


@pytest.mark.parametrize(
    ("shares", "says"),
    [
        ('{"cot": 1}', "unknown competition(s) ['cot']; known: ['cot_sft', 'preference']"),
        (
            '{"cot_sft": -0.5, "preference": 1}',
            "[cot_sft]: Input should be greater than or equal to 0",
        ),
        ('{"cot_sft": Infinity}', "[cot_sft]: Input should be a finite number"),
        ('{"cot_sft": NaN, "preference": 1}', "[cot_sft]: Input should be a finite number"),
        ('{"cot_sft": 0, "preference": 0}', "every competition is switched off"),
        ("{}", "every competition is switched off"),
        ("cot_sft=1", "shares must be a JSON object"),
    ],
)
def test_bad_shares_stop_startup_with_a_clear_error(
    shares: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        _parse(["--competition.shares", shares])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--competition.shares (DATACOMP_VALIDATOR_SHARES)" in err and says in err, err


def test_bad_shares_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATACOMP_VALIDATOR_SHARES", '{"cot_sft": Infinity}')
    with pytest.raises(ValidationError, match="finite number"):
        ValidatorSettings()


def test_judge_defaults_to_the_rule_judge() -> None:
    settings = _parse([])
    assert settings.preference_judge_endpoint is None and settings.preference_judge_api_key is None


def test_judge_flags_and_key_from_the_environment_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATACOMP_VALIDATOR_PREFERENCE_JUDGE_API_KEY", "sk-test")
    argv = ["--preference.judge_endpoint", "http://judge:8000/v1", "--preference.judge_model", "j"]
    settings = _parse([*argv, "--preference.judge_fallback"])
    assert settings.preference_judge_endpoint == "http://judge:8000/v1"
    assert settings.preference_judge_model == "j" and settings.preference_judge_fallback
    assert settings.preference_judge_api_key is not None
    assert settings.preference_judge_api_key.get_secret_value() == "sk-test"
    assert "sk-test" not in repr(settings)
    with pytest.raises(SystemExit):  # never a flag: a command line is visible to all users
        _parse([*argv, "--preference.judge_api_key", "sk-test"])
    assert "unrecognized arguments" in capsys.readouterr().err


def test_judge_settings_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parse(["--preference.judge_endpoint", "http://judge:8000/v1"])
    assert "--preference.judge_endpoint needs --preference.judge_model" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _parse(["--preference.judge_endpoint", "judge:8000", "--preference.judge_model", "j"])
    assert "not an http(s) URL" in capsys.readouterr().err


def test_to_env_carries_shares_and_judge(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = ValidatorSettings(
        shares={"preference": 1.0},
        preference_judge_endpoint="http://judge:8000/v1",
        preference_judge_model="j",
        preference_judge_api_key="sk-test",
    )
    for name, value in to_env(settings).items():
        monkeypatch.setenv(name, value)
    again = ValidatorSettings()
    assert again == settings and again.active_shares() == {"preference": 1.0}


def test_executor_flags_parse() -> None:
    settings = _parse(
        [
            "--executor",
            "ray",
            "--ray.address",
            "auto",
            "--ray.workers",
            "3",
            "--ray.gpus-per-job",
            "0.5",
            "--executor.threads",
            "2",
        ]
    )
    assert settings.executor == ExecutorKind.RAY
    assert (settings.ray_address, settings.ray_workers) == ("auto", 3)
    assert (settings.ray_gpus_per_job, settings.executor_threads) == (0.5, 2)
    assert _parse([]).executor == ExecutorKind.LOCAL  # today's behaviour stays the default
    assert _parse(["--executor.adapters-per-pass", "8"]).executor_adapters_per_pass == 8


@pytest.mark.parametrize(
    "argv",
    [
        ["--executor", "spark"],
        ["--ray.workers", "0"],
        ["--ray.gpus-per-job", "-1"],
        ["--executor.threads", "0"],
        ["--executor.adapters-per-pass", "0"],
    ],
)
def test_bad_executor_flags_are_refused(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        _parse(argv)
    assert argv[0] in capsys.readouterr().err


def test_the_default_executor_is_local_on_the_validators_model() -> None:
    model, tokenizer = object(), object()
    executor = build_executor(_parse(["--executor.threads", "1"]), model, tokenizer)
    assert isinstance(executor, LocalExecutor)
    assert (executor.model, executor.tokenizer, executor.threads) == (model, tokenizer, 1)


def test_the_default_eval_size_is_the_eval_sets() -> None:
    """The settings spell EVAL_SIZE out (importing it would pull torch into the config)."""
    from validator.evalsets.cot import EVAL_SIZE

    assert ValidatorSettings().eval_items == EVAL_SIZE
