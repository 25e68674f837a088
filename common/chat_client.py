"""A minimal OpenAI-compatible chat-completions client: timeouts, bounded retries, clear errors.

Used by the eval-set generator (paraphrases), the model judge and the miner's teacher source;
it lives in ``common``, which imports nothing from the project's other packages, so every
package may use it. Any server that speaks ``POST {base_url}/chat/completions`` and answers
``choices[0].message.content`` works (vLLM, hosted APIs). Transient failures (connection
errors, timeouts, 429, 5xx) are retried with exponential backoff; anything else, or a
transient failure that outlasts the retries, raises ``EndpointError`` naming the URL and the
cause. The API key is read from an environment variable whose *name* is configured, so keys
never appear on a command line.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import SecretStr

# One short completion (a paraphrase, a one-word verdict); slower than this is treated as down.
DEFAULT_TIMEOUT_S = 30.0
# Three retries ride out a restart or a brief rate limit without stalling a run for minutes.
DEFAULT_RETRIES = 3
# Backoff 0.5, 1, 2 s: about 3.5 s of waiting before giving up on one request.
BACKOFF_BASE_S = 0.5
# Statuses worth retrying: rate limited, or the server's own (possibly passing) failure.
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class EndpointError(RuntimeError):
    """The endpoint could not give a completion; the message says which URL and why."""


def api_key_from_env(var: str | None) -> SecretStr | None:
    """The key in environment variable ``var``; None when no variable is named.

    Raises EndpointError when ``var`` is named but unset or empty (a typo would otherwise
    run unauthenticated and fail later with a less clear 401).
    """
    if not var:
        return None
    value = os.environ.get(var, "")
    if not value:
        raise EndpointError(f"environment variable {var} (the API key) is not set")
    return SecretStr(value)


class ChatEndpoint:
    """``complete(messages) -> str`` against one model on one OpenAI-compatible server."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: SecretStr | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retries: int = DEFAULT_RETRIES,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._api_key = api_key
        self._retries = retries
        self._client = client or httpx.Client(timeout=timeout_s)
        self._sleep = sleep

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()

    def __enter__(self) -> ChatEndpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _post(self, body: dict[str, Any]) -> httpx.Response:
        headers = {}
        if self._api_key is not None:
            headers["Authorization"] = f"Bearer {self._api_key.get_secret_value()}"
        return self._client.post(f"{self.base_url}/chat/completions", headers=headers, json=body)

    def complete(
        self,
        messages: list[dict[str, str]],
        max_tokens: int = 128,
        temperature: float = 0.0,
        seed: int | None = None,
    ) -> str:
        """The assistant's reply text. Raises EndpointError (after retries if transient)."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        if seed is not None:
            body["seed"] = seed
        cause = ""
        for attempt in range(self._retries + 1):
            if attempt:
                self._sleep(BACKOFF_BASE_S * 2 ** (attempt - 1))
            try:
                response = self._post(body)
            except httpx.TransportError as exc:
                cause = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code in _RETRY_STATUSES:
                cause = f"HTTP {response.status_code}"
                continue
            if response.status_code != 200:
                raise EndpointError(
                    f"{self.base_url}: HTTP {response.status_code}: {response.text[:200]}"
                )
            try:
                return str(response.json()["choices"][0]["message"]["content"])
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                raise EndpointError(
                    f"{self.base_url}: not a chat-completions reply ({exc!r}): "
                    f"{response.text[:200]}"
                ) from exc
        raise EndpointError(f"{self.base_url}: gave up after {self._retries + 1} tries ({cause})")
