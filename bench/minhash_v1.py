"""The numpy MinHash the validator signed with until issue 13 (``minhash/v1``): bench only.

Kept so ``bench/bench_dedup.py`` can compare the implementation it replaced; the validator
uses ``scoring.minhash`` (rensa). Its parameters are ``scoring.minhash.MinHashParams``.

Pipeline for a batch of texts (all of it numpy after the word split):

1. ``text.match_words``: letters/digits runs of ``text.canonical`` (case, punctuation,
   spacing, look-alike letters and invisible characters cannot matter).
2. Each distinct word -> 64-bit blake2b keyed by the seed (cached: a vocabulary is small).
3. Each word ``n``-gram -> ``splitmix64(w0*C0 + w1*C1 + ... )`` mod 2^64 (order-sensitive).
   A text shorter than ``n`` words is one shingle (padded with zero words), so a short answer
   still has a fingerprint; a text with no words has none (the empty signature).
4. The shingle hash ``x`` is the top 32 bits of step 3, forced odd (never 0). Permutation
   ``i`` is ``a_i * x mod 2^32`` with ``a_i`` odd: a bijection of 32-bit values, so over
   well-mixed ``x`` each permutation's argmin is uniform over the set (the MinHash
   property); the signature keeps the minimum per permutation (uint32). One broadcast
   uint32 multiply (SIMD) and one ``minimum.reduceat`` per chunk: no per-shingle Python,
   which is where datasketch spends its time (a sha1 call per shingle). Estimation error
   measured against datasketch's: bench/bench_dedup.py.

Compatibility: a signature only compares with another made under identical parameters.
``MinHashParams.fingerprint()`` names them all (shingle, seed, permutations and hash
functions); store it with any index and refuse to mix indices whose fingerprints differ.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat

import numpy as np
import numpy.typing as npt

from common.text import match_words
from scoring.minhash import MinHashParams

# Bumped when any step above changes its output for the same parameters.
MINHASH_ALGORITHM = "minhash/v1:blake2b64-word,poly-splitmix64-shingle,odd-multiply32"

# The value of an empty permutation slot: larger than any hash a shingle can produce
# would have to be, so an empty text's signature is all of it.
EMPTY = np.uint32(0xFFFFFFFF)

# Shingles handled per broadcast: 2048 shingles x 128 permutations x 4 bytes = 1 MiB, about
# an L2 cache; larger chunks spill to memory and run slower, smaller ones pay numpy overhead.
_CHUNK_SHINGLES = 2048

# Token-hash cache bound: ~100 bytes an entry, so at most ~50 MB; cleared when full (the
# hashes are a pure function of the word, so clearing changes speed, never results).
_MAX_CACHED_TOKENS = 500_000

_U64 = np.uint64

# Pads a text shorter than ``ngram`` words to one shingle; words are never empty, so the
# pad cannot collide with a real word.
_PAD = b""

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


def _derive_u64(seed: int, label: str, count: int) -> npt.NDArray[np.uint64]:
    """``count`` 64-bit constants from blake2b(seed, label, i): stable across numpy versions."""
    key = seed.to_bytes(8, "little")
    labels = (f"{label}:{i}".encode() for i in range(count))
    digests = (hashlib.blake2b(text, digest_size=8, key=key) for text in labels)
    return np.array([int.from_bytes(d.digest(), "little") for d in digests], dtype=_U64)


def _splitmix64(z: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The splitmix64 finaliser (Steele et al.): every input bit reaches every output bit."""
    z = z ^ (z >> _U64(30))
    z = z * _U64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> _U64(27))
    z = z * _U64(0x94D049BB133111EB)
    return z ^ (z >> _U64(31))


@dataclass
class MinHasher:
    """Computes signatures under one ``MinHashParams``; reuse one instance (it caches words)."""

    params: MinHashParams = field(default_factory=MinHashParams)

    def __post_init__(self) -> None:
        p = self.params
        # Odd multipliers: x -> a*x mod 2^32 is then a bijection of the 32-bit hashes.
        high = _derive_u64(p.seed, "perm-a", p.num_perm) >> _U64(32)
        self._mult = high.astype(np.uint32) | np.uint32(1)
        self._gram = _derive_u64(p.seed, "gram", p.ngram) | _U64(1)
        self._key = p.seed.to_bytes(8, "little")
        self._tokens: dict[bytes, int] = {_PAD: 0}  # the pad word of a short text hashes to 0

    def _hash_words(self, flat: list[bytes]) -> npt.NDArray[np.uint64]:
        """Keyed 64-bit blake2b of each word; a plain-dict cache keeps the lookup in C.

        One C-level pass with 0 for a cache miss, then the (few) zero slots are filled. A
        word whose true hash is 0 (or the pad) is merely looked up again: same result.
        """
        cache = self._tokens
        hashes = np.fromiter(map(cache.get, flat, repeat(0)), dtype=_U64, count=len(flat))
        todo = np.flatnonzero(hashes == 0)
        if todo.size:
            if len(cache) + todo.size > _MAX_CACHED_TOKENS:
                cache.clear()
                cache[_PAD] = 0
            key = self._key
            for position in todo.tolist():
                token = flat[position]
                value = cache.get(token)
                if value is None:
                    digest = hashlib.blake2b(token, digest_size=8, key=key).digest()
                    value = cache[token] = int.from_bytes(digest, "little")
                hashes[position] = value
        return hashes

    def _words(self, text: str) -> list[bytes]:
        """``text.match_words`` as UTF-8 bytes, with a byte-table fast path for ASCII text."""
        if text.isascii():
            # Same result as the regex for ASCII: lowercase, non-alphanumerics are spaces.
            return text.encode().translate(_ASCII_TABLE, _ASCII_DELETE).split()
        return [w.encode() for w in match_words(text)]

    def shingle_hashes(
        self, texts: Sequence[str]
    ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
        """All shingle hashes of all texts, concatenated, and each text's shingle count."""
        n = self.params.ngram
        lengths = np.zeros(len(texts), dtype=np.int64)
        flat: list[bytes] = []
        for i, text in enumerate(texts):
            toks = self._words(text)
            if 0 < len(toks) < n:
                toks += [_PAD] * (n - len(toks))
            lengths[i] = len(toks)
            flat.extend(toks)
        if len(flat) < n:
            return np.zeros(0, dtype=_U64), np.zeros(len(texts), dtype=np.int64)
        hashes = self._hash_words(flat)
        width = len(flat) - n + 1
        combined = hashes[:width] * self._gram[0]
        for j in range(1, n):
            combined += hashes[j : j + width] * self._gram[j]
        # A window is valid when it starts within its text's first (length - n + 1) words.
        counts = np.maximum(lengths - n + 1, 0)
        starts = np.cumsum(lengths) - lengths
        owner = np.repeat(np.arange(len(texts)), lengths)[:width]
        valid = (np.arange(width) - starts[owner]) < counts[owner]
        # Top 32 bits of the mixed hash, forced odd so no shingle is 0 (a*0 = 0 for every a).
        top = (_splitmix64(combined[valid]) >> _U64(32)).astype(np.uint32)
        return top | np.uint32(1), counts

    def signatures(self, texts: Sequence[str]) -> npt.NDArray[np.uint32]:
        """One ``(len(texts), num_perm)`` uint32 signature row per text."""
        shingles, counts = self.shingle_hashes(texts)
        out = np.full((len(texts), self.params.num_perm), EMPTY, dtype=np.uint32)
        nonempty = np.flatnonzero(counts)
        if nonempty.size == 0:
            return out
        bounds = np.concatenate(([0], np.cumsum(counts[nonempty])))
        row = 0
        while row < nonempty.size:
            # Take whole texts until the chunk is full (at least one text per chunk).
            stop = int(np.searchsorted(bounds, bounds[row] + _CHUNK_SHINGLES, side="right")) - 1
            stop = max(stop, row + 1)
            lo, hi = int(bounds[row]), int(bounds[stop])
            # (num_perm, shingles) layout: reduceat along the contiguous axis is ~8x faster.
            permuted = np.multiply.outer(self._mult, shingles[lo:hi])
            mins = np.minimum.reduceat(permuted, bounds[row:stop] - lo, axis=1)
            out[nonempty[row:stop]] = mins.T
            row = stop
        return out

    def signature(self, text: str) -> npt.NDArray[np.uint32]:
        """The signature of one text (prefer ``signatures`` for batches: it is much faster)."""
        return self.signatures([text])[0]
