"""Text normalisation shared by every near-duplicate detector.

The rule: casefold, keep runs of Unicode letters and digits as words, drop everything else
(punctuation, underscores, whitespace of any kind). So ``"Ana HAS 47 apples,  and"`` and
``"ana has 47 apples and"`` give the same words, and a perturbation of case, punctuation or
spacing cannot change a shingle. Numbers are words: templated task items differ *only* in
their numbers, so dropping them would make every item of a template look alike.

Sample fields are joined with a newline before normalisation; the newline is whitespace, so
the joined text reads as one word sequence (a copy cannot hide by moving a field boundary).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter

# Letters and digits of any script; `\w` minus the underscore, which is punctuation here.
_WORD_RE = re.compile(r"[^\W_]+")
# Digit runs: "3.5" is the two numbers 3 and 5, as it is for the word tokeniser above.
_NUMBER_RE = re.compile(r"\d+")


def words(text: str) -> list[str]:
    """The normalised word sequence of ``text`` (casefolded letters/digits runs)."""
    return _WORD_RE.findall(text.casefold())


def numbers(text: str) -> Counter[str]:
    """The multiset of digit runs in ``text``, leading zeros kept ("07" is not "7")."""
    return Counter(_NUMBER_RE.findall(text))


def join_fields(*fields: str) -> str:
    """One fingerprintable text from a sample's fields (prompt, chain of thought, answer)."""
    return "\n".join(fields)


def word_ngrams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    """Contiguous word ``n``-grams; a non-empty sequence shorter than ``n`` is one gram."""
    if not tokens:
        return set()
    if len(tokens) < n:
        return {tuple(tokens)}
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def jaccard(a: set[tuple[str, ...]], b: set[tuple[str, ...]]) -> float:
    """Exact Jaccard |a ∩ b| / |a ∪ b|; two empty sets have nothing in common (0.0)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def numbers_digest(text: str) -> str:
    """A 16-hex digest of the sorted multiset of numbers in ``text`` (order-free).

    A copy keeps its numbers (changing one makes another problem); two items of one template
    differ in them. Stored beside a signature, it tells those apart for the price of 8 bytes.
    """
    joined = "\x00".join(sorted(numbers(text).elements()))
    return hashlib.blake2b(joined.encode(), digest_size=8).hexdigest()
