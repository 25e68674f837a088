"""Benchmark: the validator's MinHash against datasketch and rensa, speed and accuracy (issue 13).

Every implementation starts from raw text and signs the same thing: the set of the
validator's canonical match words (``MinHashParams``: ``ngram`` word shingles of
``text.match_words``, ``num_perm`` permutations, the pinned seed). The word split is the
same code for all (``MinHasher._words``, the byte-table fast path of ``match_words``), so the
figures differ only in how a word set becomes a signature:

- ``ours``: ``scoring.minhash.MinHasher.signatures`` as the validator calls it (since issue
  13: rensa's ``RMinHash``, rows turned into a ``(n, num_perm)`` uint32 array);
- ``numpy-v1``: the numpy MinHash it replaced (``bench/minhash_v1.py``: blake2b per new word,
  cached, then vectorised permutations);
- ``datasketch``: ``MinHash.bulk`` over the UTF-8 shingles (sha1 per shingle, numpy permute);
- ``rensa-c``: rensa's ``CMinHash`` (circulant permutations) bulk digests.

Corpora (``--samples`` texts each, seeded): ``registry`` task items in the registry's
phrasings (prompt, chain of thought, answer); ``outside`` the same families in outside
phrasings (``tasks/outside_phrasings.py``); ``safety`` the shipped safety eval prompts
(``safety/data/*.json``, one line each); ``prose`` teacher-style prose (an outside-phrased
task, then 120-260 words of explanation drawn Zipf(1) from 20,000 pseudo-words);
``distinct`` 170 words per text never repeated across texts (the outside measurement's
case: every word is new); ``paragraph`` the old benchmark's 1 KB texts (a 3,000-word
vocabulary); ``mix`` an even shuffle of the first five.

**Cold**: one fresh Python process per (implementation, corpus), which imports the modules
and signs the corpus once, timed: no word cache, no normalisation table warmed.
**Warm**: the same process, best of ``--repeats`` further runs over the same texts (a
long-running validator that has seen these words). Samples/s; ratio is to ``ours``.

**Accuracy**: per corpus of the first five, ``--pairs`` pairs: half a text and its copy with
a uniform 0-90% share of words substituted (``scoring_synth.perturb``), half two different
texts of the corpus, so exact Jaccard spans 0..1. Error is the estimate minus the exact
Jaccard of the two shingle sets; MAE over all pairs, with its standard error, and the paired
difference to ``ours`` (``d``, +- 2 SE: within that band the two are alike within noise).

Last, a round's dedup against a history: ``--miners`` x 64 task items screened against a
history of ``--history`` credited task items.

    .venv/bin/python bench/bench_dedup.py [--samples 2000] [--pairs 600] [--repeats 3]
        [--history 20000] [--miners 8] [--only ours,numpy-v1]
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "scoring"))

from common.text import jaccard, join_fields, match_words, word_ngrams  # noqa: E402
from scoring.minhash import MinHasher, MinHashParams  # noqa: E402

PARAMS = MinHashParams()
IMPLS = ("ours", "numpy-v1", "datasketch", "rensa-c")
Signer = Callable[[list[str]], npt.NDArray[np.uint32]]


# --- the implementations --------------------------------------------------------------------


def _shingle_sets(texts: list[str]) -> list[list[bytes]]:
    """Each text's distinct shingles as UTF-8 bytes (words joined by a space)."""
    split = MinHasher(PARAMS)._words  # the validator's word split; no cache involved
    n = PARAMS.ngram
    out = []
    for text in texts:
        ws = split(text)
        if n == 1:
            out.append(list(set(ws)))
        elif ws:
            grams = [b" ".join(ws[i : i + n]) for i in range(max(1, len(ws) - n + 1))]
            out.append(list(set(grams)))
        else:
            out.append([])
    return out


def signer(name: str) -> Signer:
    """A function texts -> ``(n, num_perm)`` uint32 signatures (fresh state: nothing cached)."""
    if name == "ours":
        return MinHasher(PARAMS).signatures
    if name == "numpy-v1":
        from bench.minhash_v1 import MinHasher as NumpyV1

        return NumpyV1(PARAMS).signatures
    if name == "datasketch":
        from datasketch import MinHash

        def sign_ds(texts: list[str]) -> npt.NDArray[np.uint32]:
            sets = _shingle_sets(texts)
            out = np.full((len(texts), PARAMS.num_perm), 0xFFFFFFFF, dtype=np.uint32)
            for i, m in enumerate(MinHash.bulk(sets, num_perm=PARAMS.num_perm, seed=PARAMS.seed)):
                if sets[i]:
                    out[i] = m.hashvalues.astype(np.uint32)
            return out

        return sign_ds
    if name == "rensa-c":
        import rensa

        def sign_c(texts: list[str]) -> npt.NDArray[np.uint32]:
            rows = rensa.CMinHash.digests_from_token_sets(
                _shingle_sets(texts), PARAMS.num_perm, PARAMS.seed
            )
            return np.array(rows, dtype=np.uint32).reshape(len(texts), PARAMS.num_perm)

        return sign_c
    raise ValueError(name)


def estimates(left: npt.NDArray[np.uint32], right: npt.NDArray[np.uint32]) -> npt.NDArray:
    """Share of equal slots (empty rows give 0, as ``estimate_jaccard_pairs``)."""
    est = np.mean(left == right, axis=1)
    empty = np.all(left == 0xFFFFFFFF, axis=1) | np.all(right == 0xFFFFFFFF, axis=1)
    return np.where(empty, 0.0, est)


# --- the corpora ------------------------------------------------------------------------------


def _pseudo_words(rng: random.Random, count: int, seen: set[str]) -> list[str]:
    out: list[str] = []
    while len(out) < count:
        word = "".join(rng.choices(string.ascii_lowercase, k=rng.randint(4, 10)))
        if word not in seen:
            seen.add(word)
            out.append(word)
    return out


def _sentences(rng: random.Random, words: list[str]) -> str:
    out, i = [], 0
    while i < len(words):
        k = rng.randint(8, 20)
        out.append(" ".join(words[i : i + k]).capitalize() + rng.choice(".  .?!"))
        i += k
    return " ".join(out)


def corpora(samples: int) -> dict[str, list[str]]:
    from scoring_synth import paragraph

    from tasks.families import generate_many
    from tasks.quality import reworded

    rng = random.Random(13)
    items = generate_many(13, samples)
    registry = [join_fields(i.prompt, i.chain_of_thought, i.final_answer) for i in items]
    outside_items = generate_many(14, samples)
    outside = [
        join_fields(reworded(i, rng), i.chain_of_thought, i.final_answer) for i in outside_items
    ]
    shipped = sorted((ROOT / "safety" / "data").glob("*.json"))[-1]
    data = json.loads(shipped.read_text())
    safety = [row["prompt"] for row in data["harmful"] + data["benign"]]
    rng.shuffle(safety)
    safety = (safety * (1 + samples // len(safety)))[:samples]
    vocab = _pseudo_words(random.Random(15), 20_000, set())
    weights = [1.0 / (rank + 1) for rank in range(len(vocab))]
    prose = []
    for item in generate_many(16, samples):
        body = rng.choices(vocab, weights=weights, k=rng.randint(120, 260))
        prose.append(
            join_fields(
                reworded(item, rng),
                f"Let us think about this carefully. {_sentences(rng, body)} "
                f"{item.chain_of_thought}",
                item.final_answer,
            )
        )
    seen: set[str] = set(vocab)
    distinct = [_sentences(rng, _pseudo_words(rng, 170, seen)) for _ in range(samples)]
    para_rng = random.Random(0)
    paragraphs = [paragraph(para_rng) for _ in range(samples)]
    out = {
        "registry": registry,
        "outside": outside,
        "safety": safety,
        "prose": prose,
        "distinct": distinct,
    }
    mix = [t for texts in out.values() for t in texts[: samples // len(out) + 1]][:samples]
    rng.shuffle(mix)
    out["paragraph"] = paragraphs
    out["mix"] = mix
    return out


# --- speed, one process per (implementation, corpus) -----------------------------------------


def worker(name: str, path: str, repeats: int) -> None:
    texts = pickle.loads(Path(path).read_bytes())
    sign = signer(name)
    start = time.perf_counter()
    sign(texts)
    cold = time.perf_counter() - start
    warm = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        sign(texts)
        warm = min(warm, time.perf_counter() - start)
    print(json.dumps({"cold": len(texts) / cold, "warm": len(texts) / warm}))


def speed(name: str, texts: list[str], repeats: int, tmp: Path) -> dict[str, float]:
    path = tmp / "texts.pkl"
    path.write_bytes(pickle.dumps(texts))
    cmd = [sys.executable, __file__, "--worker", name, str(path), "--repeats", str(repeats)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --- accuracy ---------------------------------------------------------------------------------


def pairs(texts: list[str], count: int, rng: random.Random) -> tuple[list[str], list[str]]:
    from scoring_synth import perturb

    left, right = [], []
    for k in range(count):
        a = rng.choice(texts)
        if k % 2 == 0:
            b = perturb(a, rng, word_share=rng.uniform(0.0, 0.9))
        else:
            b = rng.choice(texts)
        left.append(a)
        right.append(b)
    return left, right


def exact(left: list[str], right: list[str]) -> npt.NDArray[np.float64]:
    n = PARAMS.ngram
    return np.array(
        [
            jaccard(word_ngrams(match_words(a), n), word_ngrams(match_words(b), n))
            for a, b in zip(left, right, strict=True)
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--pairs", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--history", type=int, default=20000)
    parser.add_argument("--miners", type=int, default=8)
    parser.add_argument("--only", default=",".join(IMPLS))
    parser.add_argument("--worker", nargs=2)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1], args.repeats)
        return
    impls = [name for name in IMPLS if name in args.only.split(",")]
    texts = corpora(args.samples)
    print(f"params: {PARAMS.fingerprint()}")
    print(f"\nspeed, samples/s ({args.samples} texts per corpus; ratio = x ours):\n")
    print("| corpus | words/text | distinct words | " + " | ".join(impls) + " |")
    print("|---|---|---|" + "---|" * len(impls))
    rates: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for corpus, batch in texts.items():
            rates[corpus] = {n: speed(n, batch, args.repeats, Path(tmp)) for n in impls}
            split = MinHasher(PARAMS)._words
            lengths = [len(split(t)) for t in batch]
            vocab = len({w for t in batch for w in split(t)})
            cells = []
            for n in impls:
                r = rates[corpus][n]
                base = rates[corpus].get("ours", r)
                cells.append(
                    f"{r['cold']:,.0f} / {r['warm']:,.0f}"
                    + ("" if n == "ours" else f" ({r['cold'] / base['cold']:.2f}x)")
                )
            print(f"| {corpus} | {np.mean(lengths):.0f} | {vocab:,} | " + " | ".join(cells) + " |")
    print("\n(cold / warm; the ratio is cold to cold)")

    rng = random.Random(7)
    left: list[str] = []
    right: list[str] = []
    for corpus in ("registry", "outside", "safety", "prose", "distinct"):
        a, b = pairs(texts[corpus], args.pairs, rng)
        left += a
        right += b
    truth = exact(left, right)
    print(
        f"\naccuracy over {len(truth)} pairs, exact Jaccard {truth.min():.2f}-{truth.max():.2f}"
        f" (quartiles {np.percentile(truth, 25):.2f} {np.median(truth):.2f}"
        f" {np.percentile(truth, 75):.2f}):\n"
    )
    print("| impl | MAE | +- SE | bias | MAE on J in [0.1, 0.9] | d(MAE) vs ours +- 2 SE |")
    print("|---|---|---|---|---|---|")
    errors: dict[str, npt.NDArray[np.float64]] = {}
    mid = (truth >= 0.1) & (truth <= 0.9)
    for n in impls:
        sign = signer(n)
        err = estimates(sign(left), sign(right)) - truth
        errors[n] = err
        mae = np.abs(err)
        paired = ""
        if "ours" in errors and n != "ours":
            diff = mae - np.abs(errors["ours"])
            paired = f"{diff.mean():+.4f} +- {2 * diff.std() / np.sqrt(len(diff)):.4f}"
        print(
            f"| {n} | {mae.mean():.4f} | {mae.std() / np.sqrt(len(mae)):.4f} | {err.mean():+.4f}"
            f" | {mae[mid].mean():.4f} | {paired} |"
        )

    round_against_history(args.history, args.miners)


def round_against_history(size: int, miners: int) -> None:
    """Seconds to load a history of ``size`` task items and to dedup a round against it."""
    from scoring.dedup import HistoryIndex, Submission, dedup_round, fingerprints
    from tasks.families import generate_many

    hasher = MinHasher(PARAMS)
    items = generate_many(1, size)
    start = time.perf_counter()
    prints = fingerprints(
        [join_fields(i.prompt, i.chain_of_thought, i.final_answer) for i in items],
        [i.final_answer for i in items],
        hasher,
    )
    signed = time.perf_counter() - start
    start = time.perf_counter()
    history = HistoryIndex(PARAMS)
    for k, fingerprint in enumerate(prints):
        history.add(f"h/{k}", fingerprint)
    loaded = time.perf_counter() - start
    subs = []
    for uid in range(miners):
        batch = generate_many(1000 + uid, 64)
        texts = [join_fields(i.prompt, i.chain_of_thought, i.final_answer) for i in batch]
        subs.append(Submission(uid, texts, answers=[i.final_answer for i in batch]))
    start = time.perf_counter()
    dedup_round(subs, history, hasher)
    took = time.perf_counter() - start
    print(f"\nround of {miners} x 64 task items against a history of {size}:")
    print(f"  fingerprint {size} items        {signed:6.2f} s")
    print(f"  index {size} credited items  {loaded:6.2f} s")
    print(f"  dedup the round            {took:6.2f} s")


if __name__ == "__main__":
    main()
