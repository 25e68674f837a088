"""Contamination gate: flags training samples that are (disguised) copies of eval items.

Two detectors; a sample is contaminated when either fires, and the verdict names which
fired and the eval item matched (the lowest-index one, so the answer is deterministic).

**minhash** (catches reworded copies): LSH candidates over word-3-gram MinHash signatures
(``scoring.lsh``), confirmed when the exact Jaccard of the two 3-gram sets is at least
``CONTAMINATION_JACCARD`` AND every number of the eval prompt occurs in the sample. Exact,
not estimated, Jaccard: both texts are at hand here, and the +-0.044 noise of a 128-slot
estimate would cost recall or false positives at the margin. The number rule is what tells
two problems of one template apart ("Ana has 47 apples and gets 25 more" / "... 31 more"):
a copy keeps the numbers, since changing one makes another problem.

**ngram** (catches an eval item pasted into a longer text, where Jaccard is diluted): the
lm-evaluation-harness rule, any shared 13-gram of normalised words with the eval item's full
text. Task prompts are 5-20 words, shorter than 13, so a prompt of ``MIN_PROMPT_WORDS`` (8)
to 12 words contributes itself whole as one n-gram (n = its length): containing the entire
eval prompt is containing the eval problem. Shorter prompts contribute nothing: a 5-word
"sort alphabetically: a b c" sits inside the different problem "... a b c d" and would
fire on it; those are left to the minhash detector.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from scoring.lsh import BANDS, candidate_pairs
from scoring.minhash import MinHasher
from scoring.text import jaccard, numbers, word_ngrams, words

# Exact word-3-gram Jaccard that confirms a minhash candidate. Measured on task items
# (tests/scoring/test_contamination.py, 256 eval items x 1000 distinct candidates): at 0.4
# recall 0.98 on copies with 10% of words substituted and sentences reordered, false
# positives 0.7% per sample; at 0.35 recall gains 0.01 and false positives double.
CONTAMINATION_JACCARD = 0.4

# The n-gram length of GPT-3's and lm-evaluation-harness's decontamination.
NGRAM_N = 13

# Shortest prompt that counts as an n-gram on its own (see module docstring): 8 words hold
# the template plus its numbers for every task family that has them.
MIN_PROMPT_WORDS = 8

MINHASH = "minhash"
NGRAM = "ngram"


@dataclass(frozen=True)
class EvalItem:
    """One eval item: its id, its prompt, and its full text (``text.join_fields``)."""

    item_id: str
    prompt: str
    text: str


@dataclass(frozen=True)
class ContaminationVerdict:
    """The gate's answer for one sample."""

    index: int
    contaminated: bool
    item_id: str | None = None  # the eval item matched (first detector that fired)
    detectors: tuple[str, ...] = ()  # "ngram", "minhash", or both
    similarity: float = 0.0  # exact 3-gram Jaccard with that item (0 if only ngram fired)


@dataclass
class EvalPoolIndex:
    """The eval pool prepared once per round; ``check`` gates any number of samples."""

    items: Sequence[EvalItem]
    hasher: MinHasher = field(default_factory=MinHasher)

    def __post_init__(self) -> None:
        n = self.hasher.params.ngram
        self._signatures = self.hasher.signatures([it.text for it in self.items])
        self._shingles = [word_ngrams(words(it.text), n) for it in self.items]
        self._prompt_numbers = [numbers(it.prompt) for it in self.items]
        # n-gram -> lowest index of an eval item holding it, per n in use.
        self._grams: dict[tuple[str, ...], int] = {}
        for index, item in enumerate(self.items):
            grams = set(_long_grams(words(item.text)))
            prompt = words(item.prompt)
            if MIN_PROMPT_WORDS <= len(prompt) < NGRAM_N:
                grams.add(tuple(prompt))
            for gram in grams:
                self._grams.setdefault(gram, index)
        self._lengths = sorted({len(g) for g in self._grams})

    def check(self, texts: Sequence[str]) -> list[ContaminationVerdict]:
        """One verdict per text (a sample's ``text.join_fields``), in order."""
        ngram_hit = [self._ngram_match(words(t)) for t in texts]
        minhash_hit: list[tuple[int, float] | None] = [None] * len(texts)
        if self.items and texts:
            n = self.hasher.params.ngram
            sigs = self.hasher.signatures(list(texts))
            cache: dict[int, tuple[set[tuple[str, ...]], Counter[str]]] = {}
            for i, j in candidate_pairs(sigs, self._signatures, BANDS):
                current = minhash_hit[i]
                if current is not None and current[0] < j:
                    continue
                if i not in cache:
                    cache[i] = (word_ngrams(words(texts[i]), n), numbers(texts[i]))
                shingles, nums = cache[i]
                if self._prompt_numbers[j] - nums:
                    continue  # an eval number is missing: another problem
                similarity = jaccard(shingles, self._shingles[j])
                if similarity >= CONTAMINATION_JACCARD:
                    minhash_hit[i] = (j, similarity)
        return [self._verdict(i, ngram_hit[i], minhash_hit[i]) for i in range(len(texts))]

    def _ngram_match(self, tokens: list[str]) -> int | None:
        best: int | None = None
        for n in self._lengths:
            for start in range(len(tokens) - n + 1):
                hit = self._grams.get(tuple(tokens[start : start + n]))
                if hit is not None and (best is None or hit < best):
                    best = hit
        return best

    def _verdict(
        self, index: int, ngram: int | None, minhash: tuple[int, float] | None
    ) -> ContaminationVerdict:
        if ngram is None and minhash is None:
            return ContaminationVerdict(index, contaminated=False)
        detectors = tuple(
            name for name, hit in ((NGRAM, ngram), (MINHASH, minhash)) if hit is not None
        )
        first = min(x for x in (ngram, minhash[0] if minhash else None) if x is not None)
        similarity = minhash[1] if minhash is not None and minhash[0] == first else 0.0
        return ContaminationVerdict(index, True, self.items[first].item_id, detectors, similarity)


def _long_grams(tokens: list[str]) -> list[tuple[str, ...]]:
    """The ``NGRAM_N``-grams of a text long enough to have any."""
    if len(tokens) < NGRAM_N:
        return []
    return [tuple(tokens[i : i + NGRAM_N]) for i in range(len(tokens) - NGRAM_N + 1)]


def check_contamination(
    texts: Sequence[str], pool: Sequence[EvalItem]
) -> list[ContaminationVerdict]:
    """One-shot form of ``EvalPoolIndex(pool).check(texts)``."""
    return EvalPoolIndex(pool).check(texts)


def contaminated_share(verdicts: Sequence[ContaminationVerdict]) -> float:
    """Share of samples flagged (0.0 for none)."""
    return float(np.mean([v.contaminated for v in verdicts])) if verdicts else 0.0
