"""Fixtures for the model runner: the tiny models, built once per session, no downloads."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from validator.model.base import CACHE_ENV, TINY_RANDOM, load_base, pretrained_tiny_base


@pytest.fixture(scope="session")
def tiny_random() -> tuple[Any, Any]:
    """The embedded architecture at its fixed random init (cheap; mechanics only)."""
    return load_base(TINY_RANDOM, "cpu")


@pytest.fixture(scope="session")
def pretrained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    """The default embedded base, pretrained once per session into a temporary cache.

    Pretraining is ~45 s of a quiet 2-core machine; set ``DATACOMP_MODEL_CACHE`` to a
    persistent folder (CI cache) to pay it once per recipe rather than once per session.
    """
    cache = os.environ.get(CACHE_ENV) or tmp_path_factory.mktemp("model-cache")
    yield pretrained_tiny_base(cache)
