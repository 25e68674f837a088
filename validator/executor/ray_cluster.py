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
job is counted once. A job past ``job_timeout_s`` (``--ray.job-timeout-s``) has its worker
killed (a wedged GPU, a deadlock); the worker restarts and the job is retried elsewhere.

Resources per worker: ``threads`` CPUs (torch's intra-op threads, pinned in the worker so the
numbers equal the local executor's at the same count) and ``gpus`` GPUs (a fraction packs
several small models on one GPU). ``address``: None starts a local cluster of ``workers``
actors on this machine; "auto" or "ray://host:port" joins an existing one (never expose it:
a Ray cluster runs whatever its clients send).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
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


@dataclass
class _Schedule:
    """One ``run``'s bookkeeping: the queue, the workers' states, the outcomes so far."""

    shared: Any  # the object-store ref of (recipe, items, general texts)
    queue: deque[_Attempt] = field(default_factory=deque)
    idle: list[Any] = field(default_factory=list)
    running: dict[Any, tuple[_Attempt, Any]] = field(default_factory=dict)  # ref -> job, worker
    started: dict[Any, float] = field(default_factory=dict)  # ref -> when it was sent
    timed_out: set[Any] = field(default_factory=set)  # refs whose worker was killed for it
    recovering: dict[Any, Any] = field(default_factory=dict)  # ping ref -> a failed worker
    outcomes: dict[str, JobOutcome] = field(default_factory=dict)


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
        job_timeout_s: float | None = None,
        worker_cls: type[ModelWorker] = ModelWorker,
    ) -> None:
        if workers < 1 or threads < 1:
            raise ValueError(f"workers and threads must be >= 1, got {workers}, {threads}")
        self.threads: int | None = threads
        self.job_timeout_s = job_timeout_s
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
        state = _Schedule(ray.put((work.recipe, work.items, work.general_texts)))
        state.queue.extend(_Attempt(job, 1, None) for job in work.unique_jobs())
        state.idle = list(self._workers)
        while state.queue or state.running:
            self._dispatch(state)
            if not state.running and not state.recovering:  # no worker left: nothing can run
                for attempt in state.queue:
                    state.outcomes[attempt.job.key] = JobFailure(
                        "no Ray worker is left", attempt.number
                    )
                break
            waiting = [*state.running, *state.recovering]
            ready, _ = ray.wait(waiting, num_returns=1, timeout=self._poll(state))
            if not ready:  # a job is past its deadline: kill its worker; the job fails next
                self._kill_overdue(state)
            elif ready[0] in state.recovering:
                self._recovered(ready[0], state)
            else:
                self._finished(ready[0], state)
        return state.outcomes

    def _dispatch(self, state: _Schedule) -> None:
        """Give queued jobs to idle workers; a retry avoids the worker it failed on."""
        for attempt in list(state.queue):
            if not state.idle:
                return
            choices = [w for w in state.idle if w is not attempt.failed_on] or (
                state.idle if len(self._workers) == 1 else []
            )
            if not choices:
                continue  # wait for another worker to free up
            worker = choices[0]
            state.idle.remove(worker)
            state.queue.remove(attempt)
            ref = worker.run.remote(state.shared, attempt.job)
            state.running[ref] = (attempt, worker)
            state.started[ref] = time.monotonic()

    def _finished(self, done: Any, state: _Schedule) -> None:
        """A job came back: its outcome, or a retry on another worker, or its failure."""
        attempt, worker = state.running.pop(done)
        state.started.pop(done, None)
        try:
            state.outcomes[attempt.job.key] = ray.get(done)
            state.idle.append(worker)
            return
        except Exception as exc:  # a dead worker (RayActorError) or the job's own error
            late = done in state.timed_out
            reason = f"timed out after {self.job_timeout_s:g} s" if late else _reason(exc)
        state.recovering[worker.ping.remote()] = worker  # back to work once it answers
        if attempt.number < MAX_ATTEMPTS:
            state.queue.append(_Attempt(attempt.job, attempt.number + 1, worker))
        else:
            state.outcomes[attempt.job.key] = JobFailure(reason, attempt.number)

    def _recovered(self, ping: Any, state: _Schedule) -> None:
        """A failed worker's ping came back: idle again, still restarting, or gone for good."""
        worker = state.recovering.pop(ping)
        try:
            ray.get(ping)
        except ray.exceptions.ActorDiedError:
            self._workers.remove(worker)  # out of restarts: the pool shrinks
            return
        except ray.exceptions.RayError:  # still restarting: ask again shortly
            time.sleep(RESTART_POLL_S)
            state.recovering[worker.ping.remote()] = worker
            return
        state.idle.append(worker)

    def _poll(self, state: _Schedule) -> float | None:
        """How long to wait for a result before checking deadlines (None: no deadline)."""
        if self.job_timeout_s is None or not state.started:
            return None
        oldest = min(state.started.values())
        return max(0.0, oldest + self.job_timeout_s - time.monotonic())

    def _kill_overdue(self, state: _Schedule) -> None:
        """Kill the worker of every job past the deadline (it restarts once, ``max_restarts``)."""
        assert self.job_timeout_s is not None
        now = time.monotonic()
        for ref, sent in list(state.started.items()):
            if now - sent >= self.job_timeout_s:
                state.timed_out.add(ref)
                del state.started[ref]
                ray.kill(state.running[ref][1], no_restart=False)

    def close(self) -> None:
        """Stop the workers, and the local cluster if this executor started it."""
        for worker in self._workers:
            ray.kill(worker)
        self._workers = []
        if self._started:
            ray.shutdown()
