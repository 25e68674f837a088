"""Data sources of the outside testers' attacks (issue 11's first table), for real rounds.

Each wraps what an attacker has: another miner's data (the same generator seed), or the
validator's published eval sets (``<run_root>/<round>/eval_set.json``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from common.text import join_fields
from miner.sources import DataSource, DataSourceError, Sample
from protocol.schemas import Competition, CotSample
from scoring.contamination import EvalPoolIndex
from tasks.families import TaskItem
from tests.support.perturb import KIND_NAMES, lookalike, perturb_item
from validator.evalsets.pool import EvalPool

Transform = Callable[[CotSample, random.Random], CotSample]


class Transformed:
    """Another source's CoT samples, each passed through ``transform``."""

    def __init__(self, source: DataSource, transform: Transform):
        self._source = source
        self._transform = transform

    def competitions(self) -> tuple[Competition, ...]:
        return (Competition.COT_SFT,)

    def samples(self, competition: Competition, count: int, round_id: str) -> list[Sample]:
        rng = random.Random(f"transformed|{round_id}")
        out: list[Sample] = []
        for sample in self._source.samples(competition, count, round_id):
            assert isinstance(sample, CotSample)
            out.append(self._transform(sample, rng))
        return out


def space_appended(sample: CotSample, _: random.Random) -> CotSample:
    """Row 1: one space appended to the prompt."""
    return sample.model_copy(update={"prompt": sample.prompt + " "})


def id_prefixed(sample: CotSample, rng: random.Random) -> CotSample:
    """Row 2: ``[123456] `` prepended to the prompt only."""
    return sample.model_copy(update={"prompt": f"[{rng.randint(100000, 999999)}] {sample.prompt}"})


def cyrillic(sample: CotSample, rng: random.Random) -> CotSample:
    """Row 3: Latin letters swapped for look-alikes, in every field."""
    return CotSample(
        prompt=lookalike(sample.prompt, rng),
        chain_of_thought=lookalike(sample.chain_of_thought, rng),
        final_answer=lookalike(sample.final_answer, rng),
    )


def _as_sample(item: TaskItem) -> CotSample:
    return CotSample(
        prompt=item.prompt, chain_of_thought=item.chain_of_thought, final_answer=item.final_answer
    )


def published_items(run_root: Path) -> list[TaskItem]:
    """Every item of every set published under ``run_root`` (what anyone can download)."""
    pool = EvalPool("attacker: no secret")
    pool.reload(run_root)
    return [it for eval_set, _ in pool.published_sets() for it in eval_set.items]


class PublishedSet:
    """Rows 4-5: the validator's published eval sets served back, verbatim or perturbed."""

    def __init__(self, run_root: Path, kind: str | None = None):
        self._run_root = run_root
        self._kind = kind

    def competitions(self) -> tuple[Competition, ...]:
        return (Competition.COT_SFT,)

    def samples(self, competition: Competition, count: int, round_id: str) -> list[Sample]:
        items = published_items(self._run_root)
        if not items:
            raise DataSourceError("nothing published yet")
        rng = random.Random(f"published|{round_id}")
        chosen = (items * (count // len(items) + 1))[:count]
        if self._kind is not None:
            chosen = [perturb_item(it, self._kind, rng) for it in chosen]
        return [_as_sample(it) for it in chosen]


class AdaptiveAttacker:
    """Row 4, adaptive: perturbs each published item until the *public* gate misses it.

    It holds the public code and every published set, so it builds the validator's gate over
    them (``EvalPool.reload`` of the published files: all but the round's private set) and
    keeps only the perturbed copies that gate does not flag, ``tries`` attempts per item with
    a random kind each. It serves what it found, at most ``count``; nothing if it found none.
    """

    def __init__(self, run_root: Path, tries: int = 30):
        self._run_root = run_root
        self._tries = tries
        self.found = 0  # misses found in the last call (for the test's report)
        self.attempts = 0

    def competitions(self) -> tuple[Competition, ...]:
        return (Competition.COT_SFT,)

    def samples(self, competition: Competition, count: int, round_id: str) -> list[Sample]:
        pool = EvalPool("attacker: no secret")
        pool.reload(self._run_root)
        gate: EvalPoolIndex = pool.index()
        rng = random.Random(f"adaptive|{round_id}")
        misses: list[CotSample] = []
        self.attempts = 0
        for item in published_items(self._run_root):
            for _ in range(self._tries):
                self.attempts += 1
                copy = perturb_item(item, rng.choice(KIND_NAMES), rng)
                text = join_fields(copy.prompt, copy.chain_of_thought, copy.final_answer)
                [verdict] = gate.check([text], [copy.final_answer])
                if not verdict.contaminated:
                    misses.append(_as_sample(copy))
                    break
        self.found = len(misses)
        if not misses:
            raise DataSourceError("every perturbed copy was caught by the public gate")
        return list(misses[:count])
