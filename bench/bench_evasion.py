"""Benchmark: the evasion table (issue 11): every perturbation kind against screening.

For each kind of ``tests/support/perturb.py`` (and ``all`` of them at once), over ``--n``
distinct task items and ``--n`` 1 KB paragraphs, the figures of ``tests/support/evasion.py``:
dedup recall in the round and against history, dedup false positives on other distinct items
under the same perturbation, gate recall per item and false positives on honest generator
data, and (task items) the answer check's recall on wrong answers and its false alarms on
right ones. Then the adaptive attacker: every item of ``--rounds`` published eval sets (with
their canaries in the pool), perturbed up to ``--tries`` times with a random kind each, kept
when the gate misses it: the share of items it found a miss for.

    .venv/bin/python bench/bench_evasion.py [--n 500] [--rounds 4] [--tries 30]

The table is docs/SCREENING.md's. Targets: recall >= 0.95, false positives <= 0.01 (the
answer check: recall >= 0.99).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.text import join_fields  # noqa: E402
from tests.support.evasion import eval_pool, free_data, measure, task_data  # noqa: E402
from tests.support.perturb import KIND_NAMES, perturb_item  # noqa: E402
from validator.evalsets.pool import EvalPool  # noqa: E402

COLUMNS = (
    ("dedup_round", "dedup round"),
    ("dedup_history", "dedup hist"),
    ("dedup_fp", "dedup FP"),
    ("gate", "gate"),
    ("gate_fp", "gate FP"),
    ("answer", "answer"),
    ("answer_fp", "answer FP"),
)
# The published sets' size: the validator's default eval set (validator/config.py).
EVAL_ITEMS = 64


def table(n: int) -> str:
    lines = []
    header = "| data | kind | " + " | ".join(label for _, label in COLUMNS) + " |"
    lines += [header, "|" + "---|" * (len(COLUMNS) + 2)]
    for data in (task_data(n), free_data(n)):
        pool = eval_pool(data)
        for kind in KIND_NAMES:
            figures = measure(data, kind, pool)
            cells = [f"{figures[key]:.3f}" if key in figures else "" for key, _ in COLUMNS]
            lines.append(f"| {data.name} | {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def adaptive(rounds: int, tries: int) -> str:
    """The adaptive attacker against the gate over ``rounds`` published sets."""
    pool = EvalPool("bench-secret")
    for r in range(rounds):
        pool.draw(f"bench-{r}", EVAL_ITEMS)
    pool.draw("bench-current", EVAL_ITEMS)  # the earlier ones are now "published"
    gate = pool.index()
    items = [it for eval_set, _ in pool.published_sets() for it in eval_set.items]
    rng = random.Random(0)
    found = attempts = 0
    for item in items:
        for _ in range(tries):
            attempts += 1
            copy = perturb_item(item, rng.choice(KIND_NAMES), rng)
            text = join_fields(copy.prompt, copy.chain_of_thought, copy.final_answer)
            if not gate.check([text], [copy.final_answer])[0].contaminated:
                found += 1
                break
    return (
        f"adaptive attacker: {found} of {len(items)} published items got past the gate"
        f" ({found / len(items):.3f}) in {attempts} perturbed tries (up to {tries} per item)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=500, help="samples per data set")
    parser.add_argument("--rounds", type=int, default=4, help="published sets in the pool")
    parser.add_argument("--tries", type=int, default=30, help="perturbations per item")
    args = parser.parse_args()
    t0 = time.perf_counter()
    print(table(args.n))
    print()
    print(adaptive(args.rounds, args.tries))
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
