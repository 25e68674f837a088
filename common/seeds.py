"""Seeds from strings: sha256 over the parts, a fixed slice of the digest as an integer.

Every reproducible draw in the project (eval sets, bootstrap intervals, a miner's generator)
seeds from here, so "which bytes, which order" is written once:

- ``joined_seed("r1", 7)`` hashes ``"r1|7"``. Right for parts that cannot contain ``|``
  ambiguously (round ids, uids, fixed names).
- ``prefixed_seed(secret, round_id)`` length-prefixes every part (8 bytes, big-endian) before
  hashing, so ``("ab", "1")`` and ``("a", "b1")`` cannot collide: for parts an outsider
  chooses, like a validator's secret.

Both read the first ``bits // 8`` bytes of the digest big-endian. Changing either changes
every seed derived from it: bump the version of what it seeds (eval, recipe, scoring).
"""

from __future__ import annotations

import hashlib

DEFAULT_BITS = 32  # a bootstrap or per-miner seed: numpy and random take any 32-bit value


def _first_bits(digest: bytes, bits: int) -> int:
    if bits % 8 or not 8 <= bits <= 256:
        raise ValueError(f"bits must be a multiple of 8 in [8, 256], got {bits}")
    return int.from_bytes(digest[: bits // 8], "big")


def joined_seed(*parts: object, bits: int = DEFAULT_BITS) -> int:
    """``bits`` of sha256 over ``str(part)`` of each part joined by ``|``."""
    text = "|".join(str(p) for p in parts)
    return _first_bits(hashlib.sha256(text.encode()).digest(), bits)


def prefixed_seed(*parts: str | bytes, bits: int = DEFAULT_BITS) -> int:
    """``bits`` of sha256 over the parts, each preceded by its length (8 bytes, big-endian)."""
    h = hashlib.sha256()
    for part in parts:
        raw = part.encode() if isinstance(part, str) else part
        h.update(len(raw).to_bytes(8, "big"))
        h.update(raw)
    return _first_bits(h.digest(), bits)
