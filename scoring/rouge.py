"""ROUGE-L, bit for bit the scores of ``rouge_score.rouge_scorer.RougeScorer(["rougeL"])``.

Configuration matched: rouge-score's default tokenizer, no stemmer, ``score(target,
prediction)`` argument order. Tokens: Python's ``str.lower()``, every run of characters
outside ``[a-z0-9]`` becomes a space, split (rouge-score then drops tokens not matching
``^[a-z0-9]+$``, which after that substitution is none). Precision = LCS / len(prediction),
recall = LCS / len(target), F1 = 2PR / (P + R), in that float order; 0 when either side has
no tokens. The reference stays rouge-score: tests/scoring/test_rouge.py compares on random
strings.

The LCS length is computed bit-parallel (Allison-Dix 1986, in Hyyrö's 2004 form) over
Python ints: one bit per target token, a handful of big-int operations per prediction token,
instead of rouge-score's len(target) x len(prediction) Python table.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

# rouge_score.tokenize.NON_ALPHANUM_PATTERN, applied after str.lower() as it does.
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


class RougeL(NamedTuple):
    """Precision, recall and F-measure, as rouge-score's ``Score``."""

    precision: float
    recall: float
    fmeasure: float


# The same rule as a byte table for ASCII text (lowercase; anything not [a-z0-9] a space):
# bytes.translate runs ~10x faster than the regex. Non-ASCII text takes the regex path,
# since str.lower() can turn a non-ASCII character into ASCII (KELVIN SIGN -> "k").
_ASCII_TABLE = bytes(
    (c + 32 if 65 <= c <= 90 else c) if chr(c).isalnum() and c < 128 else 32 for c in range(256)
)


def tokenize(text: str) -> list[str]:
    """rouge-score's default tokenisation without a stemmer."""
    return _NON_ALNUM.sub(" ", text.lower()).split()


def _tokens(text: str) -> list[bytes]:
    """``tokenize`` as ASCII bytes (the fast path; same tokens)."""
    if text.isascii():
        return text.encode().translate(_ASCII_TABLE).split()
    return [token.encode() for token in tokenize(text)]


def lcs_length(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """Length of the longest common subsequence of two token sequences (bit-parallel)."""
    if len(a) < len(b):
        a, b = b, a  # bits for the longer side: fewer big-int steps for the shorter one
    if not b:
        return 0
    masks: dict[Hashable, int] = {}
    for i, token in enumerate(a):
        masks[token] = masks.get(token, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    get = masks.get
    for token in b:
        u = v & get(token, 0)
        v = (v + u) | (v - u)
    return len(a) - (v & full).bit_count()


def rouge_l(target: str, prediction: str) -> RougeL:
    """ROUGE-L of ``prediction`` against ``target`` (the reference comes first)."""
    target_tokens = _tokens(target)
    prediction_tokens = _tokens(prediction)
    if not target_tokens or not prediction_tokens:
        return RougeL(0.0, 0.0, 0.0)
    lcs = lcs_length(target_tokens, prediction_tokens)
    precision = lcs / len(prediction_tokens)
    recall = lcs / len(target_tokens)
    if precision + recall > 0:
        return RougeL(precision, recall, 2 * precision * recall / (precision + recall))
    return RougeL(precision, recall, 0.0)


def rouge_l_f1(target: str, prediction: str) -> float:
    """ROUGE-L F1 of ``prediction`` against ``target``."""
    return rouge_l(target, prediction).fmeasure


def rouge_l_f1_many(targets: Sequence[str], predictions: Sequence[str]) -> npt.NDArray[np.float64]:
    """Element-wise ``rouge_l_f1`` of aligned lists, as a float64 array."""
    if len(targets) != len(predictions):
        raise ValueError(f"{len(targets)} targets but {len(predictions)} predictions")
    scores = [rouge_l_f1(t, p) for t, p in zip(targets, predictions, strict=True)]
    return np.array(scores, dtype=np.float64)
