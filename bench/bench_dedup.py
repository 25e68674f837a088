"""Benchmark: our vectorised MinHash vs datasketch ``MinHash.bulk``, speed and accuracy.

Both start from raw ~1 KB text and use the same shingles (the pinned ``MinHashParams``: word
sets, ``ngram=1``, of ``text.match_words``) and 128
permutations; datasketch gets its shingles as the UTF-8 bytes it hashes with sha1. Speed is
samples/s, best of ``--repeats`` runs (the machine is shared: the best run is the least
disturbed one). Accuracy is the mean absolute error of the estimated Jaccard against the
true Jaccard of the two shingle sets, over copies perturbed at shares 0-60% (true Jaccard
spread over 0.1-1).

Last, a round's dedup against a history: ``--miners`` x 64 task items screened against a
history of ``--history`` credited task items (templated items of one family share most
words, so this is the case the candidate search has to keep cheap).

    .venv/bin/python bench/bench_dedup.py [--samples 2000] [--pairs 1500] [--repeats 5]
        [--history 20000] [--miners 8]
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

from common.text import jaccard, match_words, word_ngrams  # noqa: E402
from scoring.dedup import HistoryIndex, Submission, dedup_round, fingerprints  # noqa: E402
from scoring.minhash import MinHasher, MinHashParams, estimate_jaccard_pairs  # noqa: E402
from tasks.families import generate_many  # noqa: E402

PARAMS = MinHashParams()


def datasketch_signatures(texts: list[str]) -> list[MinHash]:
    shingles = []
    for text in texts:
        ws = match_words(text)
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
    parser.add_argument("--history", type=int, default=20000)
    parser.add_argument("--miners", type=int, default=8)
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
        truth.append(
            jaccard(
                word_ngrams(match_words(base), PARAMS.ngram),
                word_ngrams(match_words(copy), PARAMS.ngram),
            )
        )
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

    round_against_history(args.history, args.miners)


def round_against_history(size: int, miners: int) -> None:
    """Seconds to load a history of ``size`` task items and to dedup a round against it."""
    hasher = MinHasher(PARAMS)
    items = generate_many(1, size)
    prints = fingerprints(
        [f"{i.prompt}\n{i.chain_of_thought}\n{i.final_answer}" for i in items],
        [i.final_answer for i in items],
        hasher,
    )
    start = time.perf_counter()
    history = HistoryIndex(PARAMS)
    for k, fingerprint in enumerate(prints):
        history.add(f"h/{k}", fingerprint)
    loaded = time.perf_counter() - start
    subs = []
    for uid in range(miners):
        batch = generate_many(1000 + uid, 64)
        texts = [f"{i.prompt}\n{i.chain_of_thought}\n{i.final_answer}" for i in batch]
        subs.append(Submission(uid, texts, answers=[i.final_answer for i in batch]))
    start = time.perf_counter()
    dedup_round(subs, history, hasher)
    took = time.perf_counter() - start
    print(f"round of {miners} x 64 task items against a history of {size}:")
    print(f"  index {size} credited items  {loaded:6.2f} s")
    print(f"  dedup the round            {took:6.2f} s")


if __name__ == "__main__":
    main()
