from __future__ import annotations

import ast
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from common.chat_client import ChatEndpoint, EndpointError, api_key_from_env
from tests.support.fake_chat import chat_app
from tests.support.servers import free_port, serve_in_thread

USER = [{"role": "user", "content": "hello"}]

# The project's other top-level packages: ``common`` is the bottom layer, so it imports none.
PROJECT_PACKAGES = frozenset(
    {"protocol", "scoring", "tasks", "safety", "validator", "miner", "localnet", "neurons"}
)
COMMON = Path(__file__).resolve().parents[2] / "common"


def _echo(messages: list[dict[str, str]]) -> str:
    return "echo: " + messages[-1]["content"]


def _no_sleep(seconds: float) -> None:
    pass


def test_completion_sends_model_seed_and_key() -> None:
    app = chat_app(_echo)
    with (
        serve_in_thread(app) as address,
        ChatEndpoint(f"http://{address}/v1/", "m-1", SecretStr("sk-x")) as endpoint,
    ):
        assert endpoint.complete(USER, max_tokens=9, seed=42) == "echo: hello"
    body = app.state.calls[0]
    assert (body["model"], body["max_tokens"], body["seed"]) == ("m-1", 9, 42)
    assert app.state.auth == "Bearer sk-x"


def test_transient_failures_are_retried_with_backoff() -> None:
    app = chat_app(_echo)
    app.state.plan = [503, 429]
    slept: list[float] = []
    with (
        serve_in_thread(app) as address,
        ChatEndpoint(f"http://{address}/v1", "m", retries=3, sleep=slept.append) as endpoint,
    ):
        assert endpoint.complete(USER) == "echo: hello"
    assert len(app.state.calls) == 3
    assert slept == [0.5, 1.0]


def test_persistent_failure_raises_after_the_retries() -> None:
    app = chat_app(_echo)
    app.state.always = 500
    with (
        serve_in_thread(app) as address,
        ChatEndpoint(f"http://{address}/v1", "m", retries=2, sleep=_no_sleep) as endpoint,
    ):
        with pytest.raises(EndpointError, match="gave up after 3 tries.*HTTP 500"):
            endpoint.complete(USER)
    assert len(app.state.calls) == 3


def test_client_errors_and_bad_shapes_are_not_retried() -> None:
    app = chat_app(lambda m: "x")
    app.state.always = 401
    with serve_in_thread(app) as address:
        with ChatEndpoint(f"http://{address}/v1", "m", sleep=_no_sleep) as endpoint:
            with pytest.raises(EndpointError, match="HTTP 401"):
                endpoint.complete(USER)
        assert len(app.state.calls) == 1
        with ChatEndpoint(f"http://{address}/nowhere", "m", sleep=_no_sleep) as bad:
            with pytest.raises(EndpointError, match="HTTP 404"):
                bad.complete(USER)


def test_a_reply_of_the_wrong_shape_is_an_endpoint_error() -> None:
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def complete() -> dict[str, object]:
        return {"choices": []}

    with (
        serve_in_thread(app) as address,
        ChatEndpoint(f"http://{address}/v1", "m", sleep=_no_sleep) as endpoint,
    ):
        with pytest.raises(EndpointError, match="not a chat-completions reply"):
            endpoint.complete(USER)


def test_unreachable_endpoint_is_an_endpoint_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with ChatEndpoint(
        url, "m", retries=1, client=httpx.Client(timeout=1), sleep=_no_sleep
    ) as endpoint:
        with pytest.raises(EndpointError, match="ConnectError"):
            endpoint.complete(USER)


def test_api_key_comes_from_the_named_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert api_key_from_env(None) is None
    monkeypatch.setenv("SAFETY_TEST_KEY", "sk-secret")
    key = api_key_from_env("SAFETY_TEST_KEY")
    assert key is not None and key.get_secret_value() == "sk-secret"
    monkeypatch.delenv("SAFETY_TEST_KEY")
    with pytest.raises(EndpointError, match="SAFETY_TEST_KEY"):
        api_key_from_env("SAFETY_TEST_KEY")


def test_common_imports_no_other_project_package() -> None:
    offenders = []
    for path in sorted(COMMON.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in PROJECT_PACKAGES]
    assert COMMON.joinpath("chat_client.py").exists()
    assert offenders == []
