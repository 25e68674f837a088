"""Benchmark: scoring.rouge ROUGE-L vs rouge-score's RougeScorer(["rougeL"]) at ~150 tokens.

Prints pairs/s for both (best of ``--repeats``; the machine is shared), the ratio, and how
many of the pairs gave a different score (must be 0: the implementations are identical).

    .venv/bin/python bench/bench_rouge.py [--pairs 300] [--tokens 150] [--repeats 3]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

from rouge_score import rouge_scorer

from scoring.rouge import rouge_l

# An English-like vocabulary: repeated words give the LCS real work to do.
VOCAB = (
    "the a of to and in is it that for on was with as he be at by this had not are but "
    "from or have an they which one you were all we her she there would their will"
).split()


def best_time(run: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--tokens", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(0)

    def text() -> str:
        words = [rng.choice(VOCAB) for _ in range(args.tokens)]
        return " ".join(w.capitalize() + "," if rng.random() < 0.1 else w for w in words)

    pairs = [(text(), text()) for _ in range(args.pairs)]
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    ours = best_time(lambda: [rouge_l(t, p) for t, p in pairs], args.repeats)
    theirs = best_time(lambda: [scorer.score(t, p) for t, p in pairs], 1)
    mismatches = sum(tuple(rouge_l(t, p)) != tuple(scorer.score(t, p)["rougeL"]) for t, p in pairs)
    print(f"ROUGE-L on {args.pairs} pairs of {args.tokens} tokens:")
    print(f"  ours         {args.pairs / ours:10.0f} pairs/s")
    print(f"  rouge-score  {args.pairs / theirs:10.0f} pairs/s")
    print(f"  ratio        {theirs / ours:10.1f}x")
    print(f"  pairs whose (precision, recall, f) differ: {mismatches} of {args.pairs}")


if __name__ == "__main__":
    main()
