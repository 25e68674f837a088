"""The private eval set: fresh each round, from a seed nobody can predict but anyone can audit.

The seed is a hash of (validator secret, round id, ``EVAL_VERSION``): miners cannot know the
items before the round (they never see the secret), while after the round the validator
publishes the set (``write_eval_set``) and its sha256, and anyone holding the published secret
for that round can regenerate it and check the hash. Items come from ``tasks.families`` with
their reference CoT and answers: FULL-size instances in every registered phrasing, the
PRIVATE share the embedded base never read included (``tasks/registry.py``), so that what
a miner's data adds is the skill, not the template. The draw is stratified (equal items per
family, sizes in each family's proportions: ``tasks/stratified.py``), so that two rounds'
sets are alike in what they can measure and differ only in their instances. That is the default suite; a GPU
validator can draw from reasoning-gym instead (``--eval.suite reasoning-gym``,
``validator/evalsets/suites.py``), under a version that names the suite and the package's version.

``EVAL_VERSION`` names the evaluation function as a whole: the families and their
generators, the count, the formatting and measures in ``validator.model``, and the guard texts.
Change any of them and bump it, so that old rounds' scores stay explainable.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from common.atomic_file import write_text_atomic
from common.seeds import prefixed_seed
from tasks.registry import REGISTRY, REGISTRY_VERSION, Difficulty, TaskItem
from tasks.stratified import generate_stratified
from validator.evalsets.suites import EvalSuite, draw_reasoning_gym, suite_version
from validator.model.general_text import GUARD_TEXTS
from validator.model.recipe import RECIPE_VERSION

# Bump on any change to: EVAL_SIZE, GUARD_TEXTS, the measures in validator/model/evaluate.py;
# the task registry's and the recipe's versions are folded in.
# /5: 256 items (from 64: an honest miner's round-to-round spread, below); /4: items
# stratified by family and size (tasks/stratified.py; the draw's share of an honest miner's
# spread halved); /3: three near misses per item (the contrast margin), 96 new
# tokens per generation; /2: the registry's families and phrasings, FULL sizes.
EVAL_VERSION = f"eval/5+{REGISTRY_VERSION}+{RECIPE_VERSION}"

# 256 items: an honest miner's score over 40 simulated rounds (fresh data and eval set each,
# bench/bench_round_spread.py) varied with CV 0.19 at 64 items and 0.17 at 256; three rounds
# stayed within issue 10's 25% of their mean in 74% and 84% of the triples, and two
# validators agreed on what the ladder's rungs earn (Kendall tau >= 0.8 on the score) in 10 of
# 10 seeds against 6 of 10 (docs/SCORING.md, "The eval set's size"). On CPU the tiny base
# evaluates 256 items in 6.5 s against 1.6 s for 64, per miner.
EVAL_SIZE = 256
# Near misses per item for the contrast margin (validator/model/evaluate.py): three wrong
# solutions of the reference's shape; each costs one more teacher-forced pass per item,
# still a fraction of the greedy generation's cost.
NEAR_MISSES = 3
SEED_BITS = 64  # random.Random seeds from a 64-bit slice of the hash: no practical collisions


def round_seed(secret: str | bytes, round_id: int | str, version: str = EVAL_VERSION) -> int:
    """The eval seed of a round: sha256 over (version, secret, round id), first 64 bits.

    Fields are length-prefixed so that ("ab", 1) and ("a", "b1") cannot collide.
    """
    return prefixed_seed(version, secret, str(round_id), bits=SEED_BITS)


@dataclass(frozen=True)
class EvalSet:
    """One round's eval items, the seed that drew them and the version that defines them."""

    round_id: str
    seed: int
    version: str
    items: tuple[TaskItem, ...]

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no spaces): the bytes the hash is taken over."""
        body = {
            "round_id": self.round_id,
            "seed": self.seed,
            "version": self.version,
            "items": [asdict(it) for it in self.items],
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def sha256(self) -> str:
        """Hex sha256 of ``to_json()``: what a round record commits to."""
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()


def draw_eval_set(
    secret: str | bytes,
    round_id: int | str,
    count: int = EVAL_SIZE,
    families: tuple[str, ...] | None = None,
    suite: EvalSuite = EvalSuite.REGISTRY,
) -> EvalSet:
    """The round's eval set: ``count`` items of ``families`` (default all) from the round seed.

    ``suite`` picks where items come from (``validator/evalsets/suites.py``); its name, and for
    reasoning-gym the package version, are in the set's ``version`` and so in its seed. The
    registry suite's sets are those of before suites existed, byte for byte.
    """
    version = suite_version(suite, EVAL_VERSION)
    seed = round_seed(secret, round_id, version)
    if suite is EvalSuite.REASONING_GYM:
        items = draw_reasoning_gym(seed, count, families)
    else:
        names = families or REGISTRY.names()
        items = generate_stratified(seed, count, names, Difficulty.FULL, near_misses=NEAR_MISSES)
    return EvalSet(str(round_id), seed, version, tuple(items))


def general_texts() -> tuple[str, ...]:
    """The fixed do-no-harm guard texts (the same every round: they are not secret)."""
    return GUARD_TEXTS


def write_eval_set(eval_set: EvalSet, directory: str | Path) -> Path:
    """Publish the set after the round as ``eval-<round>-<hash12>.json``; atomic write."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"eval-{eval_set.round_id}-{eval_set.sha256()[:12]}.json"
    write_text_atomic(path, eval_set.to_json())
    return path


def eval_set_from_dict(body: Mapping[str, Any]) -> EvalSet:
    """The set of its published JSON form (``EvalSet.to_json``, or ``eval_set.json``'s top)."""
    items = tuple(TaskItem.from_dict(it) for it in body["items"])
    return EvalSet(str(body["round_id"]), int(body["seed"]), str(body["version"]), items)


def read_eval_set(path: str | Path) -> EvalSet:
    """Load a published set (for audit): the hash of the result equals the published one."""
    return eval_set_from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
