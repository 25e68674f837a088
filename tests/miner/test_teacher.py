"""The teacher source against an OpenAI-compatible server on loopback (a real HTTP peer)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI, Request
from pydantic import SecretStr

from miner.sources import GeneratorSource, _round_rng
from miner.teacher import TEACHER_MAX_TOKENS, TeacherSource, parse_teacher_reply
from protocol.schemas import Competition, CotSample
from tasks.families import generate
from tests.support.fake_chat import chat_app
from tests.support.servers import free_port, serve_in_thread


def _solver(wrong_every: int = 0) -> FastAPI:
    """Answers addition/subtraction correctly by parsing the prompt; others via the generator's rule."""
    app = FastAPI()
    calls: dict[str, Any] = {"n": 0, "auth": None}

    @app.post("/v1/chat/completions")
    async def complete(request: Request) -> dict[str, object]:
        body = await request.json()
        calls["n"] += 1
        calls["auth"] = request.headers.get("authorization")
        prompt = body["messages"][-1]["content"]
        numbers = [int(x) for x in re.findall(r"\d+", prompt)]
        if "gets" in prompt:
            answer = str(numbers[0] + numbers[1])
        elif "gave away" in prompt:
            answer = str(numbers[0] - numbers[1])
        elif prompt.startswith("Largest"):
            answer = str(max(numbers))
        elif prompt.startswith("Reverse"):
            answer = " ".join(map(str, reversed(numbers)))
        else:
            answer = " ".join(sorted(prompt.split(": ")[1].split()))
        if wrong_every and calls["n"] % wrong_every == 0:
            answer = "wrong"
        return {
            "choices": [
                {"message": {"role": "assistant", "content": f"Let me think.\nAnswer: {answer}"}}
            ]
        }

    app.state.calls = calls
    return app


def _oracle_reply(seed: str, round_id: str, count: int) -> Callable[[list[dict[str, str]]], str]:
    """A teacher that answers right the prompts ``TeacherSource(seed=seed)`` draws in a round."""
    rng = _round_rng(seed, round_id)
    answers = {task.prompt: task.final_answer for task in (generate(rng) for _ in range(count))}
    return lambda messages: f"Let me think.\nAnswer: {answers[messages[-1]['content']]}"


def _no_sleep(seconds: float) -> None:
    pass


def test_parse_reply() -> None:
    assert parse_teacher_reply("steps\nAnswer: 42") == ("steps", "42")
    assert parse_teacher_reply("Answer: 1\nmore\nanswer: 2") == ("Answer: 1\nmore", "2")
    assert parse_teacher_reply("no answer here") is None


def test_teacher_samples_are_verified() -> None:
    app = _solver(wrong_every=3)
    with serve_in_thread(app) as address:
        source = TeacherSource(
            f"http://{address}/v1", "m", SecretStr("sk-test"), seed="t", sleep=_no_sleep
        )
        samples = source.samples(Competition.COT_SFT, 12, "r1")
        source.close()
    assert len(samples) == 12
    assert app.state.calls["auth"] == "Bearer sk-test"
    teacher_made = [
        s for s in samples if isinstance(s, CotSample) and s.chain_of_thought == "Let me think."
    ]
    assert 0 < len(teacher_made) < 12  # the wrong third was dropped and topped up


def test_teacher_down_falls_back_to_generator() -> None:
    slept: list[float] = []
    source = TeacherSource(
        f"http://127.0.0.1:{free_port()}/v1",
        "m",
        None,
        seed="t",
        client=httpx.Client(timeout=1),
        sleep=slept.append,
    )
    samples = source.samples(Competition.COT_SFT, 5, "r1")
    source.close()
    assert samples == GeneratorSource("t").samples(Competition.COT_SFT, 5, "r1")
    assert slept == [0.5, 1.0, 2.0]  # retried with backoff before giving up


def test_transient_teacher_failure_is_retried() -> None:
    app = chat_app(_oracle_reply("t", "r1", 3))
    app.state.plan = [503]  # one passing failure, then normal replies
    slept: list[float] = []
    with serve_in_thread(app) as address:
        source = TeacherSource(f"http://{address}/v1", "m", None, seed="t", sleep=slept.append)
        samples = source.samples(Competition.COT_SFT, 3, "r1")
        source.close()
    assert len(app.state.calls) == 4  # the 503, its retry, then one call per remaining sample
    assert slept == [0.5]
    assert len(samples) == 3
    # none from the fallback
    assert all(isinstance(s, CotSample) and s.chain_of_thought == "Let me think." for s in samples)
    assert app.state.calls[0]["max_tokens"] == TEACHER_MAX_TOKENS


def test_no_endpoint_uses_generator() -> None:
    assert len(TeacherSource(None, "m", None, seed="t").samples(Competition.COT_SFT, 3, "r")) == 3
