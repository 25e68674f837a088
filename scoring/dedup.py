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

"Matching" means: the two texts share an LSH band (``scoring.lsh``), their MinHash estimate
of Jaccard is at least ``DUPLICATE_JACCARD``, AND their multisets of numbers are equal
(``text.numbers_digest``). The number rule is what keeps two different problems of one
template ("Ana has 47 apples and gets 25 more" / "... 31 more") apart: their words are
nearly all shared, their numbers are not, and a copy keeps its numbers.

The history is an explicit input: ``HistoryIndex`` serialises to and from a ``dict[str,
str]`` (a Redis hash, say) and says which entries each ``add`` created, so storage can
write only those. Its parameters fingerprint is stored with it and checked on load.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from scoring.lsh import BANDS, BandIndex, band_keys, empty_rows
from scoring.minhash import MinHasher, MinHashParams, estimate_jaccard
from scoring.text import numbers_digest

# Estimated Jaccard (word 3-grams) at or above which two texts with equal numbers are one
# sample. Measured (tests/scoring/test_dedup.py): copies with 10% of words substituted and
# sentences reordered sit mostly above 0.45 on short task items and above 0.6 on 1 KB
# paragraphs; 0.4 keeps recall >= 0.95 with the estimate's +-0.044 noise at 128 perms.
DUPLICATE_JACCARD = 0.4

DUPLICATE_WITHIN = "duplicate_within"
DUPLICATE_OF_MINER = "duplicate_of_miner"
DUPLICATE_OF_HISTORY = "duplicate_of_history"

_PARAMS_KEY = "params"
_SIG_PREFIX = "sig:"
_BAND_PREFIX = "band:"


@dataclass(frozen=True)
class Submission:
    """One miner's samples for the round, as fingerprint texts (``text.join_fields``)."""

    uid: int
    texts: Sequence[str]
    commit_block: int | None = None  # block of the on-chain manifest commitment, if any


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
    """Dedup outcome for one miner: a verdict per sample, and the signatures computed."""

    uid: int
    verdicts: list[Verdict]
    signatures: npt.NDArray[np.uint32]
    digests: list[str]

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


def _encode_sig(seq: int, signature: npt.NDArray[np.uint32], digest: str) -> str:
    raw = signature.astype("<u4").tobytes()
    return f"{seq}:{base64.b64encode(raw).decode()}:{digest}"


def _decode_sig(value: str) -> tuple[int, npt.NDArray[np.uint32], str]:
    seq, raw, digest = value.split(":", 2)
    return int(seq), np.frombuffer(base64.b64decode(raw), dtype="<u4").astype(np.uint32), digest


@dataclass
class HistoryIndex:
    """Samples credited in earlier rounds: owner label -> signature, plus the band buckets.

    Serialised form (``to_dict``), all strings: ``"params"`` -> the MinHash fingerprint;
    ``"sig:<owner>"`` -> ``<order added>:<base64 little-endian uint32 signature>:<numbers
    digest>``;
    ``"band:<b>:<key hex>"`` -> owners holding that band, comma-joined. Owner labels must not
    contain a comma (e.g. ``"<uid>/<round_id>/<sample sha256>"``).
    """

    params: MinHashParams = field(default_factory=MinHashParams)
    bands: int = BANDS
    _owners: list[str] = field(default_factory=list)
    _ids: dict[str, int] = field(default_factory=dict)
    _sigs: list[npt.NDArray[np.uint32]] = field(default_factory=list)
    _digests: list[str] = field(default_factory=list)
    _index: BandIndex = field(init=False)

    def __post_init__(self) -> None:
        self._index = BandIndex(self.bands)

    def __len__(self) -> int:
        return len(self._owners)

    def add(self, owner: str, signature: npt.NDArray[np.uint32], digest: str) -> dict[str, str]:
        """Index one credited sample; returns the serialised entries it created or changed."""
        if "," in owner or owner in self._ids:
            raise ValueError(f"owner label {owner!r} has a comma or is already indexed")
        if signature.shape != (self.params.num_perm,):
            raise ValueError(f"signature shape {signature.shape} does not fit {self.params}")
        item = len(self._owners)
        self._owners.append(owner)
        self._ids[owner] = item
        self._sigs.append(signature.astype(np.uint32))
        self._digests.append(digest)
        entries = {_SIG_PREFIX + owner: _encode_sig(item, signature, digest)}
        if empty_rows(signature[None, :])[0]:
            return entries
        keys = band_keys(signature[None, :], self.bands)[0]
        self._index.add(item, keys)
        for band, key in enumerate(keys.tolist()):
            holders = self._index.holders(band, key)
            entries[f"{_BAND_PREFIX}{band}:{key:016x}"] = ",".join(self._owners[h] for h in holders)
        return entries

    def matches(self, signature: npt.NDArray[np.uint32], digest: str) -> tuple[str, float] | None:
        """The earliest-added history sample this one duplicates, with the estimate."""
        if empty_rows(signature[None, :])[0]:
            return None
        for item in self._index.candidates(band_keys(signature[None, :], self.bands)[0]):
            similarity = estimate_jaccard(signature, self._sigs[item])
            if similarity >= DUPLICATE_JACCARD and self._digests[item] == digest:
                return self._owners[item], similarity
        return None

    def to_dict(self) -> dict[str, str]:
        """Every entry as strings (see the class docstring)."""
        out = {_PARAMS_KEY: self.params.fingerprint()}
        rows = zip(self._owners, self._sigs, self._digests, strict=True)
        for seq, (owner, sig, digest) in enumerate(rows):
            out[_SIG_PREFIX + owner] = _encode_sig(seq, sig, digest)
        for (band, key), holders in self._index.buckets().items():
            out[f"{_BAND_PREFIX}{band}:{key:016x}"] = ",".join(self._owners[h] for h in holders)
        return out

    @classmethod
    def from_dict(
        cls, data: Mapping[str, str], params: MinHashParams | None = None, bands: int = BANDS
    ) -> HistoryIndex:
        """Rebuild from ``to_dict`` output (band entries are recomputed from signatures).

        Raises ``ValueError`` when the stored fingerprint is not ``params``': signatures made
        under other parameters do not compare.
        """
        params = params or MinHashParams()
        stored = data.get(_PARAMS_KEY)
        if stored is not None and stored != params.fingerprint():
            raise ValueError(f"history made with {stored}, not {params.fingerprint()}")
        index = cls(params=params, bands=bands)
        rows = []
        for key, value in data.items():
            if key.startswith(_SIG_PREFIX):
                seq, signature, digest = _decode_sig(value)
                rows.append((seq, key[len(_SIG_PREFIX) :], signature, digest))
        for _, owner, signature, digest in sorted(rows, key=lambda row: (row[0], row[1])):
            index.add(owner, signature, digest)  # in the original order: earliest holder first
        return index


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
    with the returned signatures and digests.
    """
    hasher = hasher or MinHasher(history.params)
    if hasher.params != history.params:
        raise ValueError("hasher and history use different MinHash parameters")
    if len({s.uid for s in submissions}) != len(submissions):
        raise ValueError("one submission per uid")
    round_index = BandIndex(history.bands)
    kept_sigs: list[npt.NDArray[np.uint32]] = []
    kept_digests: list[str] = []
    kept_owner: list[tuple[int, int]] = []  # (uid, index) of each round-kept sample
    results: dict[int, MinerDedup] = {}
    for sub in sorted(submissions, key=priority):
        sigs = hasher.signatures(list(sub.texts))
        digests = [numbers_digest(t) for t in sub.texts]
        keys = band_keys(sigs, history.bands)
        empty = empty_rows(sigs)
        verdicts: list[Verdict] = []
        for i in range(len(sub.texts)):
            verdict = _judge(
                i,
                sigs[i],
                digests[i],
                keys[i],
                bool(empty[i]),
                sub.uid,
                history,
                round_index,
                kept_sigs,
                kept_digests,
                kept_owner,
            )
            verdicts.append(verdict)
            if verdict.kept and not empty[i]:
                round_index.add(len(kept_sigs), keys[i])
                kept_sigs.append(sigs[i])
                kept_digests.append(digests[i])
                kept_owner.append((sub.uid, i))
        results[sub.uid] = MinerDedup(sub.uid, verdicts, sigs, digests)
    return results


def _judge(
    i: int,
    sig: npt.NDArray[np.uint32],
    digest: str,
    keys: npt.NDArray[np.uint64],
    empty: bool,
    uid: int,
    history: HistoryIndex,
    round_index: BandIndex,
    kept_sigs: list[npt.NDArray[np.uint32]],
    kept_digests: list[str],
    kept_owner: list[tuple[int, int]],
) -> Verdict:
    """One sample's verdict: history, then earlier-ranked miners and its own earlier samples."""
    if empty:
        return Verdict(i, kept=True)  # no words: nothing to compare (validation's business)
    hit = history.matches(sig, digest)
    if hit is not None:
        return Verdict(i, False, DUPLICATE_OF_HISTORY, hit[0], hit[1])
    for item in round_index.candidates(keys):
        similarity = estimate_jaccard(sig, kept_sigs[item])
        if similarity >= DUPLICATE_JACCARD and kept_digests[item] == digest:
            other_uid, other_index = kept_owner[item]
            if other_uid == uid:
                return Verdict(i, False, DUPLICATE_WITHIN, f"{uid}/{other_index}", similarity)
            reason = f"{DUPLICATE_OF_MINER} {other_uid}"
            return Verdict(i, False, reason, f"{other_uid}/{other_index}", similarity)
    return Verdict(i, kept=True)
