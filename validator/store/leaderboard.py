"""The Redis leaderboard: round records in, leaderboard pages out.

``apply_round`` is atomic and idempotent. It runs as one ``MULTI``/``EXEC`` transaction under
``WATCH`` of the round's ``applied`` marker and of every miner hash it touches:

- a round already marked applied is skipped, so a client that retries after losing the reply
  to a successful ``EXEC`` cannot count it twice;
- a concurrent writer touching the same keys aborts our ``EXEC`` (``WatchError``) and we
  re-read and retry, so no update is lost;
- a miner's current score and breakdown only move forward in round time: a round applied late
  (out of an outbox, or racing another writer) adds its history point but does not overwrite
  a newer round's numbers.

Layout (see ``protocol.keys``): per competition a zset of EMA scores, a hash per miner with the
last round's breakdown, a capped zset of history points per miner; per network the round
records, a zset of rounds by start time and a hash of metrics counters.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any, cast

import redis
from pydantic import BaseModel, Field

from protocol.keys import Keys
from validator.store.records import MinerRoundRecord, MinerStatus, RoundRecord

# History points kept per miner and competition: at one round every ~10 minutes, 1,000
# points is about a week, plenty for a chart, and bounds a miner's keys to ~200 KB.
HISTORY_LEN = 1000

# WatchError retries before giving up. Each conflict means another writer committed, so a
# handful suffices in practice; 50 only fails under pathological contention.
MAX_WATCH_RETRIES = 50

# Counters kept in the metrics hash, with their Prometheus help text.
COUNTERS: dict[str, str] = {
    "rounds_applied": "Rounds applied to the leaderboard.",
    "miners_scored": "Miner records with status 'scored' applied.",
    "miner_failures": "Miner records with status 'failed' (no usable response) applied.",
    "weights_errors": "Rounds whose weights the chain did not accept.",
    "apply_errors": "Round records that could not be applied (bad record, Redis error).",
    "round_duration_s_sum": "Sum of round durations (finished_at - started_at), seconds.",
    "round_duration_s_count": "Rounds counted in round_duration_s_sum.",
    "apply_duration_s_sum": "Sum of leaderboard apply durations, seconds.",
    "apply_duration_s_count": "Applies counted in apply_duration_s_sum.",
}


class HistoryPoint(BaseModel):
    """One miner's numbers after one round."""

    round_id: str
    started_at: float = Field(description="round start, unix seconds")
    block: int
    score: float = Field(description="this round's score")
    ema: float = Field(description="moving score after this round")
    weight: float


class LeaderboardRow(BaseModel):
    """One miner on a competition's leaderboard."""

    rank: int = Field(description="1-based position by EMA score, highest first")
    uid: int
    hotkey: str
    ema: float = Field(description="current moving score")
    score: float = Field(description="last round's score")
    weight: float = Field(description="weight share after the last round")
    trend: float = Field(description="EMA change since the previous history point")
    status: str = Field(description="last round's status")
    round_id: str = Field(description="the last round this miner was scored in")


class LeaderboardPage(BaseModel):
    """A page of a competition's leaderboard."""

    competition: str
    total: int = Field(description="miners on this leaderboard")
    offset: int
    limit: int
    rows: list[LeaderboardRow]


class MinerDetail(BaseModel):
    """One miner in one competition: rank, last round breakdown, history (oldest first)."""

    competition: str
    uid: int
    hotkey: str
    rank: int
    ema: float
    last_round: MinerRoundRecord
    history: list[HistoryPoint]


class RoundSummary(BaseModel):
    """A round, without its per-miner records."""

    round_id: str
    validator_hotkey: str
    started_at: float
    finished_at: float
    block: int
    eval_set_sha256: str
    eval_version: str
    scoring_version: str
    miners: int
    weights_set: bool


class RoundsPage(BaseModel):
    """A page of rounds, newest first."""

    total: int
    offset: int
    limit: int
    rounds: list[RoundSummary]


class CompetitionSummary(BaseModel):
    """A competition that has a leaderboard."""

    competition: str
    miners: int


def _s(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def round_summary(record: RoundRecord) -> RoundSummary:
    """The summary of a round record."""
    return RoundSummary(
        round_id=record.round_id,
        validator_hotkey=record.validator_hotkey,
        started_at=record.started_at,
        finished_at=record.finished_at,
        block=record.block,
        eval_set_sha256=record.eval_set_sha256,
        eval_version=record.eval_version,
        scoring_version=record.scoring_version,
        miners=len(record.miners),
        weights_set=record.weights_set,
    )


class LeaderboardStore:
    """Reads and writes one network's leaderboard in Redis."""

    def __init__(self, client: redis.Redis, keys: Keys, history_len: int = HISTORY_LEN):
        self.client = client
        self.keys = keys
        self.history_len = history_len
        self.watch_conflicts = 0  # WatchError retries so far (tests and logs)

    # ---- writing -------------------------------------------------------------------------

    def apply_round(self, record: RoundRecord) -> bool:
        """Apply a round; True if applied now, False if it had been applied before.

        Raises ``redis.ConnectionError``/``redis.TimeoutError`` when Redis is unreachable
        (the caller keeps the record: see ``validator.store.outbox``).
        """
        t0 = time.perf_counter()
        payload = json.dumps(record.to_dict(), sort_keys=True)
        miner_keys = [self.keys.lb_miner(m.competition, m.uid) for m in record.miners]
        for attempt in range(MAX_WATCH_RETRIES):
            with self.client.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(self.keys.applied(record.round_id), *miner_keys)
                    if pipe.exists(self.keys.applied(record.round_id)):
                        pipe.unwatch()
                        return False
                    newest = self._read_newest(pipe, miner_keys)
                    pipe.multi()
                    self._write(pipe, record, payload, newest)
                    pipe.execute()
                    break
                except redis.WatchError:
                    self.watch_conflicts += 1
                    time.sleep(random.uniform(0, 0.002 * (attempt + 1)))  # de-synchronise
        else:
            raise RuntimeError(f"round {record.round_id}: {MAX_WATCH_RETRIES} WatchError retries")
        elapsed = time.perf_counter() - t0
        self.client.hincrbyfloat(self.keys.metrics(), "apply_duration_s_sum", elapsed)
        self.client.hincrby(self.keys.metrics(), "apply_duration_s_count", 1)
        return True

    def _read_newest(self, pipe: Any, miner_keys: list[str]) -> dict[str, float | None]:
        """Start time of the round each miner hash currently shows (None: no hash yet)."""
        out: dict[str, float | None] = {}
        for key in miner_keys:
            raw = pipe.hget(key, "started_at")
            out[key] = float(raw) if raw is not None else None
        return out

    def _write(
        self, pipe: Any, record: RoundRecord, payload: str, newest: dict[str, float | None]
    ) -> None:
        k = self.keys
        pipe.set(k.applied(record.round_id), "1")
        pipe.set(k.round(record.round_id), payload)
        pipe.zadd(k.rounds(), {record.round_id: record.started_at})
        for m in record.miners:
            point = HistoryPoint(
                round_id=record.round_id,
                started_at=record.started_at,
                block=record.block,
                score=m.score,
                ema=m.ema,
                weight=m.weight,
            )
            history = k.lb_history(m.competition, m.uid)
            pipe.zadd(history, {point.model_dump_json(): record.started_at})
            pipe.zremrangebyrank(history, 0, -(self.history_len + 1))
            pipe.sadd(k.lb_competitions(), m.competition)
            current = newest[k.lb_miner(m.competition, m.uid)]
            if current is None or record.started_at >= current:
                pipe.zadd(k.lb_scores(m.competition), {str(m.uid): m.ema})
                pipe.hset(
                    k.lb_miner(m.competition, m.uid),
                    mapping={
                        "hotkey": m.hotkey,
                        "round_id": record.round_id,
                        "started_at": repr(record.started_at),
                        "last": json.dumps(m.to_dict(), sort_keys=True),
                    },
                )
        statuses = [m.status for m in record.miners]
        pipe.hincrby(k.metrics(), "rounds_applied", 1)
        pipe.hincrby(k.metrics(), "miners_scored", statuses.count(MinerStatus.SCORED))
        pipe.hincrby(k.metrics(), "miner_failures", statuses.count(MinerStatus.FAILED))
        pipe.hincrby(k.metrics(), "weights_errors", 0 if record.weights_set else 1)
        duration = max(0.0, record.finished_at - record.started_at)
        pipe.hincrbyfloat(k.metrics(), "round_duration_s_sum", duration)
        pipe.hincrby(k.metrics(), "round_duration_s_count", 1)

    def count_error(self, counter: str = "apply_errors") -> None:
        """Count an error in the metrics hash."""
        self.client.hincrby(self.keys.metrics(), counter, 1)

    # ---- reading -------------------------------------------------------------------------

    def ping(self) -> bool:
        """True if Redis answers (raises on connection errors)."""
        return bool(self.client.ping())

    def competitions(self) -> list[CompetitionSummary]:
        """Competitions that have a leaderboard, with their miner counts."""
        names = sorted(_s(c) or "" for c in self.client.smembers(self.keys.lb_competitions()))
        with self.client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.zcard(self.keys.lb_scores(name))
            counts = pipe.execute()
        return [
            CompetitionSummary(competition=n, miners=c) for n, c in zip(names, counts, strict=True)
        ]

    def has_competition(self, competition: str) -> bool:
        """True if the competition has a leaderboard."""
        return bool(self.client.sismember(self.keys.lb_competitions(), competition))

    def leaderboard(self, competition: str, offset: int = 0, limit: int = 50) -> LeaderboardPage:
        """A page of the leaderboard, highest EMA first (ties: higher uid first, Redis order)."""
        scores_key = self.keys.lb_scores(competition)
        with self.client.pipeline(transaction=True) as pipe:
            pipe.zcard(scores_key)
            pipe.zrevrange(scores_key, offset, offset + limit - 1, withscores=True)
            total, entries = pipe.execute()
        uids = [int(_s(member) or 0) for member, _ in entries]
        with self.client.pipeline(transaction=False) as pipe:
            for uid in uids:
                pipe.hgetall(self.keys.lb_miner(competition, uid))
                pipe.zrange(self.keys.lb_history(competition, uid), -2, -1)
            fetched = pipe.execute()
        rows = []
        for i, ((_, ema), uid) in enumerate(zip(entries, uids, strict=True)):
            detail = {_s(k): _s(v) for k, v in fetched[2 * i].items()}
            points = [HistoryPoint.model_validate_json(p) for p in fetched[2 * i + 1]]
            last = json.loads(detail.get("last") or "{}")
            rows.append(
                LeaderboardRow(
                    rank=offset + i + 1,
                    uid=uid,
                    hotkey=detail.get("hotkey") or "",
                    ema=ema,
                    score=last.get("score", 0.0),
                    weight=last.get("weight", 0.0),
                    trend=points[-1].ema - points[-2].ema if len(points) == 2 else 0.0,
                    status=last.get("status", ""),
                    round_id=detail.get("round_id") or "",
                )
            )
        return LeaderboardPage(
            competition=competition, total=total, offset=offset, limit=limit, rows=rows
        )

    def miner(self, competition: str, uid: int, history: int = HISTORY_LEN) -> MinerDetail | None:
        """One miner's detail and its last ``history`` points (oldest first); None if unknown."""
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hgetall(self.keys.lb_miner(competition, uid))
            pipe.zrevrank(self.keys.lb_scores(competition), str(uid))
            pipe.zscore(self.keys.lb_scores(competition), str(uid))
            pipe.zrange(self.keys.lb_history(competition, uid), -history, -1)
            raw, rank, ema, points = pipe.execute()
        if not raw or rank is None:
            return None
        detail = {_s(k): _s(v) for k, v in raw.items()}
        return MinerDetail(
            competition=competition,
            uid=uid,
            hotkey=detail["hotkey"] or "",
            rank=rank + 1,
            ema=float(ema),
            last_round=MinerRoundRecord.from_dict(json.loads(detail["last"] or "{}")),
            history=[HistoryPoint.model_validate_json(p) for p in points],
        )

    def latest_round_of(self, competition: str, hotkey: str) -> str | None:
        """The latest round applied for ``hotkey`` in ``competition``, or None.

        Each uid's hash shows its latest round; the hotkey's is the newest of the uids showing
        it (one pipelined read over the competition's uids, at most a subnet's 256). A hotkey
        whose uid has since gone to another hotkey has none: its records stay in the rounds.
        """
        members = cast(
            list[bytes | str], self.client.zrange(self.keys.lb_scores(competition), 0, -1)
        )
        with self.client.pipeline(transaction=False) as pipe:
            for member in members:
                key = self.keys.lb_miner(competition, int(_s(member) or 0))
                pipe.hmget(key, "hotkey", "round_id", "started_at")
            fetched = pipe.execute()
        found = [
            (float(_s(started) or 0), _s(round_id) or "")
            for held, round_id, started in fetched
            if _s(held) == hotkey and round_id is not None
        ]
        return max(found)[1] if found else None

    def has_round(self, round_id: str) -> bool:
        """True if the round's record is in the store."""
        return bool(self.client.exists(self.keys.round(round_id)))

    def rounds(self, offset: int = 0, limit: int = 50) -> RoundsPage:
        """A page of rounds, newest (by start time) first."""
        with self.client.pipeline(transaction=True) as pipe:
            pipe.zcard(self.keys.rounds())
            pipe.zrevrange(self.keys.rounds(), offset, offset + limit - 1)
            total, ids = pipe.execute()
        with self.client.pipeline(transaction=False) as pipe:
            for round_id in ids:
                pipe.get(self.keys.round(_s(round_id) or ""))
            payloads = pipe.execute()
        summaries = [
            round_summary(RoundRecord.from_dict(json.loads(p))) for p in payloads if p is not None
        ]
        return RoundsPage(total=total, offset=offset, limit=limit, rounds=summaries)

    def round(self, round_id: str) -> RoundRecord | None:
        """One round's full record, or None."""
        payload = self.client.get(self.keys.round(round_id))
        return RoundRecord.from_dict(json.loads(payload)) if payload is not None else None

    def metrics(self) -> dict[str, float]:
        """The metrics counters (missing ones are 0)."""
        raw = self.client.hgetall(self.keys.metrics())
        values = {_s(k) or "": float(v) for k, v in raw.items()}
        return {name: values.get(name, 0.0) for name in COUNTERS}
