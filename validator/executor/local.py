"""The local executor: every job in this process, one after another, on the model it holds.

Today's behaviour and the default (``--executor local``). A job that raises is tried again
(``MAX_ATTEMPTS``), then its miner gets a ``JobFailure`` with the reason; the round goes on.
``torch_threads`` pins torch's intra-op threads while jobs run (None: leave them as they
are); float reductions depend on it, so a run that must match another executor pins it.

``adapters_per_pass`` > 1 trains that many miners' adapters side by side on one PeftModel
(``validator/model/train.py::lora_adapters``) and evaluates them in shared passes
(``validator/model/evaluate.py::evaluate_many``): the same numbers, bit for bit on CPU.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from tqdm import tqdm

from protocol.schemas import CotSample
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
from validator.model.evaluate import evaluate_many
from validator.model.recipe import format_pair
from validator.model.train import lora_adapters


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` intra-op threads (None: unchanged), then restore."""
    if threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class LocalExecutor:
    """Runs a round's jobs in process, in order, on ``model``."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        threads: int | None = None,
        progress: bool = False,
        adapters_per_pass: int = 1,
    ) -> None:
        if adapters_per_pass < 1:
            raise ValueError(f"adapters_per_pass must be >= 1, got {adapters_per_pass}")
        self.model = model
        self.tokenizer = tokenizer
        self.threads = threads
        self.progress = progress  # a progress bar over the jobs
        # > 1: train that many adapters side by side, then evaluate them in shared passes
        # (evaluate_many: the same numbers on CPU, bit for bit; a gain where a taller batch
        # pays, on a GPU: on 2 CPU cores it measured 0.9-1.1x, docs/OPERATIONS.md).
        self.adapters_per_pass = adapters_per_pass

    def run(self, work: RoundWork) -> dict[str, JobOutcome]:
        """Each job's outcome, by job key."""
        outcomes: dict[str, JobOutcome] = {}
        unique = work.unique_jobs()
        size = self.adapters_per_pass
        groups = [unique[i : i + size] for i in range(0, len(unique), size)]
        with torch_threads(self.threads):
            bar = tqdm(total=len(unique), desc="train + eval", disable=not self.progress)
            for group in groups:
                outcomes.update(self._group(work, group) if len(group) > 1 else {})
                for job in group:
                    if job.key not in outcomes:  # alone, or its group failed: one at a time
                        outcomes[job.key] = self._attempt(work, job.samples)
                bar.update(len(group))
            bar.close()
        return outcomes

    def _group(self, work: RoundWork, group: list[TrainJob]) -> dict[str, JobOutcome]:
        """Train ``group``'s adapters side by side, evaluate them in shared passes.

        Any failure returns nothing: the group's jobs then run one at a time (with retries),
        so one miner's bad job costs the others only time.
        """
        named = {f"miner{i}": job for i, job in enumerate(group)}
        pairs = {name: [format_pair(s) for s in job.samples] for name, job in named.items()}
        try:
            with lora_adapters(self.model, self.tokenizer, pairs, work.recipe) as trained:
                t0 = time.perf_counter()
                results = evaluate_many(
                    trained.model, self.tokenizer, trained.names, work.items, work.general_texts
                )
                eval_s = (time.perf_counter() - t0) / len(group)  # the pass, shared evenly
                return {
                    job.key: Measured(
                        results[name],
                        list(trained.trained[name].per_step_losses),
                        {"train": trained.trained[name].train_s, "eval": eval_s},
                    )
                    for name, job in named.items()
                }
        except Exception:  # one miner's job broke the group: fall back to one at a time
            return {}

    def _attempt(self, work: RoundWork, samples: tuple[CotSample, ...]) -> JobOutcome:
        reason = ""
        for _ in range(MAX_ATTEMPTS):
            try:
                return train_and_measure(
                    self.model, self.tokenizer, work.recipe, samples, work.items, work.general_texts
                )
            except Exception as exc:  # any failure of one miner's job: retried, then reported
                reason = failure_reason(exc)
        return JobFailure(reason, MAX_ATTEMPTS)

    def close(self) -> None:
        """Nothing to release: the model is the caller's."""
