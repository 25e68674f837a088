"""MinHash over the validator's canonical word shingles, with pinned, versioned parameters.

Pipeline for a batch of texts:

1. ``text.match_words``: letters/digits runs of ``text.canonical`` (case, punctuation,
   spacing, look-alike letters and invisible characters cannot matter); a byte-table fast
   path gives the same words for ASCII text.
2. Shingles: each word ``n``-gram as UTF-8 bytes, its words joined by a space (words never
   hold one, so the join is unambiguous). A text shorter than ``n`` words is one shingle, so
   a short answer still has a fingerprint; a text with no words has none (the empty
   signature, every slot ``EMPTY``).
3. The signature of the shingle *set*: rensa's ``RMinHash`` (a Rust MinHash, pinned
   ``rensa==0.5.0``), one bulk call per batch, ``num_perm`` uint32 slots keyed by the seed.
   The implementation was chosen by ``bench/bench_dedup.py`` (docs/SCREENING.md, "Speed"):
   cold, it signs 2.0x the samples/s of the numpy MinHash it replaced (``minhash/v1``) on
   teacher prose, 2.8x on a mix of miner text and 5.7x on unseen words (where v1's per-word
   Python blake2b dominated), level on task items, 0.76x on one-line prompts (both > 85,000/s
   there), with a lower Jaccard estimation error (MAE 0.0175 vs 0.0211).

Compatibility: a signature only compares with another made under identical parameters.
``MinHashParams.fingerprint()`` names them all (the algorithm and rensa's version and
algorithm version, the normalisation, shingle, seed, permutations); store it with any index
and refuse to mix indices whose fingerprints differ (``scoring.dedup.StaleHistory``: a
history stored under ``minhash/v1`` is renamed aside at start).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from itertools import chain

import numpy as np
import numpy.typing as npt
import rensa

from common.text import TEXT_NORMALISATION_VERSION, match_words

# Bumped when any step above changes its output for the same parameters. rensa's package and
# algorithm versions are in it: another release may sign differently, so it retires histories.
MINHASH_ALGORITHM = (
    f"minhash/v2:word-bytes-set,rensa-rminhash({metadata.version('rensa')}"
    f",alg{rensa.RMinHash.ALGORITHM_VERSION})"
)

# The value of an empty permutation slot (rensa's too): an empty text's signature is all of it.
EMPTY = np.uint32(0xFFFFFFFF)

# ASCII fast path of ``text.match_words``: lowercase letters and digits kept ("l" read as
# "i"), all else a space, except controls that are not whitespace, which ``text.canonical``
# removes (deleted here).
_ASCII_TABLE = bytes(
    ord("i")
    if chr(c) in "lL"
    else (c + 32 if 65 <= c <= 90 else c)
    if chr(c).isalnum() and c < 128
    else 32
    for c in range(256)
)
_ASCII_DELETE = bytes(c for c in range(128) if not chr(c).isprintable() and not chr(c).isspace())


@dataclass(frozen=True)
class MinHashParams:
    """Pinned MinHash parameters; signatures compare only under identical ones.

    ``num_perm=128``: Jaccard standard error sqrt(J(1-J)/128) <= 0.044, enough to confirm
    the 0.4-0.5 thresholds used here, and 512 bytes per stored signature.
    ``ngram=1``: a signature of the *set of words* (numbers included). Measured on the task
    families and 1 KB texts under every perturbation of ``tests/support/perturb.py``
    (bench/bench_evasion.py): sentence and step reordering leaves the word set whole, where
    it broke a third of the 3-grams of a 25-word item; synonyms and added ids cost a copy
    a few words out of its set, 3 shingles each as 3-grams. What tells two items of one
    template apart is then not the word order but their numbers and answers
    (``scoring.dedup``: number containment, answer identity).
    ``seed``: any fixed value; it seeds the permutations (rensa's ``RMinHash`` seed).
    """

    num_perm: int = 128
    ngram: int = 1
    seed: int = 0x5EED_DA7A  # arbitrary, fixed forever for the "cot-v1" indices

    def __post_init__(self) -> None:
        if not 1 <= self.num_perm <= 4096:
            raise ValueError(f"num_perm must be in [1, 4096], got {self.num_perm}")
        if not 1 <= self.ngram <= 32:
            raise ValueError(f"ngram must be in [1, 32], got {self.ngram}")
        if not 0 <= self.seed < 2**64:
            raise ValueError("seed must fit in 64 bits")

    def fingerprint(self) -> str:
        """A version string naming every choice that changes a signature.

        The text normalisation is one of them (``common.text.TEXT_NORMALISATION_VERSION``):
        the words hashed are those of ``text.canonical``.
        """
        return (
            f"{MINHASH_ALGORITHM}:{TEXT_NORMALISATION_VERSION}:word{self.ngram}"
            f":perm{self.num_perm}:seed{self.seed}"
        )


@dataclass
class MinHasher:
    """Computes signatures under one ``MinHashParams`` (stateless: nothing is cached)."""

    params: MinHashParams = field(default_factory=MinHashParams)

    def _words(self, text: str) -> list[bytes]:
        """``text.match_words`` as UTF-8 bytes, with a byte-table fast path for ASCII text."""
        if text.isascii():
            # Same result as the regex for ASCII: lowercase, non-alphanumerics are spaces.
            return text.encode().translate(_ASCII_TABLE, _ASCII_DELETE).split()
        return [w.encode() for w in match_words(text)]

    def shingles(self, text: str) -> list[bytes]:
        """The distinct word ``n``-grams of ``text`` (words joined by a space), any order."""
        words = self._words(text)
        n = self.params.ngram
        if n == 1:
            return list(set(words))
        if len(words) <= n:
            return [b" ".join(words)] if words else []
        return list({b" ".join(words[i : i + n]) for i in range(len(words) - n + 1)})

    def signatures(self, texts: Sequence[str]) -> npt.NDArray[np.uint32]:
        """One ``(len(texts), num_perm)`` uint32 signature row per text."""
        p = self.params
        if not texts:
            return np.full((0, p.num_perm), EMPTY, dtype=np.uint32)
        matrix = rensa.RMinHash.digest_matrix_from_token_byte_sets(
            [self.shingles(text) for text in texts], p.num_perm, p.seed
        )
        # Rows come back as lists of ints (rensa has no buffer export); one flat pass into numpy.
        flat = chain.from_iterable(matrix.to_rows())
        out = np.fromiter(flat, dtype=np.uint32, count=len(texts) * p.num_perm)
        return out.reshape(len(texts), p.num_perm)

    def signature(self, text: str) -> npt.NDArray[np.uint32]:
        """The signature of one text (prefer ``signatures`` for batches: it is much faster)."""
        return self.signatures([text])[0]


def is_empty(signature: npt.NDArray[np.uint32]) -> bool:
    """True for the signature of a text with no words."""
    return bool(np.all(signature == EMPTY))


def estimate_jaccard(a: npt.NDArray[np.uint32], b: npt.NDArray[np.uint32]) -> float:
    """Share of equal slots: the MinHash estimate of Jaccard. Empty texts match nothing."""
    if a.shape != b.shape:
        raise ValueError(f"signatures of different shapes {a.shape} and {b.shape}: other params?")
    if is_empty(a) or is_empty(b):
        return 0.0
    return float(np.mean(a == b))


def estimate_jaccard_pairs(
    left: npt.NDArray[np.uint32], right: npt.NDArray[np.uint32]
) -> npt.NDArray[np.float64]:
    """Row-wise estimates for aligned ``(k, num_perm)`` arrays; empty rows give 0.0."""
    if left.shape != right.shape:
        raise ValueError(f"shapes differ: {left.shape} vs {right.shape}")
    est = np.mean(left == right, axis=1)
    empty = np.all(left == EMPTY, axis=1) | np.all(right == EMPTY, axis=1)
    return np.where(empty, 0.0, est)
