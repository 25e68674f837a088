"""A durable on-disk outbox of round records not yet applied to the leaderboard.

Write-ahead: ``submit`` first writes the record to disk (temp file, fsync, ``os.replace``), then
tries to flush. If Redis is down, the record waits on disk, across validator restarts, and the
next ``submit`` or ``flush`` applies everything pending in order. A file is deleted only after
its apply succeeded; a crash between the apply and the delete re-applies it later, which the
leaderboard's idempotent ``apply_round`` turns into a no-op.

A file that cannot be parsed would block the queue forever, so it is moved to ``rejected/``
and counted as an apply error rather than retried.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import time
from pathlib import Path

import redis

from common.atomic_file import write_text_atomic
from validator.store.leaderboard import LeaderboardStore
from validator.store.records import RoundRecord

log = logging.getLogger("datacomp.outbox")

# The errors that mean "Redis is not there right now": keep the record and retry later.
# (BusyLoadingError, a server still loading its AOF after a restart, is a ConnectionError.)
UNREACHABLE = (redis.ConnectionError, redis.TimeoutError)

_SUFFIX = ".json"
_counter = itertools.count()


class Outbox:
    """Round records waiting for Redis, one JSON file each, applied oldest first."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def put(self, record: RoundRecord) -> Path:
        """Persist a record; returns its file. Names sort in submission order."""
        # time_ns orders across restarts; the counter orders records put within one tick.
        name = f"{time.time_ns():020d}-{next(_counter):06d}{_SUFFIX}"
        path = self.directory / name
        write_text_atomic(path, json.dumps(record.to_dict(), sort_keys=True))
        self._fsync_dir()
        return path

    def pending(self) -> list[Path]:
        """Files waiting to be applied, oldest first."""
        return sorted(
            p
            for p in self.directory.iterdir()
            if p.suffix == _SUFFIX and not p.name.startswith(".")
        )

    def flush(self, store: LeaderboardStore) -> int:
        """Apply pending records in order; returns how many were applied (or found applied).

        Stops at the first Redis connection error, leaving that record and the rest on disk;
        never raises for an unreachable Redis.
        """
        done = 0
        for path in self.pending():
            try:
                record = RoundRecord.from_dict(json.loads(path.read_text()))
            except (ValueError, TypeError, KeyError) as exc:
                self._reject(path, exc, store)
                continue
            try:
                store.apply_round(record)
            except UNREACHABLE as exc:
                log.warning(
                    "redis unreachable, %d record(s) kept in %s: %s",
                    len(self.pending()),
                    self.directory,
                    exc,
                )
                return done
            path.unlink()
            done += 1
        if done:
            self._fsync_dir()
        return done

    def submit(self, record: RoundRecord, store: LeaderboardStore) -> bool:
        """Persist then flush; True if nothing is left pending (the record reached Redis)."""
        self.put(record)
        self.flush(store)
        return not self.pending()

    def _reject(self, path: Path, exc: Exception, store: LeaderboardStore) -> None:
        rejected = self.directory / "rejected"
        rejected.mkdir(exist_ok=True)
        os.replace(path, rejected / path.name)
        log.error("unreadable outbox record %s moved to %s: %s", path.name, rejected, exc)
        try:
            store.count_error()
        except UNREACHABLE:
            pass

    def _fsync_dir(self) -> None:
        """Make the renames durable (a crash right after must not resurrect or lose a file)."""
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
