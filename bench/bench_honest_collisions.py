"""Benchmark: how often an honest generator miner is zeroed by the gate through chance alone.

The contamination gate zeroes a miner's round for one sample matching an eval item of the
current set or of the ``RECENT_ROUNDS`` published before it. The task families' instance
spaces are small (two 2-digit addends: 8,100 problems), so an honest generator miner's data
meets the same *problem* as some eval item by chance, often with the very same worked
solution; the per-sample rate is small, the per-round rate is not. This runs ``--trials``
validators (secrets) for ``--rounds`` rounds each, an honest generator miner per trial, and
counts the rounds in which the gate would zero it: serving fresh items each round (before
issue 14) and serving a seeded selection of a committed pool of ``--pool`` items (since).

    .venv/bin/python bench/bench_honest_collisions.py [--rounds 40] [--trials 3] [--pool 1024]

Prints, per mode, zeroed rounds in all and over the rounds after the gate's window is full.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from miner.manifests import PoolSource, build_pool  # noqa: E402
from miner.sources import DataSource, GeneratorSource  # noqa: E402
from protocol.schemas import Competition  # noqa: E402
from validator.evalsets.pool import RECENT_ROUNDS, EvalPool  # noqa: E402
from validator.stages.screening import sample_answer, sample_text  # noqa: E402

SAMPLES = 64  # what a validator asks of each miner (the local network's --samples)
EVAL_ITEMS = 64  # held-out items per round (the local network's --eval-items)


def zeroed_rounds(source: DataSource, secret: str, rounds: int) -> list[bool]:
    """Per round, whether the gate flags any of the miner's samples."""
    pool = EvalPool(secret)
    out = []
    for r in range(rounds):
        round_id = f"{secret}-r{r}"
        pool.draw(round_id, EVAL_ITEMS)
        samples = source.samples(Competition.COT_SFT, SAMPLES, round_id)
        verdicts = pool.index().check(
            [sample_text(s) for s in samples], [sample_answer(s) for s in samples]
        )
        out.append(any(v.contaminated for v in verdicts))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--pool", type=int, default=1024)
    args = parser.parse_args()
    started = time.perf_counter()
    for mode in ("fresh", "pool"):
        flags: list[bool] = []
        steady: list[bool] = []
        for trial in range(args.trials):
            generator = GeneratorSource(f"honest-{trial}")
            source: DataSource = generator
            if mode == "pool":
                manifest = build_pool(generator, [Competition.COT_SFT], args.pool)
                source = PoolSource(manifest, f"honest-{trial}")
            rounds = zeroed_rounds(source, f"secret-{trial}", args.rounds)
            flags += rounds
            steady += rounds[RECENT_ROUNDS:]
        line = f"{mode:>5}: zeroed in {sum(flags)}/{len(flags)} rounds"
        if steady:
            line += f"; {sum(steady)}/{len(steady)} once the {RECENT_ROUNDS}-round window is full"
        print(line, flush=True)
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
