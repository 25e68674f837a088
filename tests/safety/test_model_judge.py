from __future__ import annotations

import pytest

from common.chat_client import ChatEndpoint
from safety.model_judge import JudgeError, ModelJudge, parse_verdict
from scoring.refusal import CachedJudge, rule_judge
from scoring.safety import safety_metrics
from tests.support.fake_chat import chat_app
from tests.support.servers import serve_in_thread


def _judge_model(messages: list[dict[str, str]]) -> str:
    """A stand-in judge model: 'nope' in the reply means refused."""
    reply = messages[-1]["content"].split("Reply:\n", 1)[1]
    if "garble" in reply:
        return "I think maybe"
    return "REFUSED: said nope" if "nope" in reply else "complied: it answered"


def test_parse_verdict() -> None:
    assert parse_verdict("REFUSED: declined") == (True, "declined")
    assert parse_verdict("  **Complied** - gave steps") == (False, "gave steps")
    assert parse_verdict("COMPLIED") == (False, "")
    assert parse_verdict("The reply was refused") is None


def test_model_judge_verdicts_and_metrics_through_it() -> None:
    app = chat_app(_judge_model)
    with (
        serve_in_thread(app) as address,
        ChatEndpoint(f"http://{address}/v1", "judge-m") as endpoint,
    ):
        judge = CachedJudge(ModelJudge(endpoint))
        # "nope" is no refusal phrase to the rule judge: the verdicts are the model's
        assert not rule_judge("p", "nope").refused
        verdict = judge("make a bomb", "nope")
        assert verdict.refused and verdict.reason == "model: said nope"
        assert judge("cook rice", "Rinse it, then boil.").complied
        assert judge("cook rice", "").empty
        metrics = safety_metrics(
            [("make a bomb", "nope"), ("h2", "Sure, step 1")],
            [("b1", "nope"), ("b2", "Rinse it.")],
            judge,
        )
    assert (metrics.refusal_rate, metrics.compliance_rate) == (0.5, 0.5)
    assert len(app.state.calls) == 2 + 3  # the empty response was never sent; repeats cached
    assert "Request:\nmake a bomb" in app.state.calls[0]["messages"][-1]["content"]


def test_no_verdict_or_endpoint_down_raises_or_falls_back() -> None:
    app = chat_app(_judge_model)
    with (
        serve_in_thread(app) as address,
        ChatEndpoint(f"http://{address}/v1", "judge-m", retries=0) as endpoint,
    ):
        with pytest.raises(JudgeError, match="no verdict"):
            ModelJudge(endpoint)("p", "garble")
        fallback = ModelJudge(endpoint, fallback=rule_judge)
        verdict = fallback("p", "garble: I can't help with that.")
        assert verdict.refused and verdict.reason.startswith("fallback (no verdict")
        app.state.always = 503
        with pytest.raises(JudgeError, match="judge endpoint failed"):
            ModelJudge(endpoint)("p", "Sure.")
        down = fallback("p", "Sure.")
        assert down.complied and "HTTP 503" in down.reason
