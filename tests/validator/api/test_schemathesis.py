"""The leaderboard API under schemathesis: cases generated from its own OpenAPI document.

Issue 5, "Reliability under faults". The app (``validator.api.app.create_app``) is served over
real HTTP, backed by a real Redis holding a few rounds of two competitions, with the
tiny-random model behind ``POST /v1/attribution``. Every operation in the schema gets
generated requests, valid and invalid; every response must be no 5xx (a 503 is the documented
"Redis/model unavailable" answer and cannot happen here: both are up) and conform to the
schema: status documented, body and content type as declared, invalid input refused, valid
input accepted. Derandomised and bounded, so CI sees the same cases every run.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
import schemathesis
from hypothesis import HealthCheck, settings

from protocol.keys import Keys
from tests.support.rounds import make_round
from tests.support.servers import serve_in_thread
from validator.api.app import create_app
from validator.api.attribution import ModelProvider
from validator.model.base import TINY_RANDOM, load_base
from validator.store.leaderboard import LeaderboardStore

# Cases per read operation: the parameters are few and bounded (patterns, ranges), and 150
# cases reach every status the routes give; measured ~2 s per route on 2 shared cores.
READ_EXAMPLES = 150
# Attribution runs the model (occlusion: a forward pass per prompt token); on the tiny-random
# model 50 cases take a few seconds. Many are invalid on purpose and end in a 422 unrun.
ATTRIBUTION_EXAMPLES = 50

SETTINGS = dict(
    derandomize=True,  # the same cases on every run: CI is deterministic
    deadline=None,  # a shared 2-core box has slow moments; time is bounded by the counts
    database=None,  # no example database: nothing carried between runs
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

UIDS = [0, 1, 2, 3, 7]
ROUNDS = 3


# Torch at one thread (tests/conftest.py): two shared cores, no spinning against other jobs.
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def api_address(
    embedded_redis: redis.Redis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    store = LeaderboardStore(embedded_redis, Keys.for_network(f"schema-{uuid.uuid4().hex[:8]}", 1))
    for n in range(1, ROUNDS + 1):
        store.apply_round(make_round(n, UIDS))
    store.apply_round(make_round(ROUNDS + 1, [40, 41], competition="preference"))
    runs = tmp_path_factory.mktemp("runs")  # round 1's published set: eval_set answers 200
    (runs / "r00001").mkdir()
    (runs / "r00001" / "eval_set.json").write_text('{"cot_sft": {"items": []}}')
    model = ModelProvider(TINY_RANDOM, lambda: load_base(TINY_RANDOM, "cpu"))
    with serve_in_thread(create_app(store, model, runs)) as address:
        yield address


def _openapi() -> dict[str, Any]:
    """The app's OpenAPI document; building it touches neither Redis nor the model."""
    unconnected = redis.Redis(host="127.0.0.1", port=1)  # never asked anything
    return create_app(LeaderboardStore(unconnected, Keys.for_network("schema", 1)), None).openapi()


# Loaded at collection from the document itself (schemathesis' lazy fixture loader needs a
# pytest private, ``Node._nodeid``, that pytest 9 removed); the cases go to the live server.
schema = schemathesis.openapi.from_dict(_openapi())


@schema.exclude(path="/v1/attribution").parametrize()
@settings(max_examples=READ_EXAMPLES, **SETTINGS)  # type: ignore[arg-type]
def test_read_endpoints_conform(case: schemathesis.Case, api_address: str) -> None:
    case.call_and_validate(base_url=f"http://{api_address}", timeout=30)


@schema.include(path="/v1/attribution").parametrize()
@settings(max_examples=ATTRIBUTION_EXAMPLES, **SETTINGS)  # type: ignore[arg-type]
def test_attribution_conforms(case: schemathesis.Case, api_address: str) -> None:
    case.call_and_validate(base_url=f"http://{api_address}", timeout=60)


def test_the_schema_covers_every_route(api_address: str) -> None:
    # A route added to the app is fuzzed without touching this file; one dropped from the
    # schema (include_in_schema=False by mistake) is caught here. And the live server serves
    # the same document the cases were generated from.
    served = httpx.get(f"http://{api_address}/openapi.json", timeout=10).json()
    assert served == _openapi()
    paths = set(served["paths"])
    assert {
        "/v1/competitions",
        "/v1/competitions/{competition}/leaderboard",
        "/v1/competitions/{competition}/miners/{uid}",
        "/v1/rounds",
        "/v1/rounds/{round_id}",
        "/v1/rounds/{round_id}/commitments",
        "/v1/rounds/{round_id}/eval_set",
        "/v1/miners/{hotkey}/receipt",
        "/v1/attribution",
        "/healthz",
        "/metrics",
    } <= paths
