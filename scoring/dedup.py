"""Near-duplicate detection: within a submission, across miners in a round, against history.

The rule, applied to every sample in a fixed order:

1. **History first.** A sample that matches any sample credited in an earlier round is
   ``duplicate_of_history``: whoever held it first keeps the credit.
2. **Then the round, in priority order.** Miners are processed by ``(commit_block, uid)``:
   the block at which the miner committed its manifest hash on chain (``None`` sorts after
   every block), ties broken by uid. A commitment on chain cannot be back-dated, so a copier
   that saw someone's data cannot rank ahead of it by answering faster: arrival time, which
   a miner can race, plays no part. Within a miner, samples keep their served order.
   A sample matching a kept sample of a miner ranked earlier is ``duplicate_of_miner <uid>``;
   matching an earlier kept sample of its own submission, ``duplicate_within``.
3. Otherwise it is kept, and later samples are checked against it.

"Matching" means: the two texts share an LSH band (``scoring.lsh``) of their word-set
MinHash signatures, their numbers are compatible (``text.contained``: the smaller multiset
inside the larger, so a copy may *add* numbers, ids, line numbers, but not change one), and
their estimated word-set Jaccard reaches the threshold their answers call for:

- both have a final answer and it is the same (``text.answer_key``, compared by
  ``text.answers_match``: a look-alike the confusables data misses does not make another
  answer): ``SAME_ANSWER_JACCARD``.
  Same numbers, same answer and some of the same words is one problem, however reworded;
- both have answers and they differ: ``OTHER_ANSWER_JACCARD``, near-verbatim only. Two items
  of one template ("Ana has 47 apples and gets 25 more" / "... 31 more") share most words;
  their numbers or answers tell them apart;
- otherwise (no answer: preference prompts, free text): ``DUPLICATE_JACCARD`` when both
  texts have at least ``LONG_TEXT_WORDS`` distinct words, ``SHORT_TEXT_JACCARD`` when one
  is shorter: the word set of a one-line prompt is mostly function words ("explain how ...
  please be brief"), so sharing half of it says nothing.

Candidates come from LSH bands of the signature and from an exact index by answer key
(``FingerprintIndex``); a match is the earliest-added candidate that passes the rule.

The history is an explicit input: ``HistoryIndex`` serialises to and from a ``dict[str,
str]`` (a Redis hash, say) and says which entries each ``add`` created, so storage can
write only those. Its parameters fingerprint is stored with it and checked on load.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from common.text import answer_key, answer_shape, answers_match, contained, match_words, numbers
from scoring.lsh import BandIndex, band_keys, empty_rows
from scoring.minhash import MinHasher, MinHashParams, estimate_jaccard, is_empty

# The thresholds below are estimated word-set Jaccard (128 permutations, +-0.044), measured by
# bench/bench_evasion.py over 1,000 task items and 500 1 KB paragraphs under every kind of
# tests/support/perturb.py and all of them at once.
# Texts without answers: copies of 1 KB paragraphs under every perturbation at once keep
# >= 0.56 of their word set; distinct paragraphs share <= 0.25 (nearest neighbour).
DUPLICATE_JACCARD = 0.45
# Distinct words below which an unanswered text is "short" (see the module docstring): a
# 1 KB paragraph has ~110, a task or preference prompt 5-20.
LONG_TEXT_WORDS = 40
# Short unanswered texts (preference prompts): near-verbatim only.
SHORT_TEXT_JACCARD = 0.8
# Same answer and compatible numbers: task-item copies under every perturbation at once keep
# >= 0.19 of their word set (5th percentile 0.30); distinct items almost never share both an
# answer and a number multiset, so the words only have to say "some of the same text".
SAME_ANSWER_JACCARD = 0.15
# Different answers: distinct word-sort items (no numbers, so always compatible) share up to
# 0.70 of their word set; 0.8 is above that with the estimate's noise.
OTHER_ANSWER_JACCARD = 0.8

# LSH bands for dedup: 32 bands of 4 rows at 128 permutations. A pair of word-set Jaccard J
# is a candidate with probability 1 - (1 - J^4)^32: 0.96 at 0.56 (the least a 1 KB copy under
# every perturbation keeps), 0.9999 at 0.8, but only 0.12 at 0.25 and 0.016 at 0.15, so
# distinct texts of shared vocabulary do not all become candidates of one another (2-row
# bands would make 93% of pairs at J = 0.2 candidates: a scan of the whole history).
DEDUP_BANDS = 32

# Bumped when the matching rule or the stored row format changes (stored with the history).
DEDUP_RULE = "dedup/v2:contained-numbers,answer-key,short-texts"

DUPLICATE_WITHIN = "duplicate_within"
DUPLICATE_OF_MINER = "duplicate_of_miner"
DUPLICATE_OF_HISTORY = "duplicate_of_history"

_PARAMS_KEY = "params"
_SIG_PREFIX = "sig:"
_BAND_PREFIX = "band:"


@dataclass(frozen=True)
class Submission:
    """One miner's samples for the round, as fingerprint texts (``text.join_fields``).

    ``answers``: each sample's final answer ("" for none), or None when no sample has one
    (preference prompts, free text).
    """

    uid: int
    texts: Sequence[str]
    commit_block: int | None = None  # block of the on-chain manifest commitment, if any
    answers: Sequence[str] | None = None


@dataclass(frozen=True, eq=False)
class Fingerprint:
    """What dedup compares of one sample: word-set signature, numbers, answer identity."""

    signature: npt.NDArray[np.uint32]
    numbers: Counter[str]
    answer: str  # ``text.answer_key`` of the final answer, "" when there is none
    size: int  # distinct match words

    def features(self) -> str:
        """Everything but the signature: ``<numbers, "."-joined>:<size>:<answer key>``."""
        return f"{'.'.join(sorted(self.numbers.elements()))}:{self.size}:{self.answer}"

    def encode(self) -> str:
        """``<base64 little-endian uint32 signature>:<features()>``."""
        raw = base64.b64encode(self.signature.astype("<u4").tobytes()).decode()
        return f"{raw}:{self.features()}"

    @classmethod
    def from_features(cls, signature: npt.NDArray[np.uint32], features: str) -> Fingerprint:
        """A fingerprint from its signature and ``features()``."""
        nums, size, answer = features.split(":", 2)
        return cls(signature, Counter(nums.split(".")) if nums else Counter(), answer, int(size))

    @classmethod
    def decode(cls, value: str) -> Fingerprint:
        """Inverse of ``encode``."""
        raw, features = value.split(":", 1)
        signature = np.frombuffer(base64.b64decode(raw), dtype="<u4").astype(np.uint32)
        return cls.from_features(signature, features)


def fingerprints(
    texts: Sequence[str], answers: Sequence[str] | None, hasher: MinHasher
) -> list[Fingerprint]:
    """The fingerprints of a batch of texts (``answers`` aligned with them, or None)."""
    sigs = hasher.signatures(list(texts))
    keys = [answer_key(a) for a in answers] if answers is not None else [""] * len(texts)
    if len(keys) != len(texts):
        raise ValueError(f"{len(keys)} answers for {len(texts)} texts")
    return [
        Fingerprint(sigs[i], numbers(t), keys[i], len(set(match_words(t))))
        for i, t in enumerate(texts)
    ]


def threshold(a: Fingerprint, b: Fingerprint) -> float:
    """The Jaccard two samples must reach to be one (module docstring)."""
    if a.answer and b.answer:
        same = answers_match(a.answer, b.answer)
        return SAME_ANSWER_JACCARD if same else OTHER_ANSWER_JACCARD
    return DUPLICATE_JACCARD if min(a.size, b.size) >= LONG_TEXT_WORDS else SHORT_TEXT_JACCARD


def same_sample(a: Fingerprint, b: Fingerprint) -> float | None:
    """The estimated Jaccard when ``a`` and ``b`` are one sample by the rule, else None."""
    if not contained(a.numbers, b.numbers):
        return None
    similarity = estimate_jaccard(a.signature, b.signature)
    return similarity if similarity >= threshold(a, b) else None


@dataclass(frozen=True)
class Verdict:
    """What dedup decided for one sample; ``reason`` is None for a kept sample."""

    index: int
    kept: bool
    reason: str | None = None  # "duplicate_within", "duplicate_of_miner <uid>", ...
    matched: str | None = None  # owner label of the sample it duplicates
    similarity: float = 0.0  # estimated Jaccard with that sample


@dataclass
class MinerDedup:
    """Dedup outcome for one miner: a verdict per sample, and the fingerprints computed."""

    uid: int
    verdicts: list[Verdict]
    fingerprints: list[Fingerprint]

    @property
    def kept(self) -> list[int]:
        """Indices of the samples that survive."""
        return [v.index for v in self.verdicts if v.kept]

    def counts(self) -> dict[str, int]:
        """``{"offered", "kept", "duplicate_within", "duplicate_of_miner", ...}`` counts."""
        out = {
            "offered": len(self.verdicts),
            "kept": 0,
            DUPLICATE_WITHIN: 0,
            DUPLICATE_OF_MINER: 0,
            DUPLICATE_OF_HISTORY: 0,
        }
        for v in self.verdicts:
            out["kept" if v.kept else (v.reason or "").split(" ")[0]] += 1
        return out


def history_fingerprint(params: MinHashParams) -> str:
    """What a stored history is made under: the MinHash parameters and the dedup rule."""
    return f"{params.fingerprint()}|{DEDUP_RULE}"


class FingerprintIndex:
    """Fingerprints in the order added, with the two ways to find a sample's candidates.

    - LSH bands of the signature (``DEDUP_BANDS``): pairs above the unanswered and
      other-answer thresholds (0.45, 0.8) are candidates with probability >= 0.96 at the
      Jaccard that copies keep (0.56 and up).
    - An index by answer shape (``text.answer_shape``): the same-answer threshold (0.15) is far below what banding
      can reach without making every templated pair a candidate, and sharing the answer is
      already most of the evidence. A bucket is scanned in one numpy comparison.
    """

    def __init__(self, bands: int = DEDUP_BANDS):
        self.bands = bands
        self._prints: list[Fingerprint] = []
        self._lsh = BandIndex(bands)
        self._by_answer: dict[str, list[int]] = {}
        # Signatures, answer keys, answer shapes, sizes: arrays grown by doubling.
        self._matrix = np.zeros((0, 0), dtype=np.uint32)
        self._answers = np.zeros(0, dtype=object)
        self._shapes = np.zeros(0, dtype=object)
        self._sizes = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._prints)

    def __getitem__(self, item: int) -> Fingerprint:
        return self._prints[item]

    def add(self, fingerprint: Fingerprint) -> npt.NDArray[np.uint64] | None:
        """Index one fingerprint (id = order added); returns its band keys (None if empty)."""
        item = len(self._prints)
        self._prints.append(fingerprint)
        signature = fingerprint.signature
        if item >= len(self._matrix):
            size = max(64, 2 * len(self._matrix))
            self._matrix = _grown(self._matrix, (size, signature.size), item)
            self._answers = _grown(self._answers, (size,), item)
            self._shapes = _grown(self._shapes, (size,), item)
            self._sizes = _grown(self._sizes, (size,), item)
        self._matrix[item] = signature
        self._answers[item] = fingerprint.answer
        self._shapes[item] = answer_shape(fingerprint.answer)
        self._sizes[item] = fingerprint.size
        if empty_rows(signature[None, :])[0]:
            return None
        keys = band_keys(signature[None, :], self.bands)[0]
        self._lsh.add(item, keys)
        if fingerprint.answer:
            self._by_answer.setdefault(answer_shape(fingerprint.answer), []).append(item)
        return keys

    def holders(self, band: int, key: int) -> list[int]:
        """Ids in one LSH bucket, in the order added."""
        return self._lsh.holders(band, key)

    def buckets(self) -> dict[tuple[int, int], list[int]]:
        """Every LSH bucket: ``(band, key) -> ids``."""
        return self._lsh.buckets()

    def match(self, fingerprint: Fingerprint) -> tuple[int, float] | None:
        """The earliest-added fingerprint ``fingerprint`` is one sample with, and the estimate.

        Candidates (LSH buckets and the answer-shape bucket) are estimated in one numpy
        comparison against the signature matrix; only those at or above their threshold get
        the number and answer checks, earliest first. Templated items of one family share
        most words, so a family's items are often all LSH candidates of one another: the
        vectorised estimate is what keeps that a matrix operation.
        """
        signature = fingerprint.signature
        if empty_rows(signature[None, :])[0]:
            return None
        ids = self._lsh.candidate_array(band_keys(signature[None, :], self.bands)[0])
        if fingerprint.answer:
            bucket = self._by_answer.get(answer_shape(fingerprint.answer))
            if bucket:
                ids = np.union1d(ids, np.asarray(bucket, dtype=np.int64))
        if ids.size == 0:
            return None
        estimates = np.mean(self._matrix[ids] == signature, axis=1)
        limits = self._limits(fingerprint, ids)
        passing = np.flatnonzero(estimates >= limits)
        for k in passing.tolist():  # ids are sorted: earliest first
            item = int(ids[k])
            if contained(self._prints[item].numbers, fingerprint.numbers):
                return item, float(estimates[k])
        return None

    def _limits(
        self, fingerprint: Fingerprint, ids: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float64]:
        """``threshold(candidate, fingerprint)`` for every candidate id, vectorised."""
        long = np.minimum(self._sizes[ids], fingerprint.size) >= LONG_TEXT_WORDS
        limits = np.where(long, DUPLICATE_JACCARD, SHORT_TEXT_JACCARD)
        if not fingerprint.answer:
            return limits
        answered = self._answers[ids] != ""
        same = self._shapes[ids] == answer_shape(fingerprint.answer)
        for k in np.flatnonzero(same).tolist():
            same[k] = answers_match(self._answers[ids[k]], fingerprint.answer)
        by_answer = np.where(same, SAME_ANSWER_JACCARD, OTHER_ANSWER_JACCARD)
        return np.where(answered, by_answer, limits)


def _grown(array: npt.NDArray[Any], shape: tuple[int, ...], used: int) -> npt.NDArray[Any]:
    """``array`` copied into a zeroed array of ``shape`` (its first ``used`` rows kept)."""
    out = np.zeros(shape, dtype=array.dtype)
    if array.dtype == object:
        out[:] = ""
    if used:
        out[:used] = array[:used]
    return out


@dataclass
class HistoryIndex:
    """Samples credited in earlier rounds: owner label -> fingerprint, plus the band buckets.

    Serialised form (``to_dict``), all strings: ``"params"`` -> ``history_fingerprint``;
    ``"sig:<owner>"`` -> ``<order added>:<Fingerprint.encode()>``;
    ``"band:<b>:<key hex>"`` -> owners holding that band, comma-joined. Owner labels must not
    contain a comma (e.g. ``"<uid>/<round_id>/<sample sha256>"``).
    """

    params: MinHashParams = field(default_factory=MinHashParams)
    bands: int = DEDUP_BANDS
    _owners: list[str] = field(default_factory=list)
    _ids: dict[str, int] = field(default_factory=dict)
    _index: FingerprintIndex = field(init=False)

    def __post_init__(self) -> None:
        self._index = FingerprintIndex(self.bands)

    def __len__(self) -> int:
        return len(self._owners)

    def add(self, owner: str, fingerprint: Fingerprint) -> dict[str, str]:
        """Index one credited sample; returns the serialised entry it created.

        Only the ``sig:`` row: band rows are derived data (``to_dict`` writes them, loading
        recomputes them). Returning a templated family's band rows on every add would cost
        the size of its buckets each time: quadratic in the history.
        """
        if "," in owner or owner in self._ids:
            raise ValueError(f"owner label {owner!r} has a comma or is already indexed")
        signature = fingerprint.signature
        if signature.shape != (self.params.num_perm,):
            raise ValueError(f"signature shape {signature.shape} does not fit {self.params}")
        item = len(self._owners)
        self._owners.append(owner)
        self._ids[owner] = item
        self._index.add(fingerprint)
        return {_SIG_PREFIX + owner: f"{item}:{fingerprint.encode()}"}

    def matches(self, fingerprint: Fingerprint) -> tuple[str, float] | None:
        """The earliest-added history sample this one duplicates, with the estimate."""
        hit = self._index.match(fingerprint)
        return (self._owners[hit[0]], hit[1]) if hit is not None else None

    def to_dict(self) -> dict[str, str]:
        """Every entry as strings (see the class docstring)."""
        out = {_PARAMS_KEY: history_fingerprint(self.params)}
        for seq, owner in enumerate(self._owners):
            out[_SIG_PREFIX + owner] = f"{seq}:{self._index[seq].encode()}"
        for (band, key), holders in self._index.buckets().items():
            out[f"{_BAND_PREFIX}{band}:{key:016x}"] = ",".join(self._owners[h] for h in holders)
        return out

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, str],
        params: MinHashParams | None = None,
        bands: int = DEDUP_BANDS,
    ) -> HistoryIndex:
        """Rebuild from ``to_dict`` output (band entries are recomputed from signatures).

        Raises ``StaleHistory`` when the stored fingerprint is not ``params``' under this
        rule: signatures made under other parameters or another text normalisation do not
        compare.
        """
        params = params or MinHashParams()
        stored = data.get(_PARAMS_KEY)
        if stored is not None and stored != history_fingerprint(params):
            raise StaleHistory(stored, history_fingerprint(params))
        index = cls(params=params, bands=bands)
        rows = []
        for key, value in data.items():
            if key.startswith(_SIG_PREFIX):
                seq, encoded = value.split(":", 1)
                rows.append((int(seq), key[len(_SIG_PREFIX) :], Fingerprint.decode(encoded)))
        for _, owner, fingerprint in sorted(rows, key=lambda row: (row[0], row[1])):
            index.add(owner, fingerprint)  # in the original order: earliest holder first
        return index


class StaleHistory(ValueError):
    """A stored history made under other MinHash parameters, normalisation or rule."""

    def __init__(self, stored: str, expected: str):
        super().__init__(f"history made with {stored}, not {expected}")
        self.stored = stored
        self.expected = expected


def priority(submission: Submission) -> tuple[int, int, int]:
    """Sort key of the round rule: committed first, earlier block first, then lower uid."""
    block = submission.commit_block
    return (0 if block is not None else 1, block if block is not None else 0, submission.uid)


def dedup_round(
    submissions: Sequence[Submission],
    history: HistoryIndex,
    hasher: MinHasher | None = None,
) -> dict[int, MinerDedup]:
    """Apply the module's rule to one round; the history is read, never modified.

    Returns a ``MinerDedup`` per uid. To credit kept samples afterwards, ``history.add`` them
    with the returned fingerprints.
    """
    hasher = hasher or MinHasher(history.params)
    if hasher.params != history.params:
        raise ValueError("hasher and history use different MinHash parameters")
    if len({s.uid for s in submissions}) != len(submissions):
        raise ValueError("one submission per uid")
    round_index = FingerprintIndex(history.bands)
    kept_owner: list[tuple[int, int]] = []  # (uid, index) of each round-kept sample
    results: dict[int, MinerDedup] = {}
    for sub in sorted(submissions, key=priority):
        prints = fingerprints(sub.texts, sub.answers, hasher)
        verdicts: list[Verdict] = []
        for i, fingerprint in enumerate(prints):
            verdict = _judge(i, fingerprint, sub.uid, history, round_index, kept_owner)
            verdicts.append(verdict)
            if verdict.kept and not is_empty(fingerprint.signature):
                round_index.add(fingerprint)
                kept_owner.append((sub.uid, i))
        results[sub.uid] = MinerDedup(sub.uid, verdicts, prints)
    return results


def _judge(
    i: int,
    fingerprint: Fingerprint,
    uid: int,
    history: HistoryIndex,
    round_index: FingerprintIndex,
    kept_owner: list[tuple[int, int]],
) -> Verdict:
    """One sample's verdict: history, then earlier-ranked miners and its own earlier samples."""
    if is_empty(fingerprint.signature):
        return Verdict(i, kept=True)  # no words: nothing to compare (validation's business)
    hit = history.matches(fingerprint)
    if hit is not None:
        return Verdict(i, False, DUPLICATE_OF_HISTORY, hit[0], hit[1])
    found = round_index.match(fingerprint)
    if found is None:
        return Verdict(i, kept=True)
    (other_uid, other_index), similarity = kept_owner[found[0]], found[1]
    if other_uid == uid:
        return Verdict(i, False, DUPLICATE_WITHIN, f"{uid}/{other_index}", similarity)
    reason = f"{DUPLICATE_OF_MINER} {other_uid}"
    return Verdict(i, False, reason, f"{other_uid}/{other_index}", similarity)
