from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest
import redis

from protocol.keys import Keys
from protocol.redis_conn import connect
from tests.support.rounds import make_round
from tests.support.servers import free_port, serve_in_thread
from validator.api.app import create_app
from validator.store.leaderboard import LeaderboardStore

UIDS = list(range(12))
ROUNDS = 3


@pytest.fixture
def seeded(redis_client: redis.Redis, keys: Keys) -> LeaderboardStore:
    store = LeaderboardStore(redis_client, keys)
    for n in range(1, ROUNDS + 1):
        store.apply_round(make_round(n, UIDS))
    store.apply_round(make_round(ROUNDS + 1, [40, 41], competition="preference"))
    return store


@pytest.fixture
def api(seeded: LeaderboardStore) -> Iterator[httpx.Client]:
    with serve_in_thread(create_app(seeded)) as address:
        with httpx.Client(base_url=f"http://{address}", timeout=10) as client:
            yield client


def test_leaderboard_is_sorted_and_paginated(api: httpx.Client, seeded: LeaderboardStore) -> None:
    res = api.get("/v1/competitions/cot_sft/leaderboard", params={"limit": 5})
    assert res.status_code == 200
    page = res.json()
    assert page["total"] == len(UIDS) and page["limit"] == 5 and page["offset"] == 0
    assert [r["rank"] for r in page["rows"]] == [1, 2, 3, 4, 5]
    assert [r["uid"] for r in page["rows"]] == [11, 10, 9, 8, 7]
    assert page == seeded.leaderboard("cot_sft", 0, 5).model_dump()
    rows = [
        api.get("/v1/competitions/cot_sft/leaderboard", params={"offset": o, "limit": 5}).json()[
            "rows"
        ]
        for o in (0, 5, 10)
    ]
    assert [r["uid"] for page_rows in rows for r in page_rows] == sorted(UIDS, reverse=True)
    assert api.get("/v1/competitions").json() == [
        {"competition": "cot_sft", "miners": len(UIDS)},
        {"competition": "preference", "miners": 2},
    ]


def test_miner_detail_and_history(api: httpx.Client) -> None:
    res = api.get("/v1/competitions/cot_sft/miners/3")
    assert res.status_code == 200
    detail = res.json()
    assert (
        detail["uid"] == 3 and detail["hotkey"] == "5Hotkey0003" and detail["rank"] == len(UIDS) - 3
    )
    assert [p["round_id"] for p in detail["history"]] == [f"r{n:05d}" for n in range(1, ROUNDS + 1)]
    last = detail["last_round"]
    assert (last["offered"], last["accepted"], last["duplicates"], last["contaminated"]) == (
        64,
        57,
        0,
        1,
    )
    assert last["components"]["loss_delta"] == pytest.approx(0.15)
    assert (last["ci_low"], last["ci_high"]) == (0.01, 0.09)
    short = api.get("/v1/competitions/cot_sft/miners/3", params={"history": 1}).json()
    assert [p["round_id"] for p in short["history"]] == [f"r{ROUNDS:05d}"]


def test_rounds_newest_first_and_one_round(api: httpx.Client) -> None:
    page = api.get("/v1/rounds", params={"limit": 2}).json()
    assert page["total"] == ROUNDS + 1
    assert [r["round_id"] for r in page["rounds"]] == ["r00004", "r00003"]
    res = api.get("/v1/rounds/r00002")
    assert res.status_code == 200
    assert res.json() == make_round(2, UIDS).to_dict()


@pytest.mark.parametrize(
    "path",
    [
        "/v1/competitions/cot_sft/leaderboard?limit=0",
        "/v1/competitions/cot_sft/leaderboard?limit=201",
        "/v1/competitions/cot_sft/leaderboard?offset=-1",
        "/v1/competitions/cot_sft/leaderboard?limit=ten",
        "/v1/competitions/Bad%20Name!/leaderboard",
        "/v1/competitions/cot_sft/miners/-1",
        "/v1/competitions/cot_sft/miners/abc",
        "/v1/competitions/cot_sft/miners/3?history=0",
        "/v1/rounds?limit=1000",
        "/v1/rounds/bad%20id",
    ],
)
def test_bad_parameters_are_422_with_reasons(api: httpx.Client, path: str) -> None:
    res = api.get(path)
    assert res.status_code == 422, res.text
    reasons = res.json()["detail"]
    assert reasons and all("loc" in r and "msg" in r for r in reasons)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/competitions/nope/leaderboard",
        "/v1/competitions/nope/miners/1",
        "/v1/competitions/cot_sft/miners/999",
        "/v1/competitions/cot_sft/miners/40",  # scored, but in another competition
        "/v1/rounds/r99999",
    ],
)
def test_unknowns_are_404(api: httpx.Client, path: str) -> None:
    res = api.get(path)
    assert res.status_code == 404
    assert isinstance(res.json()["detail"], str)


def test_health_metrics_and_openapi(api: httpx.Client) -> None:
    assert api.get("/healthz").json() == {"status": "ok", "redis": True}
    res = api.get("/metrics")
    assert res.status_code == 200 and res.headers["content-type"].startswith(
        "text/plain; version=0.0.4"
    )
    samples = dict(
        line.rsplit(" ", 1) for line in res.text.splitlines() if line and not line.startswith("#")
    )
    assert samples["datacomp_redis_up"] == "1"
    assert samples["datacomp_rounds_applied_total"] == str(ROUNDS + 1)
    assert samples["datacomp_miners_scored_total"] == str(ROUNDS * len(UIDS) + 2)
    assert samples["datacomp_round_duration_seconds_count"] == str(ROUNDS + 1)
    assert float(samples["datacomp_round_duration_seconds_sum"]) == pytest.approx(
        42.5 * (ROUNDS + 1)
    )
    assert "# TYPE datacomp_apply_errors_total counter" in res.text
    spec = api.get("/openapi.json").json()
    assert set(spec["paths"]) == {
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
    }
    board = spec["paths"]["/v1/competitions/{competition}/leaderboard"]["get"]
    assert board["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/LeaderboardPage"
    )
    assert {"404", "422", "503"} <= set(board["responses"])
    limit = next(p for p in board["parameters"] if p["name"] == "limit")
    assert limit["schema"]["minimum"] == 1 and limit["schema"]["maximum"] == 200
    one_round = spec["paths"]["/v1/rounds/{round_id}"]["get"]["responses"]["200"]
    assert one_round["content"]["application/json"]["schema"]["$ref"].endswith("/RoundRecord")


# Past this, a request to an API whose Redis is down or silent hangs (the API's own Redis
# timeout is 2 s); generous, so a loaded CI machine does not fail it.
HANG_S = 15.0

DOWN_PATHS = [
    "/v1/competitions",
    "/v1/competitions/cot_sft/leaderboard",
    "/v1/competitions/cot_sft/miners/1",
    "/v1/rounds",
    "/v1/rounds/r00001",
    "/v1/rounds/r00001/commitments",
    "/v1/rounds/r00001/eval_set",
    "/v1/miners/5Hotkey0001/receipt",
    "/healthz",
]


def test_redis_unreachable_is_503_not_a_hang(keys: Keys) -> None:
    store = LeaderboardStore(connect(f"redis://127.0.0.1:{free_port()}/0"), keys)  # nothing listens
    with (
        serve_in_thread(create_app(store)) as address,
        httpx.Client(base_url=f"http://{address}") as api,
    ):
        for path in DOWN_PATHS:
            # Answered, not hung: a request still waiting after HANG_S raises ReadTimeout.
            res = api.get(path, timeout=HANG_S)
            assert res.status_code == 503, (path, res.text)
        assert api.get("/healthz").json() == {"status": "unavailable", "redis": False}
        metrics = api.get("/metrics")
        assert metrics.status_code == 200 and "datacomp_redis_up 0" in metrics.text
        assert api.get("/v1/rounds?limit=0").status_code == 422  # validation still comes first


def test_redis_that_accepts_but_never_answers_is_503_not_a_hang(keys: Keys) -> None:
    with socket.socket() as black_hole:
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(8)  # the kernel completes the handshake; nobody ever replies
        port = black_hole.getsockname()[1]
        store = LeaderboardStore(connect(f"redis://127.0.0.1:{port}/0"), keys)
        with serve_in_thread(create_app(store)) as address:
            # The API's Redis client gives up after its 2 s socket timeout; without one this
            # request would wait forever, and raise ReadTimeout here after HANG_S.
            res = httpx.get(f"http://{address}/v1/rounds", timeout=HANG_S)
            assert res.status_code == 503
