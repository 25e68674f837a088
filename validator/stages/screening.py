"""Screening before training: dedup, the contamination gate and the answer check.

Glue between the pure rules in ``scoring/`` and Redis. History lives in one Redis hash
(``Keys.dedup_history``): only signature rows and the MinHash parameter fingerprint are
stored — band buckets are recomputed on load — and the fingerprint is checked on load, so
an index made under other parameters is refused rather than silently compared.

The gate runs first. A sample from the eval pool is never trained on. A miner with more
such samples than chance explains (``scoring/chance.py``: its samples' families' chance
rates, measured against this round's pool by ``validator/evalsets/chance.py``), or with one
that holds a canary's tag, is zeroed for the round, and a zeroed miner claims nothing. None
of its samples is credited to history, and it takes no part in the round's dedup priority,
so a contaminator ranked first cannot make an honest miner's samples "duplicate_of_miner"
either (its own samples are still checked against history, for the reasons shown). A miner
within chance loses the matched samples only: an honest generator meets an eval problem by
chance in most rounds (docs/SCREENING.md, "Chance collisions").

On load, a history stored under other MinHash parameters, another text normalisation or
another dedup rule (``scoring.dedup.StaleHistory``) cannot be compared with: it is renamed
aside (``<key>:retired:<digest of its fingerprint>``, kept for audit) and a new history starts.

A sample that matches history held by the *same* hotkey is the miner re-serving its own
earlier data: it is kept and trained on (each round trains from the base), but not credited
to history again. A match held by another hotkey is a copy and earns nothing.

Near-empty samples are invalid (``invalid_reason``: a CoT without reasoning or answer, a
preference pair with two empty or two identical sides): dropped, not credited.

The answer check: a kept sample whose prompt is one of the task families' templates has a
known right answer (``tasks.solve``); if its final answer is not that answer it is counted
as a wrong answer. It stays in training — the model measures the data as served — and the
score charges for it (``scoring/score.py``, ``WRONG_ANSWER_POWER``).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import redis

from common.text import join_fields
from protocol.keys import Keys
from protocol.schemas import CotSample, PreferenceSample
from scoring.chance import chance_allowance
from scoring.contamination import ContaminationVerdict, EvalPoolIndex
from scoring.dedup import (
    DUPLICATE_OF_HISTORY,
    Fingerprint,
    HistoryIndex,
    MinerDedup,
    StaleHistory,
    Submission,
    dedup_round,
    history_fingerprint,
)
from tasks.solve import answer_is_wrong, empty_reason, solve
from validator.evalsets.chance import ChanceRates

_BAND_PREFIX = "band:"  # band rows are derived data: recomputed by HistoryIndex.from_dict

# After a failed history write, credits skip Redis this long: a round of hundreds of credits
# then pays one connect timeout (2 s) every 5 s, not one per sample.
HISTORY_RETRY_S = 5.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MinerSubmission:
    """One miner's proven samples for the round and when it committed them."""

    hotkey: str
    samples: Sequence[CotSample | PreferenceSample]
    # Block of the miner's manifest commitment (validator/manifests.py): the round's
    # earliest-holder order (scoring/dedup.py: earlier block first, then lower uid).
    commit_block: int | None = None


@dataclass
class Screened:
    """One miner's samples after screening, with the reasons for each drop."""

    kept: list[CotSample | PreferenceSample]  # of the one schema the competition's pull parsed
    duplicates: int = 0
    contaminated: int = 0
    invalid: int = 0  # near-empty samples (``tasks.solve.empty_reason``)
    wrong_answers: int = 0
    resubmitted: int = 0
    # The most eval-pool matches chance explains for these samples (0: any match zeroes).
    contamination_allowance: int = 0
    chance_expected: float = 0.0  # expected chance matches of these samples
    contamination_proof: bool = False  # a matched sample held a canary's tag
    reasons: list[str] = field(default_factory=list)

    @property
    def zeroed(self) -> bool:
        """Whether the gate zeroes the round (``beyond_chance``)."""
        return beyond_chance(
            self.contaminated, self.contamination_allowance, self.contamination_proof
        )


def beyond_chance(matched: int, allowance: int, proof: bool) -> bool:
    """The gate's verdict on a miner: a proof of copying, or more matches than chance explains."""
    return proof or matched > allowance


def sample_text(sample: CotSample | PreferenceSample) -> str:
    """The fingerprinted unit of a sample: all its fields; for a preference pair, its prompt.

    Refusals and compliance openers are formulaic ("I can't help with that"): pairs for
    different prompts share most of their words, and a compliance side restates the request
    (and so an eval prompt). What identifies a pair, and what train-on-test would copy, is
    the prompt it answers.
    """
    if isinstance(sample, PreferenceSample):
        return join_fields(sample.prompt)
    return join_fields(sample.prompt, sample.chain_of_thought, sample.final_answer)


def sample_answer(sample: CotSample | PreferenceSample) -> str:
    """The final answer the detectors compare ("" for a preference pair: it has none)."""
    return sample.final_answer if isinstance(sample, CotSample) else ""


def invalid_reason(sample: CotSample | PreferenceSample) -> str | None:
    """Why a sample is not training data at all (None when it is)."""
    if isinstance(sample, PreferenceSample):
        if not any(ch.isalnum() for ch in sample.chosen + sample.rejected):
            return "chosen and rejected are both empty"
        if sample.chosen.strip() == sample.rejected.strip():
            return "chosen and rejected are the same text"
        return None
    return empty_reason(sample.chain_of_thought, sample.final_answer)


def _text(value: bytes | str) -> str:
    """A Redis reply as text, whether or not the client decodes responses."""
    return value.decode() if isinstance(value, bytes) else value


class DedupHistory:
    """The cross-round dedup index, persisted in Redis."""

    def __init__(self, client: redis.Redis, keys: Keys):
        self._client = client
        self._key = keys.dedup_history()
        raw = client.hgetall(self._key)
        try:
            self.index = HistoryIndex.from_dict({_text(k): _text(v) for k, v in raw.items()})
        except StaleHistory as exc:
            aside = f"{self._key}:retired:{hashlib.sha256(exc.stored.encode()).hexdigest()[:16]}"
            client.rename(self._key, aside)
            log.warning("dedup history %s renamed to %s: %s", self._key, aside, exc)
            self.index = HistoryIndex()
        self._unsaved: dict[str, str] = {}  # rows not yet in Redis (it was unreachable)
        self._retry_at = float("-inf")  # monotonic time before which Redis is not retried

    def credit(self, owner: str, signature: object, features: str) -> None:
        """Record a kept sample as held by ``owner`` (written through to Redis).

        ``signature`` and ``features`` are a ``scoring.dedup.Fingerprint``'s signature and
        ``features()`` (numbers and answer key).

        With Redis unreachable the row waits in memory (this process's index has it already)
        and goes out with the first later credit that reaches Redis: an outage in the middle
        of a round costs the round nothing. Rows still waiting when the process exits are
        lost to history (a later copy of them would not be caught as a copy).
        """
        entries = self.index.add(owner, Fingerprint.from_features(signature, features))  # type: ignore[arg-type]
        self._unsaved.update({k: v for k, v in entries.items() if not k.startswith(_BAND_PREFIX)})
        self._unsaved["params"] = history_fingerprint(self.index.params)
        if time.monotonic() >= self._retry_at:
            self.flush()

    def flush(self) -> bool:
        """Write the rows waiting for Redis now; True when none is left waiting."""
        if not self._unsaved:
            return True
        try:
            # redis-py types the mapping's keys as a union; dict keys are invariant, hence the cast.
            self._client.hset(self._key, mapping=cast("dict[Any, Any]", self._unsaved))
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            # Each try may cost a connect timeout; a round credits hundreds of samples.
            self._retry_at = time.monotonic() + HISTORY_RETRY_S
            log.warning("redis unreachable, %d history rows kept: %s", len(self._unsaved), exc)
            return False
        self._unsaved = {}
        return True

    @property
    def unsaved(self) -> int:
        """History rows (and the parameter fingerprint) not yet written to Redis."""
        return len(self._unsaved)


def _owner_hotkey(owner: str) -> str:
    return owner.split("/", 1)[0]


@dataclass(frozen=True)
class GateResult:
    """One miner's contamination verdicts and what chance explains of them."""

    verdicts: Sequence[ContaminationVerdict]
    expected: float  # expected chance matches of the miner's samples
    allowance: int  # the most matches chance explains (``scoring.chance.chance_allowance``)

    @property
    def matched(self) -> int:
        """Samples that match the eval pool."""
        return sum(v.contaminated for v in self.verdicts)

    @property
    def proof(self) -> bool:
        """A matched sample holds a canary's tag."""
        return any(v.proof for v in self.verdicts)

    @property
    def zeroed(self) -> bool:
        """Whether the gate zeroes the round (``beyond_chance``)."""
        return beyond_chance(self.matched, self.allowance, self.proof)


def gate_miner(
    samples: Sequence[CotSample | PreferenceSample],
    pool: EvalPoolIndex,
    chance: ChanceRates | None,
) -> GateResult:
    """The gate's verdicts on one miner's samples, with the chance allowance for them."""
    verdicts = pool.check([sample_text(s) for s in samples], [sample_answer(s) for s in samples])
    expected = chance.expected([s.prompt for s in samples]) if chance is not None else 0.0
    return GateResult(verdicts, expected, chance_allowance(expected))


def screen_round(
    submissions: Mapping[int, MinerSubmission],
    round_id: str,
    history: DedupHistory,
    pool: EvalPoolIndex,
    chance: ChanceRates | None = None,
) -> dict[int, Screened]:
    """Screen every miner's samples; credit the survivors of miners not zeroed to history.

    ``chance``: the round's per-family chance rates (CoT); None when a match cannot be chance
    (the preference split: docs/PREFERENCE.md), so any match zeroes.
    """
    gates = {uid: gate_miner(sub.samples, pool, chance) for uid, sub in submissions.items()}
    zeroed = {uid for uid, gate in gates.items() if gate.zeroed}

    def submission(uid: int) -> Submission:
        sub = submissions[uid]
        texts = [sample_text(s) for s in sub.samples]
        answers = [sample_answer(s) for s in sub.samples]
        return Submission(uid, texts, commit_block=sub.commit_block, answers=answers)

    # The round's priority order is among miners that can hold anything; a zeroed miner is
    # checked against history alone.
    dedup = dedup_round(
        [submission(uid) for uid in submissions if uid not in zeroed], history.index
    )
    for uid in zeroed:
        dedup.update(dedup_round([submission(uid)], history.index))
    return {
        uid: _screen_miner(uid, sub.hotkey, sub.samples, dedup[uid], gates[uid], round_id, history)
        for uid, sub in sorted(submissions.items())
    }


def _screen_miner(
    uid: int,
    hotkey: str,
    samples: Sequence[CotSample | PreferenceSample],
    result: MinerDedup,
    gate: GateResult,
    round_id: str,
    history: DedupHistory,
) -> Screened:
    """One miner's ``Screened``; credits its kept samples unless the miner is zeroed."""
    screened = Screened(
        kept=[],
        contamination_allowance=gate.allowance,
        chance_expected=gate.expected,
        contamination_proof=gate.proof,
    )
    for verdict, check in zip(result.verdicts, gate.verdicts, strict=True):
        if check.contaminated:
            screened.contaminated += 1
            if screened.contaminated <= 3:
                screened.reasons.append(
                    f"sample {check.index} matches eval item {check.item_id} ({'+'.join(check.detectors)})"
                )
            continue
        own = (
            verdict.reason == DUPLICATE_OF_HISTORY
            and _owner_hotkey(verdict.matched or "") == hotkey
        )
        if verdict.kept or own:
            sample = samples[verdict.index]
            if not _checked(screened, sample, verdict.index):
                continue
            screened.kept.append(sample)
            if own:
                screened.resubmitted += 1
            elif not gate.zeroed:
                fingerprint = result.fingerprints[verdict.index]
                history.credit(
                    f"{hotkey}/{round_id}/{verdict.index}",
                    fingerprint.signature,
                    fingerprint.features(),
                )
            continue
        screened.duplicates += 1
        if screened.duplicates <= 3:
            screened.reasons.append(f"sample {verdict.index}: {verdict.reason} ({verdict.matched})")
    _add_summary(screened)
    return screened


def _checked(screened: Screened, sample: CotSample | PreferenceSample, index: int) -> bool:
    """Whether a sample that passed dedup is kept; an invalid one is counted and dropped.

    A wrong answer (to a prompt the task registry parses) is counted and still kept.
    """
    empty = invalid_reason(sample)
    if empty is not None:
        screened.invalid += 1
        if screened.invalid <= 3:
            screened.reasons.append(f"sample {index}: invalid, {empty}")
        return False
    if isinstance(sample, CotSample) and answer_is_wrong(sample.prompt, sample.final_answer):
        screened.wrong_answers += 1
        if screened.wrong_answers <= 3:
            screened.reasons.append(
                f"sample {index}: wrong answer {sample.final_answer[:40]!r}"
                f" (expected {solve(sample.prompt)!r})"
            )
    return True


def _add_summary(screened: Screened) -> None:
    """The summary reasons: contamination first, then totals past the three itemised."""
    if screened.contaminated:
        chance = (
            "a canary's tag among them"
            if screened.contamination_proof
            else f"chance explains at most {screened.contamination_allowance}"
            f" (expected {screened.chance_expected:.2f})"
        )
        outcome = (
            "round score zero, nothing credited to history"
            if screened.zeroed
            else "dropped, not trained on"
        )
        screened.reasons.insert(
            0, f"{screened.contaminated} sample(s) from the eval pool, {chance}: {outcome}"
        )
    if screened.duplicates > 3:
        screened.reasons.append(f"... {screened.duplicates} duplicates in all")
    if screened.invalid > 3:
        screened.reasons.append(f"... {screened.invalid} invalid in all")
    if screened.wrong_answers > 3:
        screened.reasons.append(f"... {screened.wrong_answers} wrong answers in all")
    if screened.resubmitted:
        screened.reasons.append(
            f"{screened.resubmitted} sample(s) re-served from this miner's history"
        )
