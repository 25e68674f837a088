"""ROUGE-L equals rouge-score's, exactly, including on hostile random strings."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer

from scoring.rouge import lcs_length, rouge_l, rouge_l_f1, rouge_l_f1_many, tokenize

REFERENCE = rouge_scorer.RougeScorer(["rougeL"])


def _reference(target: str, prediction: str) -> tuple[float, float, float]:
    score = REFERENCE.score(target, prediction)["rougeL"]
    return (score.precision, score.recall, score.fmeasure)


# Small alphabets make long common subsequences likely; the full one covers Unicode case.
_small = st.text(alphabet="ab c.AB\n1", max_size=60)
_words = st.lists(
    st.sampled_from(["the", "cat", "sat", "on", "mat", "7", "A", "the."]), max_size=40
).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(_small, _words, st.text(max_size=80)), st.one_of(_small, _words, st.text(max_size=80))
)
def test_identical_to_rouge_score(target: str, prediction: str) -> None:
    assert tuple(rouge_l(target, prediction)) == _reference(target, prediction)


@pytest.mark.parametrize(
    ("target", "prediction"),
    [
        ("", ""),
        ("", "a"),
        ("a", ""),
        ("!!!", "a"),
        ("The cat.", "the CAT"),
        ("KELVIN \u212a", "k"),
        ("İstanbul", "i stanbul"),
        ("a b c d", "d c b a"),
        ("x " * 300, "x " * 150),
    ],
)
def test_edge_cases(target: str, prediction: str) -> None:
    assert tuple(rouge_l(target, prediction)) == _reference(target, prediction)


def test_lcs_matches_dynamic_programming_on_long_sequences() -> None:
    rng = random.Random(0)
    for _ in range(50):
        a = rng.choices("abcde", k=rng.randint(0, 200))
        b = rng.choices("abcde", k=rng.randint(0, 200))
        table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
        for i in range(len(a)):
            for j in range(len(b)):
                table[i + 1][j + 1] = (
                    table[i][j] + 1 if a[i] == b[j] else max(table[i][j + 1], table[i + 1][j])
                )
        assert lcs_length(a, b) == table[-1][-1]


def test_many_and_tokenize() -> None:
    assert tokenize("Hello, World_2!") == ["hello", "world", "2"]
    assert list(rouge_l_f1_many(["a b", "c"], ["a b", "d"])) == [1.0, 0.0]
    assert rouge_l_f1("72", "72") == 1.0
    with pytest.raises(ValueError):
        rouge_l_f1_many(["a"], [])
