"""The Redis key layout, in one place. Every key starts with the network prefix.

``{prefix}`` is ``datacomp:{network}:{netuid}`` so two local networks (or a local one and a
test run) can share one server without seeing each other's data.

| key | type | written by | holds |
|---|---|---|---|
| ``{prefix}:nonce:{hotkey}:{nonce}`` | string, EX | miner | a btauth/1 nonce seen (replay guard) |
| ``{prefix}:dedup:history`` | hash | validator | MinHash history: ``params`` fingerprint + ``sig:{hotkey}/{round}/{i}`` rows |
| ``{prefix}:lb:{competition}:scores`` | zset | validator | uid -> current EMA score |
| ``{prefix}:lb:{competition}:miner:{uid}`` | hash | validator | hotkey, last round breakdown (JSON) |
| ``{prefix}:lb:{competition}:history:{uid}`` | zset | validator | JSON points (round, block, score, ema) by round start time, capped (``validator.store.leaderboard.HISTORY_LEN``) |
| ``{prefix}:lb:competitions`` | set | validator | competitions that have a leaderboard |
| ``{prefix}:rounds`` | zset | validator | round id -> round start time |
| ``{prefix}:round:{round_id}`` | string | validator | the round record (JSON) |
| ``{prefix}:applied:{round_id}`` | string | validator | marker: this round was applied (idempotency) |
| ``{prefix}:metrics`` | hash | validator | counters for /metrics |
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    """Key builders for one network; construct with ``Keys.for_network``."""

    prefix: str

    @classmethod
    def for_network(cls, network: str, netuid: int) -> Keys:
        """Keys under ``datacomp:{network}:{netuid}``."""
        return cls(f"datacomp:{network}:{netuid}")

    def nonce(self, hotkey: str, nonce_ns: int) -> str:
        """A seen btauth/1 nonce."""
        return f"{self.prefix}:nonce:{hotkey}:{nonce_ns}"

    def dedup_history(self) -> str:
        """The cross-round dedup history (signature rows + parameter fingerprint)."""
        return f"{self.prefix}:dedup:history"

    def lb_scores(self, competition: str) -> str:
        """Sorted set of current scores."""
        return f"{self.prefix}:lb:{competition}:scores"

    def lb_miner(self, competition: str, uid: int) -> str:
        """One miner's detail hash."""
        return f"{self.prefix}:lb:{competition}:miner:{uid}"

    def lb_history(self, competition: str, uid: int) -> str:
        """One miner's score history (zset of JSON points by round start time)."""
        return f"{self.prefix}:lb:{competition}:history:{uid}"

    def lb_competitions(self) -> str:
        """Set of competitions with a leaderboard."""
        return f"{self.prefix}:lb:competitions"

    def rounds(self) -> str:
        """Sorted set of round ids by start time."""
        return f"{self.prefix}:rounds"

    def round(self, round_id: str) -> str:
        """One round's record."""
        return f"{self.prefix}:round:{round_id}"

    def applied(self, round_id: str) -> str:
        """Idempotency marker for an applied round."""
        return f"{self.prefix}:applied:{round_id}"

    def metrics(self) -> str:
        """Counters for the Prometheus endpoint."""
        return f"{self.prefix}:metrics"

    def every_key(self) -> str:
        """A SCAN ``MATCH`` pattern for every key of this network (glob characters escaped)."""
        escaped = re.sub(r"([*?\[\]\\])", r"\\\1", self.prefix)
        return f"{escaped}:*"
