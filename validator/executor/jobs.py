"""One miner's model work as a job: plain data in, measured arrays out, keyed for idempotency.

A round's model work is one ``RoundWork``: the fixed recipe, the round's eval items and guard
texts (shared by every job), and one ``TrainJob`` per miner with accepted samples. Running a
job trains a fresh LoRA adapter on the job's samples and evaluates it (``train_and_measure``);
the base model is the executor's (``validator/executor/local.py`` holds it in process,
``validator/executor/ray.py`` loads it once per worker). Scoring stays with the stage: it is
cheap, pure and needs the base's numbers.

A job's ``key`` is sha256 over (round, hotkey, the samples' manifest sha256, recipe version,
eval version): the same data under the same recipe and eval in the same round is the same
job, so a retried job's result is counted once, whichever worker returns it first.

``MAX_ATTEMPTS``: a job that fails twice (an exception, a dead worker) gives its miner a zero
with the reason (``JobFailure``); it never fails the round.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from protocol.schemas import CotSample, samples_sha256
from tasks.registry import TaskItem
from validator.model.evaluate import EvalResult, evaluate
from validator.model.recipe import TrainRecipe, format_pair
from validator.model.train import lora_adapter

# One retry rides out a worker lost to a node failure or an OOM kill; a job that fails twice is
# more likely the data's doing (or a broken node), and the round must go on without it.
MAX_ATTEMPTS = 2


@dataclass(frozen=True)
class TrainJob:
    """One miner's accepted samples, to be trained on and measured."""

    key: str  # ``job_key``: the idempotency key
    uid: int
    samples: tuple[CotSample, ...]


@dataclass(frozen=True)
class RoundWork:
    """A round's model work: what every job shares, and the jobs."""

    recipe: TrainRecipe
    items: tuple[TaskItem, ...]
    general_texts: tuple[str, ...]
    jobs: tuple[TrainJob, ...]

    def unique_jobs(self) -> list[TrainJob]:
        """The jobs in order, a repeated key once: every executor runs and counts a job once."""
        return list({job.key: job for job in self.jobs}.values())


@dataclass
class Measured:
    """The tuned model's eval on the round's items, its training losses and step timings."""

    tuned: EvalResult
    train_losses: list[float]
    timings_s: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class JobFailure:
    """A job that failed ``attempts`` times, and the last failure's reason."""

    reason: str
    attempts: int


JobOutcome = Measured | JobFailure


def job_key(
    round_id: str,
    hotkey: str,
    samples: Sequence[CotSample],
    recipe_version: str,
    eval_version: str,
) -> str:
    """The idempotency key of one miner's job (module docstring)."""
    fields = {
        "round": round_id,
        "hotkey": hotkey,
        "data": samples_sha256(list(samples)),
        "recipe": recipe_version,
        "eval": eval_version,
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def train_and_measure(
    model: Any,
    tokenizer: Any,
    recipe: TrainRecipe,
    samples: Sequence[CotSample],
    items: Sequence[TaskItem],
    general_texts: Sequence[str],
) -> Measured:
    """A fresh LoRA on ``samples`` under ``recipe``, evaluated on ``items``; the base is left as it was."""
    t0 = time.perf_counter()
    pairs = [format_pair(s) for s in samples]
    with lora_adapter(model, tokenizer, pairs, recipe) as trained:
        t1 = time.perf_counter()
        tuned = evaluate(trained.model, tokenizer, items, general_texts)
        t2 = time.perf_counter()
        losses = list(trained.per_step_losses)
    return Measured(tuned, losses, {"train": t1 - t0, "eval": t2 - t1})


def failure_reason(exc: BaseException) -> str:
    """A failure's reason for the miner's record: the exception's type and first line."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


class Executor(Protocol):
    """Runs a round's jobs somewhere and returns each job's outcome by key."""

    threads: int | None  # torch intra-op threads per job (None: the process default)

    def run(self, work: RoundWork) -> dict[str, JobOutcome]:
        """Every job's outcome, keyed by ``TrainJob.key`` (each key exactly once)."""
        ...

    def close(self) -> None:
        """Release what the executor holds (workers, a cluster it started)."""
        ...
