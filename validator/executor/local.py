"""The local executor: every job in this process, one after another, on the model it holds.

Today's behaviour and the default (``--executor local``). A job that raises is tried again
(``MAX_ATTEMPTS``), then its miner gets a ``JobFailure`` with the reason; the round goes on.
``torch_threads`` pins torch's intra-op threads while jobs run (None: leave them as they
are); float reductions depend on it, so a run that must match another executor pins it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from tqdm import tqdm

from validator.executor.jobs import (
    MAX_ATTEMPTS,
    JobFailure,
    JobOutcome,
    RoundWork,
    failure_reason,
    train_and_measure,
)


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
        self, model: Any, tokenizer: Any, threads: int | None = None, progress: bool = False
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.threads = threads
        self.progress = progress  # a progress bar over the jobs

    def run(self, work: RoundWork) -> dict[str, JobOutcome]:
        """Each job's outcome, by job key."""
        outcomes: dict[str, JobOutcome] = {}
        with torch_threads(self.threads):
            bar = tqdm(work.jobs, desc="train + eval", disable=not self.progress, unit="miner")
            for job in bar:
                if job.key in outcomes:  # the same job twice: counted once
                    continue
                outcomes[job.key] = self._attempt(work, job.samples)
        return outcomes

    def _attempt(self, work: RoundWork, samples: Any) -> JobOutcome:
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
