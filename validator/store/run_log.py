"""The round directory: what happened in one round, written for audits and plots.

``runs/<round_id>/``:
- ``requests.jsonl``: one line per miner asked (uid, hotkey, endpoint, request, nonce);
- ``responses.jsonl``: status, error, sizes and hashes — never payload dumps or secrets;
- ``signed/<competition>/<uid>.json``: each verified response as the miner signed it (body,
  signature headers, the request it answers) and the hashes of the samples screening kept:
  what ``validator/audit.py`` re-scores. It is the miners' data: the validator keeps it and
  hands a miner its own file; it is not published with the round (copies would be free);
- ``scores.jsonl``: the per-miner score breakdown (``MinerRoundRecord``), train losses included;
- ``summary.json``: the whole ``RoundRecord``;
- ``eval_set.json``: the round's private eval set, written only once the round is over.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from common.atomic_file import write_text_atomic
from validator.store.records import RoundRecord


class RoundDir:
    """Writer for one round's directory."""

    def __init__(self, root: Path, round_id: str):
        self.path = root / round_id
        self.path.mkdir(parents=True, exist_ok=True)

    def _append(self, name: str, record: dict[str, Any]) -> None:
        with (self.path / name).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")

    def request(self, record: dict[str, Any]) -> None:
        """Log one request sent."""
        self._append("requests.jsonl", record)

    def response(self, record: dict[str, Any]) -> None:
        """Log one response received (hashes and sizes only)."""
        self._append("responses.jsonl", record)

    def signed_response(self, competition: str, uid: int, dump: dict[str, Any]) -> None:
        """Keep one miner's signed response and what screening kept of it."""
        folder = self.path / "signed" / competition
        folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(folder / f"{uid}.json", json.dumps(dump, sort_keys=True))

    def finish(self, record: RoundRecord, eval_set: dict[str, Any]) -> None:
        """Write the score breakdown, the summary and, now the round is over, the eval set."""
        for miner in record.miners:
            self._append("scores.jsonl", miner.to_dict())
        write_text_atomic(
            self.path / "summary.json", json.dumps(record.to_dict(), indent=1, sort_keys=True)
        )
        write_text_atomic(self.path / "eval_set.json", json.dumps(eval_set, indent=1))
