"""The Ray executor: a round's jobs spread over Ray workers, each holding the base once.

``--executor ray`` (README, docs/OPERATIONS.md). Each worker is a Ray actor that loads the base
model once (``load_base(name, device)``: the embedded base, a path, or a Hugging Face id in the
worker's own cache) and then runs jobs: one miner's train + measure under the round's recipe.
What crosses the wire is plain data: the recipe, the eval items and guard texts (put in the
object store once per round), the miner's samples; back come the measured arrays and losses.

Scheduling: every idle worker takes the next job; the driver waits for whichever finishes.
A job whose worker dies (the actor is restarted once, ``max_restarts``) or raises is put back
in the queue for another worker; after ``MAX_ATTEMPTS`` it is a ``JobFailure`` for its miner,
never the round's failure. Results are keyed by job key, so a job is counted once.

Resources per worker: ``threads`` CPUs (torch's intra-op threads, pinned in the worker so the
numbers equal the local executor's at the same count) and ``gpus`` GPUs (a fraction packs
several small models on one GPU). ``address``: None starts a local cluster of ``workers``
actors on this machine; "auto" or "ray://host:port" joins an existing one (never expose it:
a Ray cluster runs whatever its clients send).
"""

from __future__ import annotations

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


class ModelWorker:
    """A Ray actor's body: the base model, loaded once; runs one job at a time."""

    def __init__(self, base: BaseModelRef, threads: int) -> None:
        torch.set_num_threads(threads)
        self.model, self.tokenizer = load_base(base.name, base.device, cache_dir=base.cache_dir)

    def run(self, shared: tuple[Any, tuple[Any, ...], tuple[str, ...]], job: TrainJob) -> Measured:
        """Train and measure ``job`` under the round's recipe, items and guard texts."""
        recipe, items, general_texts = shared
        return train_and_measure(
            self.model, self.tokenizer, recipe, job.samples, items, general_texts
        )


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
        queue: deque[tuple[TrainJob, int]] = deque()
        seen: set[str] = set()
        for job in work.jobs:
            if job.key not in seen:  # the same job twice: run and counted once
                seen.add(job.key)
                queue.append((job, 1))
        outcomes: dict[str, JobOutcome] = {}
        idle: list[Any] = list(self._workers)
        running: dict[Any, tuple[TrainJob, int, Any]] = {}
        while queue or running:
            while queue and idle:
                job, attempt = queue.popleft()
                worker = idle.pop(0)
                running[worker.run.remote(shared, job)] = (job, attempt, worker)
            (done,), _ = ray.wait(list(running), num_returns=1)
            job, attempt, worker = running.pop(done)
            idle.append(worker)  # a dead actor restarts (max_restarts): it takes work again
            try:
                outcomes[job.key] = ray.get(done)
            except (ray.exceptions.RayError, Exception) as exc:
                if attempt < MAX_ATTEMPTS:
                    queue.append((job, attempt + 1))
                else:
                    outcomes[job.key] = JobFailure(failure_reason(exc), attempt)
        return outcomes

    def close(self) -> None:
        """Stop the workers, and the local cluster if this executor started it."""
        for worker in self._workers:
            ray.kill(worker)
        self._workers = []
        if self._started:
            ray.shutdown()
