"""Train one miner's adapter and measure it: the data-in, numbers-out core of a round's step 6.

Shared by the round (``validator/round.py``) and the quality-ladder benchmark
(``bench/ladder.py``), so the ladder measures exactly what a round scores.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from protocol.schemas import CotSample
from tasks.families import TaskItem
from validator.model.evaluate import EvalResult, evaluate
from validator.model.recipe import TrainRecipe, format_pair
from validator.model.train import lora_adapter


@dataclass
class Measured:
    """The tuned model's eval on the round's items, its training losses and step timings."""

    tuned: EvalResult
    train_losses: list[float]
    timings_s: dict[str, float] = field(default_factory=dict)


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
