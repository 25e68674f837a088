"""How much of an honest miner's round-to-round spread is the eval set's draw, and what buys it down.

Run: ``.venv/bin/python bench/bench_eval_noise.py [--sets 20] [--sizes 64 128] [--grid 5]``
(about 10 minutes on one thread with the defaults).

Part 1, the decomposition: a grid of ``--grid`` eval sets (validator A's, ladder rounds) x
``--grid`` data seeds of the ladder's correct rung; each cell is the score the round gives
(``validate_and_score``, the answer check on). The spread across eval sets with the data
fixed is the validator's own noise; across data seeds with the eval fixed, the miner's.

Part 2, the eval set alone: one data seed's correct samples scored on ``--sets`` eval sets per
design, each drawn from its own seed: the round's draw (``draw_eval_set``: stratified by
family and size, ``tasks/stratified.py``) at each of ``--sizes`` items, and at the first size
the draw before ``eval/4`` (each item's family and size drawn at random). Printed: mean, sd
and coefficient of variation of the score.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: the repo root holds the bench package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ladder import seed_eval_items, seed_samples
from protocol.schemas import CotSample
from tasks.families import generate_many
from tasks.quality import Quality
from tasks.registry import Difficulty, TaskItem
from tasks.stratified import generate_stratified
from validator.evalsets.cot import EVAL_SIZE, NEAR_MISSES, round_seed
from validator.model.base import load_base
from validator.stages.cot_validate import evaluate_base, validate_and_score

Draw = Callable[[int, int], list[TaskItem]]


def random_draw(seed: int, count: int) -> list[TaskItem]:
    """The draw before ``eval/4``: each item's family and size at random."""
    return generate_many(seed, count, None, Difficulty.FULL, near_misses=NEAR_MISSES)


def round_draw(seed: int, count: int) -> list[TaskItem]:
    """As ``draw_eval_set``: stratified by family and size."""
    return generate_stratified(seed, count, None, Difficulty.FULL, near_misses=NEAR_MISSES)


def score(model: object, tok: object, samples: list[CotSample], items: list[TaskItem]) -> float:
    base = evaluate_base(model, tok, items)
    return validate_and_score(model, tok, samples, items, base=base).score.score


def correct(seed: int) -> list[CotSample]:
    return seed_samples(seed, Quality.CORRECT)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sets", type=int, default=20, help="eval sets per design (part 2)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[EVAL_SIZE, 128])
    ap.add_argument("--grid", type=int, default=5, help="eval sets and data seeds (part 1)")
    args = ap.parse_args()
    model, tok = load_base("tiny", "cpu")

    grid = np.zeros((args.grid, args.grid))
    for e in range(args.grid):
        items = seed_eval_items(e)
        for d in range(args.grid):
            grid[e, d] = score(model, tok, correct(d), items)
    print(f"part 1: {args.grid} eval sets (rows) x {args.grid} data seeds (columns), correct rung")
    for row in grid:
        print("  " + "  ".join(f"{v:.3f}" for v in row))
    print(
        f"  mean {grid.mean():.3f}; sd across eval sets, data fixed {grid.std(0, ddof=1).mean():.3f};"
        f" across data seeds, eval fixed {grid.std(1, ddof=1).mean():.3f}",
        flush=True,
    )

    samples = correct(0)
    designs: list[tuple[str, Draw, int]] = [("stratified", round_draw, n) for n in args.sizes]
    designs.append(("random", random_draw, args.sizes[0]))
    print(f"part 2: data seed 0's correct samples on {args.sets} eval sets per design")
    for name, draw, size in designs:
        scores = np.array(
            [
                score(model, tok, samples, draw(round_seed("eval-noise", f"set-{i}"), size))
                for i in range(args.sets)
            ]
        )
        sd = scores.std(ddof=1)
        print(
            f"  {name:10s} {size:4d} items: mean {scores.mean():.3f} sd {sd:.3f}"
            f" cv {sd / scores.mean():.2f} range {scores.min():.3f}-{scores.max():.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
