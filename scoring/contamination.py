"""Contamination gate: flags training samples that are (disguised) copies of eval items.

Two detectors; a sample is contaminated when either fires, and the verdict names which
fired and the eval item matched (the lowest-index one, so the answer is deterministic).
Every text is read through ``text.match_words`` (``text.canonical``: look-alike letters,
invisible characters, case, spacing and punctuation cannot hide a copy).

**minhash** (catches reworded copies): candidates by word-set MinHash estimate against every
eval item, confirmed when every number of the eval prompt occurs in the sample (a
copy keeps the numbers, since changing one makes another problem; it may add ids and line
numbers) AND the exact word-set Jaccard of the two texts reaches the threshold their answers
call for (the rule of ``scoring.dedup``): ``SAME_ANSWER_JACCARD`` when the sample's final
answer is the eval item's, ``OTHER_ANSWER_JACCARD`` when both have answers and they differ,
``CONTAMINATION_JACCARD`` when either has none and both are long texts
(``scoring.dedup.LONG_TEXT_WORDS``). A short unanswered text (a preference prompt) is
confirmed by its word *3-grams* instead (exact Jaccard >= ``SHORT_TEXT_3GRAM_JACCARD``): the
word set of a one-line prompt is mostly function words, its word order is what it says.
Exact, not estimated, Jaccard: both texts are at hand here.

**ngram** (catches an eval item pasted into a longer text, where Jaccard is diluted): the
lm-evaluation-harness rule, any shared 13-gram of normalised words with the eval item's full
text, with the number rule above (templated items share 13-grams of template words). Task prompts are 5-20 words, shorter than 13, so a prompt of ``MIN_PROMPT_WORDS`` (8)
to 12 words contributes itself whole as one n-gram (n = its length): containing the entire
eval prompt is containing the eval problem. Shorter prompts contribute nothing: a 5-word
"sort alphabetically: a b c" sits inside the different problem "... a b c d" and would
fire on it; those are left to the minhash detector.

The verdict is per sample: each sample is judged on its own, so a submission with one copy
among honest samples has exactly that sample flagged (the round's consequence is the
caller's: ``validator/stages/screening.py`` drops flagged samples and zeroes the round for
more than chance explains, ``scoring/chance.py``, or for any proof: a sample holding a
marked item's marker, a canary's tag).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from common.text import (
    answer_key,
    answer_shape,
    answers_match,
    jaccard,
    match_words,
    numbers,
    word_ngrams,
)
from scoring.dedup import LONG_TEXT_WORDS, OTHER_ANSWER_JACCARD, SAME_ANSWER_JACCARD
from scoring.lsh import empty_rows
from scoring.minhash import MinHasher

# Exact word-set Jaccard that confirms a candidate when either side has no answer: measured
# like ``scoring.dedup.DUPLICATE_JACCARD`` (bench/bench_evasion.py): copies of 1 KB texts
# under every perturbation at once keep >= 0.56 of their word set, distinct texts <= 0.25.
CONTAMINATION_JACCARD = 0.45

# Exact word-3-gram Jaccard that confirms a short unanswered text (the gate's rule before
# word sets, kept for prompts): no training prompt of the safety generator reaches it against
# its eval split (tests/tasks/test_safety_prompts.py), copies with 10% of words substituted
# sit above it.
SHORT_TEXT_3GRAM_JACCARD = 0.4

# How far below its threshold an item's MinHash estimate may be and still be confirmed
# exactly: 3.4 standard errors at 128 permutations (sqrt(0.25/128) = 0.044), so a pair that
# passes exactly is practically never skipped for its estimate.
GATE_MARGIN = 0.15

# The n-gram length of GPT-3's and lm-evaluation-harness's decontamination.
NGRAM_N = 13

# Shortest prompt that counts as an n-gram on its own (see module docstring): 8 words hold
# the template plus its numbers for every task family that has them.
MIN_PROMPT_WORDS = 8

MINHASH = "minhash"
NGRAM = "ngram"


@dataclass(frozen=True)
class EvalItem:
    """One eval item: its id, its prompt, its full text (``text.join_fields``), its answer."""

    item_id: str
    prompt: str
    text: str
    answer: str = ""  # the final answer, "" for items without one (preference prompts)
    # A word only a copy of this item can hold (a canary's secret-derived tag), "" for none: a
    # sample that matches the item and holds its marker is proof of copying, not chance.
    marker: str = ""


@dataclass(frozen=True)
class ContaminationVerdict:
    """The gate's answer for one sample."""

    index: int
    contaminated: bool
    item_id: str | None = None  # the eval item matched (first detector that fired)
    detectors: tuple[str, ...] = ()  # "ngram", "minhash", or both
    similarity: float = 0.0  # exact word-set Jaccard with that item (0 if only ngram fired)
    proof: bool = False  # the sample holds the matched item's marker: a copy, not a coincidence


@dataclass
class EvalPoolIndex:
    """The eval pool prepared once per round; ``check`` gates any number of samples."""

    items: Sequence[EvalItem]
    hasher: MinHasher = field(default_factory=MinHasher)

    def __post_init__(self) -> None:
        self._signatures = self.hasher.signatures([it.text for it in self.items])
        self._words = [frozenset(match_words(it.text)) for it in self.items]
        self._prompt_numbers = [numbers(it.prompt) for it in self.items]
        self._answer_array = np.array([answer_key(it.answer) for it in self.items], dtype=object)
        self._answered = self._answer_array != ""
        self._shapes = np.array([answer_shape(a) for a in self._answer_array], dtype=object)
        self._empty = empty_rows(self._signatures)
        self._sizes = np.array([len(w) for w in self._words], dtype=np.int64)
        self._trigrams = [word_ngrams(match_words(it.text), 3) for it in self.items]
        # n-gram -> indices of the eval items holding it, in order, per n in use.
        self._grams: dict[tuple[str, ...], list[int]] = {}
        for index, item in enumerate(self.items):
            grams = set(_long_grams(match_words(item.text)))
            prompt = match_words(item.prompt)
            if MIN_PROMPT_WORDS <= len(prompt) < NGRAM_N:
                grams.add(tuple(prompt))
            for gram in grams:
                self._grams.setdefault(gram, []).append(index)
        self._lengths = sorted({len(g) for g in self._grams})
        self._marked = [it for it in self.items if it.marker]

    def check(
        self, texts: Sequence[str], answers: Sequence[str] | None = None
    ) -> list[ContaminationVerdict]:
        """One verdict per text (a sample's ``text.join_fields``), in order.

        ``answers``: each sample's final answer ("" for none), or None when none has one.
        """
        if answers is not None and len(answers) != len(texts):
            raise ValueError(f"{len(answers)} answers for {len(texts)} texts")
        ngram_hit = [self._ngram_match(match_words(t), numbers(t)) for t in texts]
        minhash_hit: list[tuple[int, float] | None] = [None] * len(texts)
        if self.items and texts:
            sigs = self.hasher.signatures(list(texts))
            for i in np.flatnonzero(~empty_rows(sigs)).tolist():
                answer = answer_key(answers[i]) if answers is not None else ""
                minhash_hit[i] = self._minhash_match(texts[i], sigs[i], answer)
        verdicts = [self._verdict(i, ngram_hit[i], minhash_hit[i]) for i in range(len(texts))]
        return [self._with_proof(v, texts[v.index]) if v.contaminated else v for v in verdicts]

    def _with_proof(self, verdict: ContaminationVerdict, text: str) -> ContaminationVerdict:
        """``verdict`` with ``proof`` set when the sample holds any marked item's marker.

        Any marker, not only the matched item's: the match names the lowest-index item, and a
        canary is a task like any other, so its problem may also be an earlier item's. A
        marker is secret-derived, so only a copy of a published set holds one.
        """
        words = set(match_words(text))
        for item in self._marked:
            if item.marker in words:
                return replace(verdict, proof=True)
        return verdict

    def _minhash_match(
        self, text: str, signature: npt.NDArray[np.uint32], answer: str
    ) -> tuple[int, float] | None:
        """The lowest-index eval item the minhash detector confirms for one sample.

        The pool is small (a few thousand items): every item's estimate is one numpy
        comparison, and only those within ``GATE_MARGIN`` of their threshold are confirmed.
        """
        estimate = np.mean(self._signatures == signature, axis=1)
        if answer:
            same = self._shapes == answer_shape(answer)
            for j in np.flatnonzero(same).tolist():
                same[j] = answers_match(answer, self._answer_array[j])
            limits = np.where(
                self._answered,
                np.where(same, SAME_ANSWER_JACCARD, OTHER_ANSWER_JACCARD),
                CONTAMINATION_JACCARD,
            )
        else:
            limits = np.full(len(self.items), CONTAMINATION_JACCARD)
        close = np.flatnonzero((estimate >= limits - GATE_MARGIN) & ~self._empty)
        if close.size == 0:
            return None
        words = match_words(text)
        tokens, nums = frozenset(words), numbers(text)
        short = np.minimum(self._sizes, len(tokens)) < LONG_TEXT_WORDS
        trigrams = word_ngrams(words, 3) if short[close].any() else set()
        for j in close.tolist():
            if self._prompt_numbers[j] - nums:
                continue  # an eval number is missing: another problem
            if short[j] and not (answer and self._answered[j]):
                similarity = jaccard(trigrams, self._trigrams[j])
                if similarity >= SHORT_TEXT_3GRAM_JACCARD:
                    return j, similarity
                continue
            similarity = jaccard(tokens, self._words[j])
            if similarity >= limits[j]:
                return j, similarity
        return None

    def _ngram_match(self, tokens: list[str], nums: Counter[str]) -> int | None:
        """The lowest-index eval item sharing an n-gram whose prompt numbers are all here.

        The number rule holds here too: templated items share 13-grams of template words
        ("say them from the end to the start read from the end"), a pasted item keeps its
        numbers.
        """
        best: int | None = None
        for n in self._lengths:
            for start in range(len(tokens) - n + 1):
                for hit in self._grams.get(tuple(tokens[start : start + n]), ()):
                    if best is not None and hit >= best:
                        break
                    if not self._prompt_numbers[hit] - nums:
                        best = hit
                        break
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
    texts: Sequence[str], pool: Sequence[EvalItem], answers: Sequence[str] | None = None
) -> list[ContaminationVerdict]:
    """One-shot form of ``EvalPoolIndex(pool).check(texts, answers)``."""
    return EvalPoolIndex(pool).check(texts, answers)


def contaminated_share(verdicts: Sequence[ContaminationVerdict]) -> float:
    """Share of samples flagged (0.0 for none)."""
    return float(np.mean([v.contaminated for v in verdicts])) if verdicts else 0.0
