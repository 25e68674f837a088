"""``exposition``: the leaderboard's counters in Prometheus text format, read from real Redis.

The ``/metrics`` endpoint's wiring is tested with the API (``test_app.py``); here the text
itself: every counter once with its HELP and TYPE, values as Redis holds them, and a scrape
that cannot reach Redis says so without reporting counters reset to zero.
"""

from __future__ import annotations

import uuid

import redis

from protocol.keys import Keys
from protocol.redis_conn import connect
from tests.support.servers import free_port
from validator.api.metrics import exposition
from validator.store.leaderboard import COUNTERS, LeaderboardStore

SUMMARIES = {
    "round_duration_s": "datacomp_round_duration_seconds",
    "apply_duration_s": "datacomp_apply_duration_seconds",
}


def _metric_name(counter: str) -> str:
    """The exposed sample name of one of the store's counters."""
    for base, metric in SUMMARIES.items():
        if counter.startswith(base + "_"):
            return metric + counter.removeprefix(base)
    return f"datacomp_{counter}_total"


def _parse(text: str) -> tuple[dict[str, str], dict[str, str], dict[str, float]]:
    """(HELP by family, TYPE by family, value by sample); a repeated name fails the test."""
    helps: dict[str, str] = {}
    types: dict[str, str] = {}
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            family, help_text = line.removeprefix("# HELP ").split(" ", 1)
            assert family not in helps, line
            helps[family] = help_text
        elif line.startswith("# TYPE "):
            family, kind = line.removeprefix("# TYPE ").split(" ")
            assert family not in types, line
            types[family] = kind
        else:
            name, value = line.split(" ")
            assert name not in samples, line
            family = name.removesuffix("_sum").removesuffix("_count")
            assert family in types, f"{name} before its TYPE line"
            samples[name] = float(value)
    return helps, types, samples


def test_a_fresh_store_exposes_every_counter_once_at_zero(
    redis_client: redis.Redis, keys: Keys
) -> None:
    text = exposition(LeaderboardStore(redis_client, keys))
    assert text.endswith("\n") and not text.endswith("\n\n")
    helps, types, samples = _parse(text)
    assert samples.pop("datacomp_redis_up") == 1
    assert types.pop("datacomp_redis_up") == "gauge"
    assert samples == {_metric_name(name): 0.0 for name in COUNTERS}
    assert types == {
        **{metric: "summary" for metric in SUMMARIES.values()},
        **{
            _metric_name(name): "counter"
            for name in COUNTERS
            if not name.startswith(tuple(SUMMARIES))
        },
    }
    assert set(helps) == {"datacomp_redis_up", *types}
    assert all(helps.values())
    # Counters carry the store's own descriptions.
    assert helps["datacomp_apply_errors_total"] == COUNTERS["apply_errors"]


def test_values_are_the_ones_redis_holds(redis_client: redis.Redis, keys: Keys) -> None:
    values: dict[str, float] = {
        "rounds_applied": 7,
        "miners_scored": 21,
        "apply_errors": 1,
        "round_duration_s_sum": 297.5,
        "round_duration_s_count": 7,
        "apply_duration_s_sum": 0.0625,
        "apply_duration_s_count": 7,
    }
    for name, value in values.items():  # as the store counts: increments
        redis_client.hincrbyfloat(keys.metrics(), name, value)
    _, _, samples = _parse(exposition(LeaderboardStore(redis_client, keys)))
    expected = {_metric_name(name): float(values.get(name, 0)) for name in COUNTERS}
    assert {k: v for k, v in samples.items() if k != "datacomp_redis_up"} == expected
    # Another network's counters (another key prefix) are not this one's.
    other = Keys.for_network(f"other-{uuid.uuid4().hex[:12]}", 1)
    _, _, elsewhere = _parse(exposition(LeaderboardStore(redis_client, other)))
    assert elsewhere["datacomp_rounds_applied_total"] == 0


def test_large_counters_are_exposed_exactly(redis_client: redis.Redis, keys: Keys) -> None:
    redis_client.hincrby(keys.metrics(), "miners_scored", 1_234_567)
    redis_client.hincrbyfloat(keys.metrics(), "round_duration_s_sum", 123_456.75)
    _, _, samples = _parse(exposition(LeaderboardStore(redis_client, keys)))
    assert samples["datacomp_miners_scored_total"] == 1_234_567
    assert samples["datacomp_round_duration_seconds_sum"] == 123_456.75


def test_unreachable_redis_is_reported_up_0_without_any_counter(keys: Keys) -> None:
    """No counter at all, rather than zeros: a zero would read to Prometheus as a reset."""
    store = LeaderboardStore(connect(f"redis://127.0.0.1:{free_port()}/0"), keys)
    text = exposition(store)
    assert text == (
        "# HELP datacomp_redis_up Whether the leaderboard's Redis answered this scrape.\n"
        "# TYPE datacomp_redis_up gauge\n"
        "datacomp_redis_up 0\n"
    )
