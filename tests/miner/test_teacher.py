"""The teacher source against an OpenAI-compatible server on loopback (a real HTTP peer)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import httpx
from fastapi import FastAPI, Request
from pydantic import SecretStr

from miner.sources import GeneratorSource
from miner.teacher import TeacherSource, parse_teacher_reply
from protocol.schemas import Competition, CotSample, Sample
from tests.support.servers import free_port, serve_in_thread


@dataclass
class _Calls:
    """What the solver has been asked so far."""

    n: int = 0
    auth: str | None = None  # the last request's Authorization header


def _cot(samples: Sequence[Sample]) -> list[CotSample]:
    """The samples, each checked to be a chain-of-thought one."""
    assert all(isinstance(s, CotSample) for s in samples)
    return [s for s in samples if isinstance(s, CotSample)]


def _solver(wrong_every: int = 0) -> FastAPI:
    """Answers addition/subtraction correctly by parsing the prompt; others via the generator's rule."""
    app = FastAPI()
    calls = _Calls()

    @app.post("/v1/chat/completions")
    async def complete(request: Request) -> dict[str, object]:
        body = await request.json()
        calls.n += 1
        calls.auth = request.headers.get("authorization")
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
        if wrong_every and calls.n % wrong_every == 0:
            answer = "wrong"
        return {
            "choices": [
                {"message": {"role": "assistant", "content": f"Let me think.\nAnswer: {answer}"}}
            ]
        }

    app.state.calls = calls
    return app


def test_parse_reply() -> None:
    assert parse_teacher_reply("steps\nAnswer: 42") == ("steps", "42")
    assert parse_teacher_reply("Answer: 1\nmore\nanswer: 2") == ("Answer: 1\nmore", "2")
    assert parse_teacher_reply("no answer here") is None


def test_teacher_samples_are_verified() -> None:
    app = _solver(wrong_every=3)
    with serve_in_thread(app) as address:
        source = TeacherSource(f"http://{address}/v1", "m", SecretStr("sk-test"), seed="t")
        samples = source.samples(Competition.COT_SFT, 12, "r1")
        source.close()
    assert len(samples) == 12
    assert app.state.calls.auth == "Bearer sk-test"
    teacher_made = [s for s in _cot(samples) if s.chain_of_thought == "Let me think."]
    assert 0 < len(teacher_made) < 12  # the wrong third was dropped and topped up


def test_teacher_down_falls_back_to_generator() -> None:
    source = TeacherSource(
        f"http://127.0.0.1:{free_port()}/v1", "m", None, seed="t", client=httpx.Client(timeout=1)
    )
    samples = source.samples(Competition.COT_SFT, 5, "r1")
    source.close()
    assert samples == GeneratorSource("t").samples(Competition.COT_SFT, 5, "r1")


def test_no_endpoint_uses_generator() -> None:
    assert len(TeacherSource(None, "m", None, seed="t").samples(Competition.COT_SFT, 3, "r")) == 3
