"""Seeds from strings: the two constructions, their bit widths, and that they do not collide."""

from __future__ import annotations

import hashlib

import pytest

from common.seeds import joined_seed, prefixed_seed


def test_joined_seed_is_the_first_bytes_of_sha256_of_the_parts_joined_by_a_bar() -> None:
    digest = hashlib.sha256(b"r1|7").digest()
    assert joined_seed("r1", 7) == int.from_bytes(digest[:4], "big")
    assert joined_seed("r1", 7, bits=64) == int.from_bytes(digest[:8], "big")
    assert 0 <= joined_seed("anything") < 2**32


def test_prefixed_seed_tells_apart_what_joining_would_not() -> None:
    assert joined_seed("a|b", "c") == joined_seed("a", "b|c")  # why prefixed_seed exists
    assert prefixed_seed("ab", "1") != prefixed_seed("a", "b1")
    assert prefixed_seed("s", b"s") == prefixed_seed(b"s", "s")  # str and bytes alike


@pytest.mark.parametrize("bits", [0, 7, 12, 264])
def test_a_width_that_is_not_whole_bytes_of_the_digest_is_refused(bits: int) -> None:
    with pytest.raises(ValueError, match="multiple of 8"):
        joined_seed("x", bits=bits)
