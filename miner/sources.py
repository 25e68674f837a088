"""Where a miner's samples come from: a dataset file, the procedural generator, a teacher model.

Every source answers ``samples(competition, count, round_id)`` with protocol samples. Sources
are deterministic given the round id (a validator re-asking within a round gets the same data).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Protocol

from pydantic import ValidationError

from common.seeds import joined_seed
from miner.selection import family_of, spread_selection
from protocol.schemas import SAMPLE_TYPES, Competition, CotSample, PreferenceSample, first_error
from tasks.quality import Quality, degrade
from tasks.safety_pairs import PairQuality, generate_pairs
from tasks.safety_prompts import Label, Split, space_size
from tasks.stratified import stratified_items

# The preference rung a CoT quality stands for in the demo cast.
PAIR_QUALITY: dict[Quality, PairQuality] = {
    Quality.CORRECT: PairQuality.GOOD,
    Quality.CORRECT_OTHER_WORDS: PairQuality.GOOD,
    Quality.WRONG_OTHER_WORDS: PairQuality.SWAPPED,
    Quality.SCRAMBLED: PairQuality.OVER_REFUSE,
    Quality.WRONG: PairQuality.SWAPPED,
    Quality.OFF_TOPIC: PairQuality.OFF_TOPIC,
    Quality.EMPTY: PairQuality.EMPTY,
}

Sample = CotSample | PreferenceSample


class DataSourceError(Exception):
    """A data source cannot be loaded or cannot produce samples."""


class DataSource(Protocol):
    """Produces samples for a competition."""

    def competitions(self) -> tuple[Competition, ...]:
        """The competitions this source can serve."""
        ...

    def samples(self, competition: Competition, count: int, round_id: str) -> list[Sample]:
        """Up to ``count`` samples for ``round_id``."""
        ...


def _round_rng(seed: str, round_id: str) -> random.Random:
    return random.Random(joined_seed(seed, round_id, bits=64))


def load_dataset_file(path: Path, competition: Competition) -> list[Sample]:
    """Load and validate a JSONL file or a JSON list of samples of ``competition``'s schema.

    Raises ``DataSourceError`` naming the file and the first bad line (JSONL) or item (list).
    """
    model = SAMPLE_TYPES[competition]
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataSourceError(f"{path}: cannot read as UTF-8 text: {exc}") from None
    stripped = text.lstrip()
    records: list[tuple[str, object]] = []
    if stripped.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataSourceError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
        records = [(f"item {i}", item) for i, item in enumerate(items)]
    else:
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append((f"line {lineno}", json.loads(line)))
            except json.JSONDecodeError as exc:
                raise DataSourceError(f"{path}: line {lineno}: invalid JSON: {exc.msg}") from None
    samples: list[Sample] = []
    for where, record in records:
        try:
            samples.append(model.model_validate(record))
        except ValidationError as exc:
            raise DataSourceError(f"{path}: {where}: {first_error(exc, '<record>')}") from None
    if not samples:
        raise DataSourceError(f"{path}: no samples")
    return samples


class FileSource:
    """Serves samples from a validated dataset file, a seeded selection per round.

    The selection is spread evenly over the task families the registry reads in the prompts
    (``miner/selection.py``); samples it reads as none form one group of their own.
    """

    def __init__(self, path: Path, competition: Competition, seed: str = "file"):
        self._competition = competition
        self._samples = load_dataset_file(path, competition)
        self._seed = seed

    def competitions(self) -> tuple[Competition, ...]:
        """The one competition of the file."""
        return (self._competition,)

    def samples(self, competition: Competition, count: int, round_id: str) -> list[Sample]:
        """``count`` samples (all if fewer): a per-round seeded selection spread over families."""
        if competition != self._competition:
            raise DataSourceError(f"this source serves {self._competition.value} only")
        return spread_selection(self._samples, count, _round_rng(self._seed, round_id), family_of)


class GeneratorSource:
    """The built-in generator: verifiable tasks with worked solutions; safety preference pairs.

    ``quality`` degrades the items (the demo's sloppy miners); ``seed`` makes two miners
    serve different data (or, with equal seeds, the same data: the demo's copycat). For the
    preference competition the CoT quality maps onto the pair rung of the same spirit
    (``PAIR_QUALITY``: wrong answers -> swapped preferences).
    """

    def __init__(self, seed: str, quality: Quality = Quality.CORRECT):
        self._seed = seed
        self._quality = quality

    @property
    def max_pairs(self) -> int:
        """The most distinct preference pairs one round can serve (harmful and benign alternate)."""
        return 2 * min(
            space_size(Label.HARMFUL, Split.TRAIN), space_size(Label.BENIGN, Split.TRAIN)
        )

    def competitions(self) -> tuple[Competition, ...]:
        """Both competitions."""
        return (Competition.COT_SFT, Competition.PREFERENCE)

    def samples(self, competition: Competition, count: int, round_id: str) -> list[Sample]:
        """``count`` fresh items for this round."""
        if competition == Competition.PREFERENCE:
            # The training split's template space is finite (distinct prompts, since the
            # validator dedups on the prompt): serve what exists, never fail a big request.
            count = min(count, self.max_pairs)
            pairs = generate_pairs(count, f"{self._seed}|{round_id}", PAIR_QUALITY[self._quality])
            return [
                PreferenceSample(prompt=p.prompt, chosen=p.chosen, rejected=p.rejected)
                for p in pairs
            ]
        # Two streams: the tasks depend on the seed alone, so miners of different quality
        # with one seed serve the same prompts (the quality ladder compares like with like).
        # Every family in an equal share, sizes in proportion: a round's data covers what the
        # validator's eval set asks (it is stratified the same way) instead of whatever mix
        # chance gives: a random 64 with 21 list reversals scored twice what one with 12 did
        # (docs/SCORING.md, "The eval set's draw").
        task_rng = _round_rng(self._seed, round_id)
        noise_rng = _round_rng(self._seed + "|noise", round_id)
        out: list[Sample] = []
        for item in stratified_items(task_rng, count):
            prompt, cot, answer = degrade(item, self._quality, noise_rng)
            out.append(CotSample(prompt=prompt, chain_of_thought=cot, final_answer=answer))
        return out
