"""Hostile data sources for round tests: each one an attack on the score."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from miner.sources import DataSource, GeneratorSource, Sample
from protocol.schemas import Competition, CotSample

# Synonyms for the words task items use, so a paraphrase changes words, not just case.
_SYNONYMS = {
    "has": "holds",
    "gets": "receives",
    "more": "extra",
    "how": "what",
    "many": "count",
    "now": "then",
    "had": "owned",
    "gave": "handed",
    "away": "off",
    "left": "remaining",
    "sort": "order",
    "largest": "biggest",
    "reverse": "flip",
    "list": "sequence",
}


# A sentence ends at . ? or ! followed by space: task prompts are one to three sentences.
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


def paraphrase(text: str, rng: random.Random, share: float = 0.1) -> str:
    """Perturb ``text``: up to ``share`` of words swapped for synonyms, sentence order, case,
    punctuation and whitespace (the disguises issue 5 lists for a copy)."""
    words = text.split(" ")
    budget = max(1, int(len(words) * share))
    for i in rng.sample(range(len(words)), len(words)):
        if budget == 0:
            break
        bare = re.sub(r"\W", "", words[i]).lower()
        if bare in _SYNONYMS:
            words[i] = words[i].lower().replace(bare, _SYNONYMS[bare])
            budget -= 1
    out = " ".join(words)
    sentences = _SENTENCE_END.split(out)
    if len(sentences) > 1 and rng.random() < 0.5:
        out = " ".join(sentences[1:] + sentences[:1])
    out = out.upper() if rng.random() < 0.3 else out
    return out.replace(".", " .").replace(",", " ,") + ("  " if rng.random() < 0.5 else "")


class Perturbed:
    """Another source's samples, each prompt and CoT paraphrased (``paraphrase``)."""

    def __init__(self, source: DataSource):
        self._source = source

    def competitions(self) -> tuple[Competition, ...]:
        return (Competition.COT_SFT,)

    def samples(self, competition: Competition, count: int, round_id: str) -> list[Sample]:
        rng = random.Random(round_id)
        out: list[Sample] = []
        for s in self._source.samples(competition, count, round_id):
            assert isinstance(s, CotSample)
            out.append(
                CotSample(
                    prompt=paraphrase(s.prompt, rng),
                    chain_of_thought=paraphrase(s.chain_of_thought, rng),
                    final_answer=s.final_answer,
                )
            )
        return out


class ParaphrasedCopy(Perturbed):
    """Another miner's data (same generator seed), paraphrased."""

    def __init__(self, victim_seed: str):
        super().__init__(GeneratorSource(victim_seed))


class CanaryPlanter:
    """Good data of its own with items from a published eval set's canaries mixed in: what a
    miner who scraped the published sets serves, hoping a few eval items slip through."""

    def __init__(self, seed: str, canaries: Sequence[dict[str, str]]):
        self._filler = GeneratorSource(seed)
        self._canaries = [
            CotSample(
                prompt=c["prompt"],
                chain_of_thought=c["chain_of_thought"],
                final_answer=c["final_answer"],
            )
            for c in canaries
        ]

    def competitions(self) -> tuple[Competition, ...]:
        return (Competition.COT_SFT,)

    def samples(self, competition: Competition, count: int, round_id: str) -> list[Sample]:
        filler = self._filler.samples(competition, count - len(self._canaries), round_id)
        return [*self._canaries, *filler]


class Repeater:
    """One good sample repeated to fill the whole request."""

    def __init__(self, seed: str):
        self._one = GeneratorSource(seed)

    def competitions(self) -> tuple[Competition, ...]:
        return (Competition.COT_SFT,)

    def samples(self, competition: Competition, count: int, round_id: str) -> list[Sample]:
        return self._one.samples(competition, 1, round_id) * count


class SplitShare:
    """Part ``part`` of ``parts`` of one dataset: one of many hotkeys sharing a dataset."""

    def __init__(self, seed: str, part: int, parts: int):
        self._whole = GeneratorSource(seed)
        self._part, self._parts = part, parts

    def competitions(self) -> tuple[Competition, ...]:
        return (Competition.COT_SFT,)

    def samples(self, competition: Competition, count: int, round_id: str) -> list[Sample]:
        return self._whole.samples(competition, count, round_id)[self._part :: self._parts]


class RougePadder:
    """Correct items whose answers are padded with the words most answers contain."""

    def __init__(self, seed: str):
        self._base = GeneratorSource(seed)

    def competitions(self) -> tuple[Competition, ...]:
        return (Competition.COT_SFT,)

    def samples(self, competition: Competition, count: int, round_id: str) -> list[Sample]:
        pad = " ".join(str(n) for n in range(10, 100, 7)) + " apple bird cloud dog eagle"
        return [
            CotSample(
                prompt=s.prompt,
                chain_of_thought=s.chain_of_thought,
                final_answer=f"{s.final_answer} {pad}",
            )
            for s in self._base.samples(competition, count, round_id)
            if isinstance(s, CotSample)
        ]


class NanBait:
    """Content built to provoke numeric trouble: huge repeated tokens, control chars, emptiness."""

    def competitions(self) -> tuple[Competition, ...]:
        return (Competition.COT_SFT,)

    def samples(self, competition: Competition, count: int, round_id: str) -> list[Sample]:
        weird = ["\x00" * 4000, "\ufffd" * 2000, "9" * 8000, "", "e" * 7999]
        return [
            CotSample(
                prompt=f"q{i}" + weird[i % 5][:100],
                chain_of_thought=weird[i % 5],
                final_answer=weird[(i + 1) % 5],
            )
            for i in range(count)
        ]
