"""LSH banding over MinHash signatures: which pairs are worth comparing at all.

A signature of ``num_perm`` slots is cut into ``bands`` bands of ``rows = num_perm / bands``
slots; two texts become candidates when any band is equal. The chance that a pair of true
Jaccard J becomes a candidate is ``1 - (1 - J^rows)^bands``. Candidates are then *confirmed*
by the callers (estimated or exact Jaccard against a threshold), so the banding only has to
keep recall high above the thresholds used (0.4 and up); its false candidates cost time only.

``BANDS = 64`` (2 rows each, at 128 permutations): a pair at J = 0.3 is a candidate with
probability 0.998, at J = 0.4 with 0.99999. With 2 rows a band key is the two uint32 slots
side by side: 64 bits, lossless, no hashing.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from scoring.minhash import EMPTY

# 64 bands x 2 rows at 128 permutations: recall 0.998 at J = 0.3 (see module docstring).
BANDS = 64


def band_keys(signatures: npt.NDArray[np.uint32], bands: int = BANDS) -> npt.NDArray[np.uint64]:
    """``(n, bands)`` band keys; band ``b`` of a row is its slots ``[b*r, (b+1)*r)``.

    For ``r = 2`` the key is the two slots concatenated; for larger ``r`` a polynomial mix of
    the slots (equal bands give equal keys; unequal ones collide with chance ~2^-64).
    """
    n, num_perm = signatures.shape
    if bands < 1 or num_perm % bands:
        raise ValueError(f"{num_perm} permutations do not split into {bands} bands")
    rows = num_perm // bands
    cube = signatures.reshape(n, bands, rows).astype(np.uint64)
    if rows == 1:
        return cube[:, :, 0]
    if rows == 2:
        return (cube[:, :, 0] << np.uint64(32)) | cube[:, :, 1]
    # Odd 64-bit constant (golden ratio), the usual multiplicative mixing step.
    key = np.zeros((n, bands), dtype=np.uint64)
    for r in range(rows):
        key = key * np.uint64(0x9E3779B97F4A7C15) + cube[:, :, r]
    return key


def empty_rows(signatures: npt.NDArray[np.uint32]) -> npt.NDArray[np.bool_]:
    """Rows that are the signature of a wordless text: they are never indexed nor matched."""
    return np.all(signatures == EMPTY, axis=1)


class BandIndex:
    """In-memory map from (band, key) to the item ids holding it; ids are small ints."""

    def __init__(self, bands: int = BANDS) -> None:
        self.bands = bands
        self._buckets: dict[tuple[int, int], list[int]] = {}

    def add(self, item: int, keys: npt.NDArray[np.uint64]) -> None:
        """Index one item under its ``bands`` keys."""
        for band, key in enumerate(keys.tolist()):
            self._buckets.setdefault((band, key), []).append(item)

    def candidates(self, keys: npt.NDArray[np.uint64]) -> list[int]:
        """Ids sharing at least one band with ``keys``, each once, in first-added order."""
        found: dict[int, None] = {}
        get = self._buckets.get
        for band, key in enumerate(keys.tolist()):
            for item in get((band, key), ()):
                found[item] = None
        return sorted(found)

    def candidate_array(self, keys: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
        """``candidates`` as a sorted int64 array, gathered without a per-id Python step."""
        found: list[int] = []
        get = self._buckets.get
        for band, key in enumerate(keys.tolist()):
            found.extend(get((band, key), ()))
        return np.unique(np.asarray(found, dtype=np.int64))

    def holders(self, band: int, key: int) -> list[int]:
        """Ids indexed under ``(band, key)``, in the order they were added."""
        return list(self._buckets.get((band, key), ()))

    def buckets(self) -> dict[tuple[int, int], list[int]]:
        """A copy of every bucket: ``(band, key) -> ids``."""
        return {k: list(v) for k, v in self._buckets.items()}

    def __len__(self) -> int:
        return len(self._buckets)


def candidate_pairs(
    left: npt.NDArray[np.uint32], right: npt.NDArray[np.uint32], bands: int = BANDS
) -> Iterable[tuple[int, int]]:
    """Every (i, j) with ``left[i]`` and ``right[j]`` sharing a band; empty rows excluded."""
    index = BandIndex(bands)
    right_keys = band_keys(right, bands)
    for j in np.flatnonzero(~empty_rows(right)).tolist():
        index.add(j, right_keys[j])
    left_keys = band_keys(left, bands)
    for i in np.flatnonzero(~empty_rows(left)).tolist():
        for j in index.candidates(left_keys[i]):
            yield i, j
