"""Benchmark: our vectorised MinHash vs datasketch ``MinHash.bulk``, speed and accuracy.

Both start from raw ~1 KB text and use the same shingles (normalised word 3-grams) and 128
permutations; datasketch gets its shingles as the UTF-8 bytes it hashes with sha1. Speed is
samples/s, best of ``--repeats`` runs (the machine is shared: the best run is the least
disturbed one). Accuracy is the mean absolute error of the estimated Jaccard against the
true Jaccard of the two shingle sets, over copies perturbed at shares 0-60% (true Jaccard
spread over 0.1-1).

    .venv/bin/python bench/bench_dedup.py [--samples 2000] [--pairs 1500] [--repeats 5]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from datasketch import MinHash

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "scoring"))
from scoring_synth import paragraph, perturb  # noqa: E402

from scoring.minhash import MinHasher, MinHashParams, estimate_jaccard_pairs  # noqa: E402
from scoring.text import jaccard, word_ngrams, words  # noqa: E402

PARAMS = MinHashParams()


def datasketch_signatures(texts: list[str]) -> list[MinHash]:
    shingles = []
    for text in texts:
        ws = words(text)
        grams = word_ngrams(ws, PARAMS.ngram)
        shingles.append([" ".join(g).encode() for g in grams])
    return MinHash.bulk(shingles, num_perm=PARAMS.num_perm)


def best_rate(run: Callable[[], object], count: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return count / best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--pairs", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    rng = random.Random(0)
    texts = [paragraph(rng) for _ in range(args.samples)]
    hasher = MinHasher(PARAMS)
    hasher.signatures(texts[:10])  # warm the word cache, as a long-running validator would
    ours = best_rate(lambda: hasher.signatures(texts), len(texts), args.repeats)
    theirs = best_rate(lambda: datasketch_signatures(texts), len(texts), max(1, args.repeats // 2))
    mean_chars = sum(map(len, texts)) / len(texts)
    print(f"speed on {len(texts)} texts of {mean_chars:.0f} chars, {PARAMS.num_perm} permutations:")
    print(f"  ours        {ours:10.0f} samples/s")
    print(f"  datasketch  {theirs:10.0f} samples/s")
    print(f"  ratio       {ours / theirs:10.2f}x")

    left, right, truth = [], [], []
    for i in range(args.pairs):
        base = texts[i % len(texts)]
        copy = perturb(base, rng, word_share=rng.uniform(0.0, 0.6))
        left.append(base)
        right.append(copy)
        truth.append(jaccard(word_ngrams(words(base), 3), word_ngrams(words(copy), 3)))
    true_j = np.array(truth)
    est_ours = estimate_jaccard_pairs(hasher.signatures(left), hasher.signatures(right))
    ds_left, ds_right = datasketch_signatures(left), datasketch_signatures(right)
    est_ds = np.array([a.jaccard(b) for a, b in zip(ds_left, ds_right, strict=True)])
    mae_ours = float(np.mean(np.abs(est_ours - true_j)))
    mae_ds = float(np.mean(np.abs(est_ds - true_j)))
    print(f"accuracy on {args.pairs} pairs, true Jaccard {true_j.min():.2f}-{true_j.max():.2f}:")
    print(
        f"  ours        MAE {mae_ours:.4f}  RMSE {np.sqrt(np.mean((est_ours - true_j) ** 2)):.4f}"
    )
    print(f"  datasketch  MAE {mae_ds:.4f}  RMSE {np.sqrt(np.mean((est_ds - true_j) ** 2)):.4f}")
    print(f"  error ratio (ours / datasketch) {mae_ours / mae_ds:.3f}")


if __name__ == "__main__":
    main()
