"""``GET /metrics``: the leaderboard's counters in Prometheus text format 0.0.4."""

from __future__ import annotations

import redis

from validator.store.leaderboard import COUNTERS, LeaderboardStore

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def exposition(store: LeaderboardStore) -> str:
    """The metrics in Prometheus text format 0.0.4."""
    try:
        values = store.metrics()
    except (redis.ConnectionError, redis.TimeoutError):
        values = None
    lines = [
        "# HELP datacomp_redis_up Whether the leaderboard's Redis answered this scrape.",
        "# TYPE datacomp_redis_up gauge",
        f"datacomp_redis_up {0 if values is None else 1}",
    ]
    if values is None:
        return "\n".join(lines) + "\n"
    summaries = {
        "round_duration_s": (
            "datacomp_round_duration_seconds",
            "Round durations (finished - started).",
        ),
        "apply_duration_s": ("datacomp_apply_duration_seconds", "Leaderboard apply durations."),
    }
    for base, (metric, help_text) in summaries.items():
        lines += [
            f"# HELP {metric} {help_text}",
            f"# TYPE {metric} summary",
            f"{metric}_sum {_number(values[base + '_sum'])}",
            f"{metric}_count {_number(values[base + '_count'])}",
        ]
    for name, help_text in COUNTERS.items():
        if name.startswith(tuple(summaries)):
            continue
        metric = f"datacomp_{name}_total"
        lines += [
            f"# HELP {metric} {help_text}",
            f"# TYPE {metric} counter",
            f"{metric} {_number(values[name])}",
        ]
    return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    """A sample value exactly: an integer as one, any other float in its shortest form.

    ``:g`` kept 6 digits, so a counter past 999,999 stopped visibly increasing.
    """
    number = float(value)
    return str(int(number)) if number.is_integer() else repr(number)
