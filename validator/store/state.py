"""The validator's durable state: EMA scores per competition and uid, and the last weight set.

Saved as JSON through a temp file and ``os.replace`` — a crash mid-write leaves the previous
state whole, never a truncated file (the subnet template writes straight over its state).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from common.atomic_file import write_text_atomic
from scoring.weights import EmaEntry


@dataclass
class ValidatorState:
    """Everything a validator must remember between rounds and restarts."""

    ema: dict[str, dict[int, EmaEntry]] = field(default_factory=dict)  # competition -> uid -> score
    last_weights_epoch: int = -1  # epoch id of the last successful weight set
    rounds_done: int = 0

    def save(self, path: Path) -> None:
        """Atomically replace ``path`` with this state."""
        data = {
            "ema": {c: {str(u): asdict(s) for u, s in m.items()} for c, m in self.ema.items()},
            "last_weights_epoch": self.last_weights_epoch,
            "rounds_done": self.rounds_done,
        }
        write_text_atomic(path, json.dumps(data, indent=1, sort_keys=True))

    @classmethod
    def load(cls, path: Path) -> ValidatorState:
        """The saved state, or a fresh one if none was saved."""
        if not path.exists():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        ema = {
            c: {int(u): EmaEntry(**s) for u, s in m.items()} for c, m in data.get("ema", {}).items()
        }
        return cls(ema, int(data.get("last_weights_epoch", -1)), int(data.get("rounds_done", 0)))
