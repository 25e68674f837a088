"""``POST /v1/attribution``'s model: loaded on first use, one request at a time.

The route runs a model (``validator.attribution.methods``), given to ``create_app`` as a
``ModelProvider`` that loads on first use (default: the embedded tiny base), so the API starts
as fast as without it and its other routes never wait for a model. No model, or one that
fails to load, is a 503 with the reason.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError

from validator.api.schemas import (
    ATTRIBUTION_MAX_TOKENS,
    MAX_REASON_CHARS,
    OCCLUSION_BUDGET,
    AttributionRequest,
    AttributionResult,
    TokenScore,
)


class ModelProvider:
    """A ``(model, tokenizer)`` pair loaded on first use, then kept; ``lock`` serialises use.

    One attribution at a time: concurrent forward passes of one CPU model only thrash. A failed
    load is not cached: the next request tries again.
    """

    def __init__(self, name: str, load: Callable[[], tuple[Any, Any]]) -> None:
        self.name = name
        self._load = load
        self._pair: tuple[Any, Any] | None = None
        self._load_lock = threading.Lock()
        self.lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory."""
        return self._pair is not None

    def get(self) -> tuple[Any, Any]:
        """The pair, loading it on the first call (concurrent first calls load once)."""
        with self._load_lock:
            if self._pair is None:
                self._pair = self._load()
            return self._pair


def base_model(name: str = "tiny", device: str = "cpu") -> ModelProvider:
    """A provider of ``load_base(name, device)``; torch is imported on first use, not here."""

    def load() -> tuple[Any, Any]:
        from validator.model.base import load_base

        return load_base(name, device)

    return ModelProvider(name, load)


# The default: one process-wide tiny base, loaded by the first attribution request (~1 s: the
# checkpoint ships in validator/model/data/).
DEFAULT_MODEL = base_model()


def attribute_request(
    provider: ModelProvider | None, body: AttributionRequest
) -> AttributionResult:
    """Run the attribution; 503 for model trouble, 422 for a prompt the tokenizer overfills."""
    if provider is None:
        raise HTTPException(503, "no model is configured for attribution on this API")
    try:
        model, tokenizer = provider.get()
    except Exception as exc:  # any load failure (missing files, no network, OOM) is a 503
        reason = f"model {provider.name!r} unavailable: {type(exc).__name__}: {exc}"
        raise HTTPException(503, reason[:MAX_REASON_CHARS]) from exc
    from validator.attribution.methods import attribute  # torch: first use only

    with provider.lock:
        try:
            result = attribute(
                model,
                tokenizer,
                body.prompt,
                body.completion,
                body.method,
                max_seq_len=ATTRIBUTION_MAX_TOKENS,
                occlusion_budget=OCCLUSION_BUDGET,
            )
        except ValueError as exc:  # a tokenizer with more tokens than bytes can overfill
            error = {"type": "value_error", "loc": ("body", "prompt"), "msg": str(exc)}
            raise RequestValidationError([error]) from exc
        except FloatingPointError as exc:
            raise HTTPException(503, f"model {provider.name!r}: {exc}") from exc
    return AttributionResult(
        model=provider.name,
        method=result.method,
        tokens=[
            TokenScore(token=t, score=s, special=sp)
            for t, s, sp in zip(result.tokens, result.scores, result.special, strict=True)
        ],
        separator_score=result.separator_score,
        completion_logprob=result.completion_logprob,
        completion_tokens=result.completion_tokens,
        truncated=result.truncated,
    )
