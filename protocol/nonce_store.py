"""A btauth/1 nonce store shared by every process: one Redis key per (hotkey, nonce).

The SDK's default store is per process, so two uvicorn workers would each accept the same
replayed request once. ``SET key 1 NX EX retention`` makes the check-and-record a single
atomic server-side step: exactly one of any number of concurrent identical requests wins.
"""

from __future__ import annotations

import math

import redis

from protocol.keys import Keys
from protocol.limits import AUTH_ALLOWED_SKEW_S, AUTH_MAX_AGE_S

# Entries must outlive the freshness window (older nonces are refused as stale before the
# store is asked); one extra second covers rounding of the expiry to whole seconds.
DEFAULT_RETENTION_S = AUTH_MAX_AGE_S + AUTH_ALLOWED_SKEW_S + 1.0


class RedisNonceStore:
    """``bittensor.http_auth.NonceStore`` on Redis (``SET NX EX``)."""

    def __init__(self, client: redis.Redis, keys: Keys, retention: float = DEFAULT_RETENTION_S):
        if retention < AUTH_MAX_AGE_S + AUTH_ALLOWED_SKEW_S:
            raise ValueError("retention must cover the freshness window (max_age + skew)")
        self._client = client
        self._keys = keys
        self.retention = retention

    def check_and_store(self, hotkey_ss58: str, nonce_ns: int) -> bool:
        """True the first time (hotkey, nonce) is seen anywhere, False after."""
        created = self._client.set(
            self._keys.nonce(hotkey_ss58, nonce_ns), b"1", nx=True, ex=math.ceil(self.retention)
        )
        return bool(created)
