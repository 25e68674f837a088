"""Benchmark: how often the gate zeroes an honest generator miner by chance, and a copier.

The task families' instance spaces are small (two 2-digit addends: 4,095 unordered pairs),
so an honest generator miner's data meets the same *problem* as some eval item of the pool
(this round's set, the ``RECENT_ROUNDS`` published before it, canaries) by chance, often with
the very same worked solution. This runs ``--trials`` validators (secrets) for ``--rounds``
rounds each and, per round, screens:

- an honest generator miner serving fresh items, and one serving a seeded selection of a
  committed pool of ``--pool`` items (issue 14's miners);
- copiers: the honest miner's data with ``k`` of its samples replaced by items of the sets
  published before the round (what anyone can read), for each ``k`` of ``--copies``.

Two rules: ``any`` (cot-v5: one match zeroes the round) and ``chance`` (cot-v6: more matches
than chance explains zero it, ``scoring/chance.py``; fewer are dropped). Prints zeroed rounds
in all and once the gate's window is full, and the matched samples an honest round drops.

    .venv/bin/python bench/bench_honest_collisions.py [--rounds 48] [--trials 3] [--pool 1024]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from miner.manifests import PoolSource, build_pool  # noqa: E402
from miner.sources import DataSource, GeneratorSource  # noqa: E402
from protocol.schemas import Competition, CotSample  # noqa: E402
from validator.evalsets.chance import measure_chance  # noqa: E402
from validator.evalsets.pool import RECENT_ROUNDS, EvalPool  # noqa: E402
from validator.stages.screening import gate_miner  # noqa: E402

SAMPLES = 64  # what a validator asks of each miner (the local network's --samples)
EVAL_ITEMS = 64  # held-out items per round (the local network's --eval-items)


def copied(samples: list[CotSample], pool: EvalPool, k: int, rng: random.Random) -> list[CotSample]:
    """``samples`` with ``k`` of them replaced by items of the published sets (verbatim)."""
    published = [it for eval_set, _ in pool.published_sets() for it in eval_set.items]
    if not published:
        return samples
    out = list(samples)
    for slot, item in zip(rng.sample(range(len(out)), k), rng.sample(published, k), strict=True):
        out[slot] = CotSample(
            prompt=item.prompt,
            chain_of_thought=item.chain_of_thought,
            final_answer=item.final_answer,
        )
    return out


@dataclass
class Tally:
    """Per (miner, rule), zeroed flags per round; what honest rounds drop; the allowances."""

    zeroed: dict[tuple[str, str], list[bool]] = field(default_factory=lambda: defaultdict(list))
    steady: dict[tuple[str, str], list[bool]] = field(default_factory=lambda: defaultdict(list))
    dropped: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    allowances: list[int] = field(default_factory=list)


def round_miners(
    sources: dict[str, DataSource],
    pool: EvalPool,
    round_id: str,
    copies: list[int],
    rng: random.Random,
) -> dict[str, list[CotSample]]:
    """The round's honest submissions, and the copiers' built from the fresh one."""
    miners = {
        name: [
            s
            for s in source.samples(Competition.COT_SFT, SAMPLES, round_id)
            if isinstance(s, CotSample)
        ]
        for name, source in sources.items()
    }
    if pool.published_sets():  # a published set exists to copy from
        for k in copies:
            miners[f"copies {k}"] = copied(miners["fresh"], pool, k, rng)
    return miners


def run_trial(trial: int, args: argparse.Namespace, tally: Tally) -> None:
    """One validator's rounds against its honest miners and copiers."""
    secret = f"secret-{trial}"
    generator = GeneratorSource(f"honest-{trial}")
    sources: dict[str, DataSource] = {
        "fresh": generator,
        "pool": PoolSource(
            build_pool(generator, [Competition.COT_SFT], args.pool), f"honest-{trial}"
        ),
    }
    pool = EvalPool(secret)
    rng = random.Random(trial)
    for r in range(args.rounds):
        round_id = f"{secret}-r{r}"
        pool.draw(round_id, EVAL_ITEMS)
        index = pool.index()
        chance = measure_chance(index, round_id)
        for name, samples in round_miners(sources, pool, round_id, args.copies, rng).items():
            gate = gate_miner(samples, index, chance)
            for rule, flag in (("any", gate.matched > 0), ("chance", gate.zeroed)):
                tally.zeroed[(name, rule)].append(flag)
                if r >= RECENT_ROUNDS:
                    tally.steady[(name, rule)].append(flag)
            if name in sources:
                tally.allowances.append(gate.allowance)
                if not gate.zeroed:
                    tally.dropped[name].append(gate.matched)


def report(tally: Tally, args: argparse.Namespace) -> None:
    """The table: zeroed rounds per miner and rule, then what honest rounds drop."""
    print(f"\nrounds zeroed, {args.trials} validators x {args.rounds} rounds of {SAMPLES} samples")
    print(f"{'miner':>10} {'rule':>7} {'all rounds':>12} {'window full':>12}")
    for (name, rule), flags in tally.zeroed.items():
        full = tally.steady[(name, rule)]
        print(f"{name:>10} {rule:>7} {sum(flags):>5}/{len(flags):<6} {sum(full):>5}/{len(full):<6}")
    for name, counts in tally.dropped.items():
        mean = sum(counts) / max(1, len(counts))
        print(
            f"{name}: matched samples dropped per honest round: mean {mean:.2f}, max {max(counts)}"
        )
    print(f"chance allowance per honest round: {min(tally.allowances)}..{max(tally.allowances)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=48)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--pool", type=int, default=1024)
    parser.add_argument("--copies", type=int, nargs="*", default=[1, 2, 4, 8, 16, 32])
    args = parser.parse_args()
    started = time.perf_counter()
    tally = Tally()
    for trial in range(args.trials):
        run_trial(trial, args, tally)
        print(f"trial {trial} done ({time.perf_counter() - started:.0f} s)", flush=True)
    report(tally, args)
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
