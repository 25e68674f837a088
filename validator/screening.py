"""Screening before training: dedup (round + Redis history) and the contamination gate.

Glue between the pure rules in ``scoring/`` and Redis. History lives in one Redis hash
(``Keys.dedup_history``): only signature rows and the MinHash parameter fingerprint are
stored — band buckets are recomputed on load — and the fingerprint is checked on load, so
an index made under other parameters is refused rather than silently compared.

A sample that matches history held by the *same* hotkey is the miner re-serving its own
earlier data: it is kept and trained on (each round trains from the base), but not credited
to history again. A match held by another hotkey is a copy and earns nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import redis

from protocol.keys import Keys
from protocol.schemas import CotSample
from scoring.contamination import EvalPoolIndex
from scoring.dedup import DUPLICATE_OF_HISTORY, HistoryIndex, Submission, dedup_round
from scoring.text import join_fields

_BAND_PREFIX = "band:"  # band rows are derived data: recomputed by HistoryIndex.from_dict


@dataclass
class Screened:
    """One miner's samples after screening, with the reasons for each drop."""

    kept: list[CotSample]
    duplicates: int = 0
    contaminated: int = 0
    resubmitted: int = 0
    reasons: list[str] = field(default_factory=list)


def sample_text(sample: CotSample) -> str:
    """The fingerprinted unit of a sample: all its fields."""
    return join_fields(sample.prompt, sample.chain_of_thought, sample.final_answer)


class DedupHistory:
    """The cross-round dedup index, persisted in Redis."""

    def __init__(self, client: redis.Redis, keys: Keys):
        self._client = client
        self._key = keys.dedup_history()
        raw = client.hgetall(self._key)
        self.index = HistoryIndex.from_dict({k.decode(): v.decode() for k, v in raw.items()})

    def credit(self, owner: str, signature: object, digest: str) -> None:
        """Record a kept sample as held by ``owner`` (written through to Redis)."""
        entries = self.index.add(owner, signature, digest)  # type: ignore[arg-type]
        stored = {k: v for k, v in entries.items() if not k.startswith(_BAND_PREFIX)}
        stored["params"] = self.index.params.fingerprint()
        self._client.hset(self._key, mapping=stored)


def _owner_hotkey(owner: str) -> str:
    return owner.split("/", 1)[0]


def screen_round(
    submissions: dict[int, tuple[str, list[CotSample]]],
    round_id: str,
    history: DedupHistory,
    pool: EvalPoolIndex,
) -> dict[int, Screened]:
    """Screen every miner's samples; credit the survivors to history."""
    subs = [
        Submission(uid, [sample_text(s) for s in samples])
        for uid, (_, samples) in submissions.items()
    ]
    dedup = dedup_round(subs, history.index)
    out: dict[int, Screened] = {}
    for uid, (hotkey, samples) in sorted(submissions.items()):
        result = dedup[uid]
        verdicts = pool.check([sample_text(s) for s in samples])
        screened = Screened(kept=[])
        for verdict, gate in zip(result.verdicts, verdicts, strict=True):
            if gate.contaminated:
                screened.contaminated += 1
                if screened.contaminated <= 3:
                    screened.reasons.append(
                        f"sample {gate.index} matches eval item {gate.item_id} ({'+'.join(gate.detectors)})"
                    )
                continue
            own = (
                verdict.reason == DUPLICATE_OF_HISTORY
                and _owner_hotkey(verdict.matched or "") == hotkey
            )
            if verdict.kept or own:
                screened.kept.append(samples[verdict.index])
                if own:
                    screened.resubmitted += 1
                else:
                    history.credit(
                        f"{hotkey}/{round_id}/{verdict.index}",
                        result.signatures[verdict.index],
                        result.digests[verdict.index],
                    )
                continue
            screened.duplicates += 1
            if screened.duplicates <= 3:
                screened.reasons.append(
                    f"sample {verdict.index}: {verdict.reason} ({verdict.matched})"
                )
        if screened.contaminated:
            screened.reasons.insert(
                0, f"{screened.contaminated} sample(s) from the eval pool: round score zero"
            )
        if screened.duplicates > 3:
            screened.reasons.append(f"... {screened.duplicates} duplicates in all")
        if screened.resubmitted:
            screened.reasons.append(
                f"{screened.resubmitted} sample(s) re-served from this miner's history"
            )
        out[uid] = screened
    return out
