"""The miner's own ledger: what it served, to whom, with hashes — so it can prove what it sent.

An append-only JSONL file, one line per served response, flushed and fsynced before the
response leaves: a line in the ledger means those exact bytes were signed and served.
Payloads are not stored (the source can regenerate them); their hashes are.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class LedgerEntry:
    """One served response."""

    served_at: float  # unix seconds
    validator_hotkey: str
    request_nonce_ns: int
    round_id: str
    competition: str
    num_samples: int
    samples_sha256: str
    manifest_root: str  # the committed manifest the samples were proved against
    body_sha256: str
    sample_sha256: list[str]


class Ledger:
    """Append-only JSONL ledger, safe across threads of one process."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def append(self, entry: LedgerEntry) -> None:
        """Write one entry durably (flush + fsync) before returning."""
        line = json.dumps(asdict(entry), separators=(",", ":")) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def entries(self) -> list[LedgerEntry]:
        """Every entry so far, oldest first."""
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as handle:
            return [LedgerEntry(**json.loads(line)) for line in handle if line.strip()]

    @staticmethod
    def now() -> float:
        """The wall clock used for ``served_at``."""
        return time.time()
