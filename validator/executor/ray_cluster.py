"""The Ray executor: a round's jobs spread over Ray workers, each holding the base once.

``--executor ray`` (README, docs/OPERATIONS.md). Each worker is a Ray actor that loads the base
model once (``load_base(name, device)``: the embedded base, a path, or a Hugging Face id in the
worker's own cache) and then runs jobs: one miner's train + measure under the round's recipe.
What crosses the wire is plain data: the recipe, the eval items and guard texts (put in the
object store once per round), the miner's samples; back come the measured arrays and losses.

Scheduling: every idle worker takes the next job; the driver waits for whichever finishes.
A job whose worker dies (the actor is restarted once, ``max_restarts``) or raises is put back
in the queue for a *different* worker; the failed worker takes work again once it answers a
ping (restarted), or leaves the pool (out of restarts). After ``MAX_ATTEMPTS`` a job is a
``JobFailure`` for its miner, never the round's failure. Results are keyed by job key, so a
job is counted once.

Resources per worker: ``threads`` CPUs (torch's intra-op threads, pinned in the worker so the
numbers equal the local executor's at the same count) and ``gpus`` GPUs (a fraction packs
several small models on one GPU). ``address``: None starts a local cluster of ``workers``
actors on this machine; "auto" or "ray://host:port" joins an existing one (never expose it:
a Ray cluster runs whatever its clients send).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import ray
import torch

from validator.executor.jobs import (
    MAX_ATTEMPTS,
    JobFailure,
    JobOutcome,
    Measured,
    RoundWork,
    TrainJob,
    failure_reason,
    train_and_measure,
)
from validator.model.base import load_base


@dataclass(frozen=True)
class BaseModelRef:
    """What a worker loads: ``load_base(name, device, cache_dir=cache_dir)``."""

    name: str
    device: str = "cpu"
    cache_dir: str | None = None


@dataclass(frozen=True)
class _Attempt:
    """A job's ``number``-th try; ``failed_on`` is the worker its last try failed on."""

    job: TrainJob
    number: int
    failed_on: Any


# How often to ask a restarting worker whether it is back (a tiny base loads in ~1 s; a 7B
# model in tens of seconds): often enough not to idle, rarely enough not to spin.
RESTART_POLL_S = 0.5


class ModelWorker:
    """A Ray actor's body: the base model, loaded once; runs one job at a time."""

    def __init__(self, base: BaseModelRef, threads: int) -> None:
        torch.set_num_threads(threads)
        self.model, self.tokenizer = load_base(base.name, base.device, cache_dir=base.cache_dir)

    def ping(self) -> bool:
        """Whether the worker is up (its base loaded): the driver's check after a failure."""
        return True

    def run(self, shared: tuple[Any, tuple[Any, ...], tuple[str, ...]], job: TrainJob) -> Measured:
        """Train and measure ``job`` under the round's recipe, items and guard texts."""
        recipe, items, general_texts = shared
        return train_and_measure(
            self.model, self.tokenizer, recipe, job.samples, items, general_texts
        )


def _reason(exc: BaseException) -> str:
    """A failure's reason: the job's own exception when Ray wraps one (``RayTaskError``)."""
    cause = getattr(exc, "cause", None) if isinstance(exc, ray.exceptions.RayTaskError) else None
    return failure_reason(cause if isinstance(cause, BaseException) else exc)


class RayExecutor:
    """Runs a round's jobs on Ray actors (module docstring)."""

    def __init__(
        self,
        base: BaseModelRef,
        *,
        workers: int = 2,
        threads: int = 1,
        gpus: float = 0.0,
        address: str | None = None,
        worker_cls: type[ModelWorker] = ModelWorker,
    ) -> None:
        if workers < 1 or threads < 1:
            raise ValueError(f"workers and threads must be >= 1, got {workers}, {threads}")
        self.threads: int | None = threads
        self._started = not ray.is_initialized()
        if self._started:
            if address is None:
                ray.init(num_cpus=workers * threads, include_dashboard=False)
            else:
                ray.init(address=address)
        actor = ray.remote(worker_cls).options(
            num_cpus=threads, num_gpus=gpus, max_restarts=1, max_task_retries=0
        )
        # Ray's handle types do not follow the class they wrap: the actors are typed Any.
        self._workers: list[Any] = [actor.remote(base, threads) for _ in range(workers)]

    def run(self, work: RoundWork) -> dict[str, JobOutcome]:
        """Each job's outcome, by job key: as workers free up, the next job goes to one."""
        shared = ray.put((work.recipe, work.items, work.general_texts))
        queue: deque[_Attempt] = deque()
        for job in work.jobs:
            if all(job.key != queued.job.key for queued in queue):  # a repeated job runs once
                queue.append(_Attempt(job, 1, None))
        outcomes: dict[str, JobOutcome] = {}
        idle: list[Any] = list(self._workers)
        running: dict[Any, tuple[_Attempt, Any]] = {}  # task ref -> (attempt, worker)
        recovering: dict[Any, Any] = {}  # ping ref -> a worker whose last task failed
        while queue or running:
            self._dispatch(queue, idle, running, shared)
            if not running and not recovering:  # every worker is gone: nothing can run
                for attempt in queue:
                    outcomes[attempt.job.key] = JobFailure("no Ray worker is left", attempt.number)
                break
            (done,), _ = ray.wait([*running, *recovering], num_returns=1)
            if done in recovering:
                self._recovered(done, recovering.pop(done), idle, recovering)
                continue
            attempt, worker = running.pop(done)
            try:
                outcomes[attempt.job.key] = ray.get(done)
                idle.append(worker)
            except Exception as exc:  # a dead worker (RayActorError) or the job's own error
                recovering[worker.ping.remote()] = worker  # back to work once it answers
                if attempt.number < MAX_ATTEMPTS:
                    queue.append(_Attempt(attempt.job, attempt.number + 1, worker))
                else:
                    outcomes[attempt.job.key] = JobFailure(_reason(exc), attempt.number)
        return outcomes

    def _dispatch(
        self, queue: deque[_Attempt], idle: list[Any], running: dict[Any, Any], shared: Any
    ) -> None:
        """Give queued jobs to idle workers; a retry avoids the worker it failed on."""
        for attempt in list(queue):
            if not idle:
                return
            choices = [w for w in idle if w is not attempt.failed_on] or (
                idle if len(self._workers) == 1 else []
            )
            if not choices:
                continue  # wait for another worker to free up
            worker = choices[0]
            idle.remove(worker)
            queue.remove(attempt)
            running[worker.run.remote(shared, attempt.job)] = (attempt, worker)

    def _recovered(
        self, ping: Any, worker: Any, idle: list[Any], recovering: dict[Any, Any]
    ) -> None:
        """A failed worker's ping came back: idle again, still restarting, or gone for good."""
        try:
            ray.get(ping)
        except ray.exceptions.ActorDiedError:
            self._workers.remove(worker)  # out of restarts: the pool shrinks
            return
        except ray.exceptions.RayError:  # still restarting: ask again shortly
            time.sleep(RESTART_POLL_S)
            recovering[worker.ping.remote()] = worker
            return
        idle.append(worker)

    def close(self) -> None:
        """Stop the workers, and the local cluster if this executor started it."""
        for worker in self._workers:
            ray.kill(worker)
        self._workers = []
        if self._started:
            ray.shutdown()
