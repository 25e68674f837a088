"""The validator's settings: flags (``--wallet.name``), environment (``DATACOMP_VALIDATOR_*``).

The secret seeds every eval set, so anyone who knows it can regenerate them and train on the
test. On a public network (``finney``, ``test``, or any ``ws://``/``wss://`` endpoint: every
network but the embedded chain and the SDK's ``local`` node) the validator refuses to start
without an explicit secret of at least ``MIN_SECRET_BITS`` (``DATACOMP_VALIDATOR_SECRET``: the
environment only, never a flag, since a command line is readable by every user); the default is for local networks only, and the local network
generates a fresh one per run (``localnet/network.py``).
"""

from __future__ import annotations

import json
import math
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from protocol.limits import MAX_REQUESTED_SAMPLES
from protocol.neuron_settings import NeuronSettings
from protocol.schemas import Competition
from validator.evalsets.suites import EvalSuite

# The default secret: public (it is in this file), so for local networks only.
LOCAL_DEFAULT_SECRET = "local-validator-secret"

# Networks where a published default secret is harmless: the embedded chain and the SDK's
# local node (both only on this machine).
LOCAL_NETWORKS = frozenset({"local-embedded", "local"})

# Least estimated entropy of a public network's secret: 128 bits, what `openssl rand -hex 16`
# gives, beyond any brute force of the eval seed.
MIN_SECRET_BITS = 128

# A secret with fewer distinct characters than this is a pattern, not random ("aaaa...").
MIN_SECRET_DISTINCT_CHARS = 8

_HEX = frozenset("0123456789abcdefABCDEF")
_BASE64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_")


def secret_bits(secret: str) -> float:
    """Estimated entropy of ``secret``: length x log2 of the smallest alphabet it fits.

    Alphabets: hex 16, base64 64, printable ASCII 95, else 2^16 per character.
    """
    chars = set(secret)
    if len(chars) < MIN_SECRET_DISTINCT_CHARS:
        return 0.0
    if chars <= _HEX:
        alphabet = 16
    elif chars <= _BASE64:
        alphabet = 64
    elif all(" " <= c <= "~" for c in chars):
        alphabet = 95
    else:
        alphabet = 2**16
    return len(secret) * math.log2(alphabet)


class ExecutorKind(StrEnum):
    """Where a round's per-miner model work runs (validator/executor/)."""

    LOCAL = "local"  # in the validator's process, one miner after another (the default)
    RAY = "ray"  # on Ray workers: a local cluster, or one joined with --ray.address


# A Ray job's deadline: a wedged GPU or a deadlocked worker must not hold the round forever. A
# job of the embedded base takes 2.4-3.5 s on one CPU thread (docs/OPERATIONS.md); 30 min
# leaves room for a 7B model's LoRA on a slow GPU.
DEFAULT_JOB_TIMEOUT_S = 1800.0

# One competition's share: a finite number >= 0 (NaN and infinity would poison the weights).
Share = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]


class ValidatorSettings(NeuronSettings):
    """Everything a validator process needs to run rounds."""

    model_config = SettingsConfigDict(env_prefix="DATACOMP_VALIDATOR_", extra="forbid")

    wallet_name: str = Field(
        "validator",
        description="wallet (coldkey) name",
        json_schema_extra={"flag": "--wallet.name"},
    )
    redis_url: str | None = Field(
        None,
        description="Redis for the leaderboard and dedup history (default: embedded)",
        json_schema_extra={"flag": "--redis.url"},
    )
    model: str = Field(
        "tiny",
        description="base model: 'tiny' (embedded, shipped in validator/model/data/), 'tiny-random', or a Hugging Face id/path",
    )
    device: str = Field("cpu", description="torch device: cpu or cuda")
    model_cache: Path = Field(
        Path("~/.cache/datacomp-subnet/models"),
        description="where the embedded base checkpoint is cached",
    )
    secret: SecretStr = Field(
        SecretStr(LOCAL_DEFAULT_SECRET),
        description=(
            "private seed of the eval pool; required on a public network (finney, test, a ws://"
            " endpoint), at least 128 bits, e.g. $(openssl rand -hex 16)"
        ),
        # Whoever reads it can regenerate every eval set: no flag, since a command line is
        # visible to every user of the machine (/proc/<pid>/cmdline).
        json_schema_extra={"env_only": True},
    )
    rounds: int = Field(0, description="rounds to run (0 = forever)")
    round_interval_s: float = Field(60.0, description="least seconds between round starts")
    samples_per_miner: int = Field(
        64, ge=1, le=MAX_REQUESTED_SAMPLES, description="samples asked of each miner per round"
    )
    # EVAL_SIZE in validator/evalsets/cot.py (not imported: this module stays free of torch).
    # At 64 items an honest miner's score varied by CV 0.19 over rounds, at 256 by 0.17, and
    # two validators' ladders agreed more; 6.5 s a miner on CPU with the tiny base.
    eval_items: int = Field(256, ge=8, description="held-out items per round")
    eval_suite: EvalSuite = Field(
        EvalSuite.REGISTRY,
        description=(
            "where eval items come from: 'registry' (the subnet's task families, the default) or"
            " 'reasoning-gym' (six reasoning-gym datasets, needs pip install -e '.[gym]'); meant"
            " for GPU nodes with a real model (--model <HF id> --device cuda): the embedded tiny"
            " base is trained only on the registry's families"
        ),
        json_schema_extra={"flag": "--eval.suite"},
    )
    pull_deadline_s: float = Field(12.0, description="overall deadline for one miner's exchange")
    executor: ExecutorKind = Field(
        ExecutorKind.LOCAL,
        description="where each miner's train + measure runs: 'local' (this process) or 'ray'",
    )
    executor_threads: int | None = Field(
        None,
        ge=1,
        description=(
            "torch threads per training job (default: torch's own; ray: 1 unless set). The"
            " numbers depend on it, so the round record keeps it"
        ),
        json_schema_extra={"flag": "--executor.threads"},
    )
    executor_adapters_per_pass: int = Field(
        1,
        ge=1,
        le=64,
        description=(
            "local executor: miners' adapters evaluated together in one pass (same numbers;"
            " pays on a GPU, not on a CPU)"
        ),
        json_schema_extra={"flag": "--executor.adapters-per-pass"},
    )
    ray_address: str | None = Field(
        None,
        description=(
            "Ray cluster to join: 'auto' or ray://host:port (default: start a local cluster of"
            " --ray.workers workers). Keep a cluster off public networks: it runs what it is sent"
        ),
        json_schema_extra={"flag": "--ray.address"},
    )
    ray_workers: int = Field(
        2,
        ge=1,
        description="Ray workers (each loads the base once)",
        json_schema_extra={"flag": "--ray.workers"},
    )
    ray_job_timeout_s: float = Field(
        DEFAULT_JOB_TIMEOUT_S,
        gt=0,
        description="a Ray job past this is taken back and retried on another worker",
        json_schema_extra={"flag": "--ray.job-timeout-s"},
    )
    ray_gpus_per_job: float = Field(
        0.0,
        ge=0.0,
        description="GPUs per Ray worker: 1 for a GPU each, a fraction to pack small models",
        json_schema_extra={"flag": "--ray.gpus-per-job"},
    )
    run_dir: Path = Field(Path("runs"), description="where round directories are written")
    state_path: Path = Field(
        Path("runs/validator-state.json"), description="EMA state (survives restarts)"
    )
    outbox_dir: Path = Field(Path("runs/outbox"), description="round records waiting for Redis")
    serve_api: bool = Field(False, description="also serve the leaderboard API and web page")
    api_host: str = Field(
        "127.0.0.1", description="API bind address", json_schema_extra={"flag": "--api.host"}
    )
    api_port: int = Field(8000, description="API port", json_schema_extra={"flag": "--api.port"})
    progress: bool = Field(True, description="show progress bars")
    # CoT is the subnet's main product; preference pairs are the second competition. 0.7/0.3
    # keeps most emission on CoT while paying enough for safety data to attract miners.
    # A share of 0, or a competition left out, switches it off: no pull, no training, no eval,
    # and the round record lists it as skipped (validator/round.py).
    shares: dict[str, Share] = Field(
        {"cot_sft": 0.7, "preference": 0.3},
        description=(
            "weight share per competition, e.g. '{\"cot_sft\": 1.0}' (JSON); a share of 0, or a"
            " competition left out, switches that competition off"
        ),
        json_schema_extra={"flag": "--competition.shares"},
    )
    preference_judge_endpoint: str | None = Field(
        None,
        description=(
            "OpenAI-compatible base URL of a refusal-judge model, e.g. http://vllm:8000/v1"
            " (default: none, the deterministic rule judge of scoring/refusal.py)"
        ),
        json_schema_extra={"flag": "--preference.judge_endpoint"},
    )
    preference_judge_model: str | None = Field(
        None,
        description="model name at --preference.judge_endpoint (required with it)",
        json_schema_extra={"flag": "--preference.judge_model"},
    )
    preference_judge_fallback: bool = Field(
        False,
        description=(
            "judge with the rule judge when the model judge fails (the verdict's reason says so);"
            " off: a judge failure fails the round, so no round mixes verdict sources silently"
        ),
        json_schema_extra={"flag": "--preference.judge_fallback"},
    )
    # Environment only (no flag: a command line is visible to every user of the machine).
    preference_judge_api_key: SecretStr | None = Field(
        None,
        description="API key of the judge endpoint",
        json_schema_extra={"env_only": True},
    )

    @field_validator("shares", mode="before")
    @classmethod
    def _from_json(cls, value: object) -> object:
        """``--competition.shares '{"cot_sft": 1}'`` arrives as a string."""
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"shares must be a JSON object: {exc.msg}") from None
        return value

    @field_validator("shares")
    @classmethod
    def _known_competitions(cls, value: dict[str, float]) -> dict[str, float]:
        known = {c.value for c in Competition}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown competition(s) {unknown}; known: {sorted(known)}")
        if not any(v > 0 for v in value.values()):
            raise ValueError("every competition is switched off: give at least one a share > 0")
        return value

    @field_validator("preference_judge_endpoint")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"not an http(s) URL: {value!r}")
        return value

    @model_validator(mode="after")
    def _judge_needs_model(self) -> ValidatorSettings:
        if self.preference_judge_endpoint and not self.preference_judge_model:
            raise ValueError("--preference.judge_endpoint needs --preference.judge_model")
        return self

    @model_validator(mode="after")
    def _public_network_needs_a_secret(self) -> ValidatorSettings:
        if self.network in LOCAL_NETWORKS:
            return self
        value = self.secret.get_secret_value()
        how = "set DATACOMP_VALIDATOR_SECRET, e.g. to $(openssl rand -hex 16)"
        if value == LOCAL_DEFAULT_SECRET:
            raise ValueError(
                f"network {self.network!r} is public: the default secret is published, so anyone"
                f" could regenerate the eval sets; {how}"
            )
        bits = secret_bits(value)
        if bits < MIN_SECRET_BITS:
            raise ValueError(
                f"network {self.network!r} is public: the secret has ~{bits:.0f} bits, fewer than"
                f" {MIN_SECRET_BITS}; {how}"
            )
        return self

    def active_shares(self) -> dict[Competition, float]:
        """The competitions that run (share > 0) and their shares."""
        return {Competition(c): v for c, v in self.shares.items() if v > 0}
