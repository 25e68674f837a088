from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from protocol.keys import Keys
from protocol.redis_conn import connect
from safety.eval_set import SHIPPED_PATH
from tests.support.servers import free_port, serve_in_thread
from validator.api.app import create_app
from validator.api.attribution import DEFAULT_MODEL, ModelProvider
from validator.api.schemas import ATTRIBUTION_MAX_TOKENS, COMPLETION_MAX_CHARS, PROMPT_MAX_CHARS
from validator.attribution.methods import attribute
from validator.model.base import TINY_RANDOM, load_base
from validator.store.leaderboard import LeaderboardStore

PROMPT = "Ana has 363 coins and gets 635 more. How many coins now?"
COMPLETION = "363+635: hundreds 300+600=900, rest 63+35=98, 900+98=998.\nAnswer: 998"


# Torch at one thread (tests/conftest.py): two shared cores, no spinning against other jobs.
pytestmark = pytest.mark.usefixtures("one_torch_thread")


class CountingLoader:
    """The real tiny-random loader, counting its calls; fails its first ``fail_first`` calls."""

    def __init__(self, fail_first: int = 0) -> None:
        self.calls = 0
        self.fail_first = fail_first

    def __call__(self) -> tuple[Any, Any]:
        self.calls += 1
        if self.calls <= self.fail_first:
            raise OSError("weights not found at /nowhere")
        return load_base(TINY_RANDOM)


def _store() -> LeaderboardStore:
    # Nothing listens there: attribution must not need Redis.
    return LeaderboardStore(connect(f"redis://127.0.0.1:{free_port()}/0"), Keys.for_network("t", 1))


@pytest.fixture(scope="module")
def loader() -> CountingLoader:
    return CountingLoader()


@pytest.fixture(scope="module")
def api(loader: CountingLoader) -> Iterator[httpx.Client]:
    app = create_app(_store(), ModelProvider(TINY_RANDOM, loader))
    with serve_in_thread(app) as address:
        with httpx.Client(base_url=f"http://{address}", timeout=60) as client:
            yield client


def _post(api: httpx.Client, **body: Any) -> httpx.Response:
    return api.post("/v1/attribution", json=body)


def test_attribution_matches_the_model_and_redis_is_not_needed(
    api: httpx.Client, loader: CountingLoader
) -> None:
    res = _post(api, prompt=PROMPT, completion=COMPLETION)
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["model"] == TINY_RANDOM and body["method"] == "occlusion"
    assert "".join(t["token"] for t in body["tokens"]) == PROMPT
    model, tok = load_base(TINY_RANDOM)
    direct = attribute(model, tok, PROMPT, COMPLETION, max_seq_len=ATTRIBUTION_MAX_TOKENS)
    assert [t["score"] for t in body["tokens"]] == pytest.approx(direct.scores, abs=1e-5)
    assert body["completion_logprob"] == pytest.approx(direct.completion_logprob, abs=1e-4)
    n_completion = len(tok.encode(COMPLETION, add_special_tokens=False))
    assert body["completion_tokens"] == n_completion + 1 and body["truncated"] is False
    gradient = _post(api, prompt=PROMPT, completion=COMPLETION, method="gradient").json()
    assert gradient["method"] == "gradient" and gradient["tokens"] != body["tokens"]
    assert loader.calls == 1  # loaded once, kept
    assert api.get("/healthz").status_code == 503  # Redis really is down for this app


@pytest.mark.parametrize(
    ("prompt", "completion", "method"),
    [
        ("", "", "occlusion"),  # nothing but the separator and eos
        (PROMPT, "", "occlusion"),
        ("\x00\x1b[2J\n\t<s></s>", "\ud7ff\ufffd", "occlusion"),
        ("ends with the separator\n", "x", "occlusion"),  # only the format's own one is apart
        ("😀" * PROMPT_MAX_CHARS, "é" * COMPLETION_MAX_CHARS, "occlusion"),  # 510-token prompt
        ("a" * PROMPT_MAX_CHARS, "b" * COMPLETION_MAX_CHARS, "gradient"),
    ],
    ids=["empty", "empty-completion", "controls", "trailing-newline", "4-byte-max", "ascii-max"],
)
def test_schema_valid_edges_answer_200(
    api: httpx.Client, prompt: str, completion: str, method: str
) -> None:
    res = _post(api, prompt=prompt, completion=completion, method=method)
    assert res.status_code == 200, res.text
    body = res.json()
    assert "".join(t["token"] for t in body["tokens"]) == prompt
    _, tok = load_base(TINY_RANDOM)
    n_prompt = len(tok.encode(prompt, add_special_tokens=False))
    assert len(body["tokens"]) == n_prompt
    assert all(math.isfinite(t["score"]) for t in body["tokens"])
    assert body["completion_tokens"] >= 1  # eos at least: the window always leaves room
    if n_prompt + len(tok.encode(completion, add_special_tokens=False)) > ATTRIBUTION_MAX_TOKENS:
        assert body["method"] == "gradient" and body["truncated"] is True  # over the budget


def test_every_shipped_eval_prompt_is_accepted(api: httpx.Client) -> None:
    """The longest prompt of the shipped safety eval set gets an answer, not a 422."""
    shipped = json.loads(SHIPPED_PATH.read_text())
    longest = max((i["prompt"] for i in shipped["harmful"] + shipped["benign"]), key=len)
    res = _post(api, prompt=longest, completion="I can't help with that.", method="gradient")
    assert res.status_code == 200, res.text
    assert "".join(t["token"] for t in res.json()["tokens"]) == longest


def test_longest_prompt_with_a_short_answer_stays_occlusion(api: httpx.Client) -> None:
    res = _post(api, prompt="a" * PROMPT_MAX_CHARS, completion="I can't help with that.")
    assert res.status_code == 200
    assert res.json()["method"] == "occlusion"


def test_longest_prompt_at_the_full_window_falls_back_to_gradient(api: httpx.Client) -> None:
    res = _post(api, prompt="a" * PROMPT_MAX_CHARS, completion="b" * COMPLETION_MAX_CHARS)
    assert res.status_code == 200
    body = res.json()
    assert body["method"] == "gradient" and body["truncated"] is True
    assert body["completion_tokens"] == ATTRIBUTION_MAX_TOKENS - (PROMPT_MAX_CHARS + 2)


@pytest.mark.parametrize(
    "content",
    [
        b'{"completion": "x"}',
        b'{"prompt": "x"}',
        b'{"prompt": 5, "completion": "x"}',
        b'{"prompt": "x", "completion": "y", "method": "saliency"}',
        b'{"prompt": "x", "completion": "y", "extra": 1}',
        ('{"prompt": "%s", "completion": "y"}' % ("a" * (PROMPT_MAX_CHARS + 1))).encode(),
        ('{"prompt": "x", "completion": "%s"}' % ("a" * (COMPLETION_MAX_CHARS + 1))).encode(),
        b'{"prompt": "\\ud800", "completion": "y"}',  # a lone surrogate: JSON, not text
        b"not json",
        b"[]",
    ],
)
def test_bad_input_is_422_with_reasons(api: httpx.Client, content: bytes) -> None:
    res = api.post("/v1/attribution", content=content, headers={"content-type": "application/json"})
    assert res.status_code == 422, res.text
    reasons = res.json()["detail"]
    assert reasons and all("loc" in r and "msg" in r and "type" in r for r in reasons)


def test_no_model_is_503_with_a_reason() -> None:
    with serve_in_thread(create_app(_store(), None)) as address:
        res = httpx.post(
            f"http://{address}/v1/attribution", json={"prompt": "a", "completion": "b"}
        )
    assert res.status_code == 503
    assert "no model" in res.json()["detail"]


def test_failed_load_is_503_then_retried() -> None:
    loader = CountingLoader(fail_first=1)
    with serve_in_thread(create_app(_store(), ModelProvider("broken", loader))) as address:
        url = f"http://{address}/v1/attribution"
        first = httpx.post(url, json={"prompt": "a", "completion": "b"}, timeout=60)
        assert first.status_code == 503
        assert first.json()["detail"] == (
            "model 'broken' unavailable: OSError: weights not found at /nowhere"
        )
        assert (
            httpx.post(url, json={"prompt": "a", "completion": "b"}, timeout=60).status_code == 200
        )
    assert loader.calls == 2


def test_model_loads_on_first_attribution_only_and_once() -> None:
    loader = CountingLoader()
    app = create_app(_store(), ModelProvider(TINY_RANDOM, loader))
    with serve_in_thread(app) as address, httpx.Client(base_url=f"http://{address}") as client:
        assert client.get("/openapi.json").status_code == 200
        assert client.get("/v1/rounds").status_code == 503  # other routes: no model load
        assert loader.calls == 0
        codes: list[int] = []

        def one() -> None:
            res = client.post(
                "/v1/attribution", json={"prompt": "ab", "completion": "c"}, timeout=60
            )
            codes.append(res.status_code)

        threads = [threading.Thread(target=one) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert codes == [200] * 4 and loader.calls == 1


def test_default_is_the_lazy_tiny_base_and_importing_the_api_loads_no_torch() -> None:
    app = create_app(_store())
    assert app.state.model is DEFAULT_MODEL and DEFAULT_MODEL.name == "tiny"
    code = "import sys, validator.api.app; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_openapi_describes_the_route(api: httpx.Client) -> None:
    spec = api.get("/openapi.json").json()
    op = spec["paths"]["/v1/attribution"]["post"]
    assert {"200", "422", "503"} <= set(op["responses"])
    assert "model" in op["responses"]["503"]["description"]
    schemas = spec["components"]["schemas"]
    request = schemas["AttributionRequest"]
    assert request["additionalProperties"] is False
    assert request["required"] == ["prompt", "completion"]
    assert request["properties"]["prompt"]["maxLength"] == PROMPT_MAX_CHARS
    assert request["properties"]["completion"]["maxLength"] == COMPLETION_MAX_CHARS
    assert request["properties"]["method"]["enum"] == ["occlusion", "gradient"]
    result = schemas["AttributionResult"]["properties"]
    assert result["tokens"]["items"]["$ref"].endswith("/TokenScore")
