"""validator/service.py: the preference judge the settings name, probed at startup."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pytest
from fastapi import FastAPI

from common.text import words
from safety.model_judge import ModelJudge
from scoring.refusal import rule_judge
from tests.support.fake_chat import chat_app
from tests.support.servers import serve_in_thread
from validator.config import ValidatorSettings
from validator.evalsets.cot import general_texts
from validator.evalsets.preference import draw_preference_eval
from validator.model.base import TINY_RANDOM, load_base
from validator.service import JudgeConfigError, preference_judge, probe_judge
from validator.stages.preference_measure import PreferenceConfig, view

KEY_VAR = "DATACOMP_VALIDATOR_PREFERENCE_JUDGE_API_KEY"


def _judge_model(messages: list[dict[str, str]]) -> str:
    """A stand-in judge model that calls every reply a refusal (no rule judge would)."""
    return "REFUSED: fake judge says so"


@pytest.fixture
def judge_server() -> Iterator[tuple[FastAPI, str]]:
    app = chat_app(_judge_model)
    with serve_in_thread(app) as address:
        yield app, f"http://{address}/v1"


def _settings(url: str, **over: Any) -> ValidatorSettings:
    return ValidatorSettings(
        preference_judge_endpoint=url, preference_judge_model="judge-m", **over
    )


def test_default_is_the_rule_judge() -> None:
    configured = preference_judge(ValidatorSettings())
    assert configured.judge is rule_judge and configured.name == "rule"
    assert configured.endpoint is None


def test_configured_endpoint_gives_the_model_judge_with_the_env_key(
    judge_server: tuple[FastAPI, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, url = judge_server
    monkeypatch.setenv(KEY_VAR, "sk-test")
    with closing(preference_judge(_settings(url))) as configured:
        assert isinstance(configured.judge, ModelJudge)
        assert configured.name == f"model:judge-m@{url}"
        verdict = configured.judge("What is 2 + 2?", "4")  # the rule judge: compliance
        assert verdict.refused and verdict.reason == "model: fake judge says so"
        assert app.state.auth == "Bearer sk-test" and app.state.calls[0]["model"] == "judge-m"
        probe_judge(configured)


def test_probe_stops_startup_on_a_broken_judge(judge_server: tuple[FastAPI, str]) -> None:
    app, url = judge_server
    app.state.always = 401  # e.g. a wrong key: not retried
    with closing(preference_judge(_settings(url))) as configured:
        with pytest.raises(JudgeConfigError, match="HTTP 401"):
            probe_judge(configured)
    # With the fallback on, a failing judge is the operator's choice: startup goes on.
    with closing(preference_judge(_settings(url, preference_judge_fallback=True))) as configured:
        assert configured.name.endswith("(fallback: rule)")
        probe_judge(configured)


def test_probe_rejects_a_judge_that_misses_a_plain_refusal() -> None:
    app = chat_app(lambda messages: "COMPLIED: whatever")
    with (
        serve_in_thread(app) as address,
        closing(preference_judge(_settings(f"http://{address}/v1"))) as configured,
    ):
        with pytest.raises(JudgeConfigError, match="plain refusal as compliance"):
            probe_judge(configured)


def test_the_stage_judges_with_the_configured_model(judge_server: tuple[FastAPI, str]) -> None:
    app, url = judge_server
    model, tokenizer = load_base(TINY_RANDOM, "cpu")
    eval_set = draw_preference_eval("secret", "r1", 3, 3, 2)
    with closing(preference_judge(_settings(url))) as configured:
        config = PreferenceConfig(3, 3, 2, max_new_tokens=8, judge=configured.judge)
        seen = view(model, tokenizer, eval_set, config, general_texts())
    answers = seen.harmful_answers + seen.benign_answers
    answered = [a for a in answers if words(a)]  # empty replies are judged without a call
    assert answered and len(app.state.calls) == len(answered)
    # The fake model calls every reply a refusal, which the rule judge would not: its
    # verdicts, not the rule's, are what the view holds.
    assert seen.refused_harmful == [float(bool(words(a))) for a in seen.harmful_answers]
    assert seen.complied_benign == [0.0, 0.0, 0.0]
