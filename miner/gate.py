"""Authorisation: may an authenticated caller (a validator with permit and stake) be served.

Authentication (btauth/1) says *who* signed; this says whether the miner should answer them.
Checked against a cached metagraph: refreshed every ``refresh_s``, and at most once per
``miss_refresh_s`` on an unknown hotkey (a newly registered validator is served promptly,
while a flood of unknown hotkeys cannot force a chain read per request).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from protocol.chain.base import Neuron

# A metagraph changes at most once per block (12 s on finney); a minute of staleness costs a
# new validator at most one missed round while keeping chain reads rare.
DEFAULT_REFRESH_S = 60.0

# On an unknown caller, re-read at most this often: bounds chain load under a flood.
DEFAULT_MISS_REFRESH_S = 5.0


@dataclass(frozen=True)
class Denied:
    """Why a caller may not be served (the HTTP 403 reason)."""

    reason: str


class ValidatorGate:
    """Decides whether a hotkey may request data."""

    def __init__(
        self,
        metagraph: Callable[[], list[Neuron]],
        min_stake: float,
        refresh_s: float = DEFAULT_REFRESH_S,
        miss_refresh_s: float = DEFAULT_MISS_REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._read = metagraph
        self._min_stake = min_stake
        self._refresh_s = refresh_s
        self._miss_refresh_s = miss_refresh_s
        self._clock = clock
        self._lock = threading.Lock()
        self._by_hotkey: dict[str, Neuron] = {}
        self._read_at = float("-inf")

    def _refresh(self) -> None:
        self._by_hotkey = {n.hotkey: n for n in self._read()}
        self._read_at = self._clock()

    def check(self, hotkey: str) -> Denied | None:
        """None if ``hotkey`` may be served, else the reason it may not."""
        with self._lock:
            age = self._clock() - self._read_at
            if age >= self._refresh_s or (
                hotkey not in self._by_hotkey and age >= self._miss_refresh_s
            ):
                self._refresh()
            neuron = self._by_hotkey.get(hotkey)
        if neuron is None:
            return Denied("caller is not registered on this subnet")
        if not neuron.validator_permit:
            return Denied("caller has no validator permit")
        if neuron.stake < self._min_stake:
            return Denied(f"caller stake {neuron.stake:g} is below the minimum {self._min_stake:g}")
        return None
