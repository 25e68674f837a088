"""Where a round's eval items come from: the subnet's own task registry, or reasoning-gym.

The registry suite (the default) draws the families in ``tasks/``: the tasks miners are paid
to teach, with reference reasoning and near misses, and the only suite the embedded tiny base
was trained for. A validator on a GPU node with a real model (``--model <HF id> --device
cuda``) can instead measure miners' data on tasks the subnet did not write:
``--eval.suite reasoning-gym`` draws from the maintained reasoning-gym package
(https://github.com/open-thought/reasoning-gym), so a miner cannot win by fitting the
registry's generators, only by teaching skills that carry over to someone else's.

The reasoning-gym items are scored by the same evaluation as the registry's
(``validator/model/evaluate.py``): the model's ``Answer:`` line must verify with
``tasks.registry.verify`` (canonical token-sequence equality). The datasets in
``REASONING_GYM_DATASETS`` are the ones whose answers that check judges correctly: every
answer is an integer, a word or a list of words, so an answer verifies when it states the
same numbers and words in the same order, punctuation and spacing aside; that is what the
dataset's own ``score_answer`` gives full credit, or stricter (chain_sum's scorer also takes
``"+01,000.00"`` for ``"1000"``). Its one leniency is the registry's own: letters compare
case-folded, with "l" read as "i" (look-alikes). Case is why word_sorting runs lowercase
here: sorting mixed case by code point is the one thing the case-folded check would let
slip. The tests check every drawn answer both ways against the dataset's own scorer.

Items keep the dataset's question as their prompt and carry no reference reasoning
(reasoning-gym has none: the completion measured is the ``Answer:`` line alone) and no near
misses (their contrast margin is NaN, "no contrast for this item", in the score rule).

reasoning-gym is an optional extra (``pip install -e ".[gym]"``) and is imported only when
its suite is selected. Its items depend on the package version, so the installed version is
part of the eval set's ``version`` string (``suite_version``), as is
``REASONING_GYM_SUITE_VERSION``: bump that on any change to the dataset list, their settings
or the mapping to ``TaskItem``.
"""

from __future__ import annotations

import logging
import random
from enum import StrEnum
from importlib import metadata
from typing import Any

from common.seeds import joined_seed
from tasks.registry import TaskItem

log = logging.getLogger(__name__)


class EvalSuite(StrEnum):
    """The source of a round's eval items (``--eval.suite``)."""

    REGISTRY = "registry"
    REASONING_GYM = "reasoning-gym"


# Bump on any change to REASONING_GYM_DATASETS, their settings or ``_as_item``.
# /1: six exact-answer datasets, balanced, no reference reasoning.
REASONING_GYM_SUITE_VERSION = "reasoning-gym-suite/1"

# The version the dataset list was checked against (pyproject.toml's "gym" extra).
REASONING_GYM_PIN = "0.1.25"

# Short exact-answer tasks a chat model can state on one ``Answer:`` line: arithmetic (two
# kinds), a number-theory step, and three letter/word manipulations. Prompt and answer stay
# within the recipe's 256-position rows with room (~60 tokens at most, word_sorting ~170:
# its prompt has a paragraph of instructions), and every answer fits the 96 generated
# tokens. number_sorting, the obvious sixth, is left out: its instructions and quoted list
# reach ~260 tokens, and its own scorer accepts values off by up to 1.
REASONING_GYM_DATASETS: tuple[str, ...] = (
    "basic_arithmetic",  # integer result of +-*/ expressions with parentheses
    "chain_sum",  # integer result of a chain of additions and subtractions
    "lcm",  # least common multiple of two numbers up to 100
    "word_sorting",  # a comma-separated list of words, lowercase (module docstring)
    "spell_backward",  # one word, reversed
    "letter_counting",  # how often a letter occurs in a span of text
)

# The extra that installs the package, for error messages.
EXTRA_HINT = 'pip install -e ".[gym]"  (reasoning-gym==' + REASONING_GYM_PIN + ")"

# Family names of reasoning-gym items: "rg:<dataset>".
FAMILY_PREFIX = "rg:"


class SuiteUnavailableError(RuntimeError):
    """The selected suite needs a package that is not installed."""


def reasoning_gym_version() -> str:
    """The installed reasoning-gym version; ``SuiteUnavailableError`` if it is not installed."""
    try:
        return metadata.version("reasoning-gym")
    except metadata.PackageNotFoundError:
        raise SuiteUnavailableError(
            f"--eval.suite {EvalSuite.REASONING_GYM} needs the reasoning-gym package: {EXTRA_HINT}"
        ) from None


def _import_reasoning_gym() -> Any:
    try:
        import reasoning_gym
    except ImportError as exc:
        raise SuiteUnavailableError(
            f"--eval.suite {EvalSuite.REASONING_GYM} needs the reasoning-gym package:"
            f" {EXTRA_HINT} ({exc})"
        ) from exc
    return reasoning_gym


def ensure_available(suite: EvalSuite) -> None:
    """Fail now, not at the first round, if ``suite`` cannot draw (imports its package)."""
    if suite is EvalSuite.REASONING_GYM:
        _import_reasoning_gym()
        version = reasoning_gym_version()
        if version != REASONING_GYM_PIN:
            log.warning(
                "reasoning-gym %s installed, the eval suite was checked against %s;"
                " the eval set's version records %s",
                version,
                REASONING_GYM_PIN,
                version,
            )


def suite_version(suite: EvalSuite, eval_version: str) -> str:
    """The eval set's ``version`` under ``suite``: the registry's is ``eval_version`` itself."""
    if suite is EvalSuite.REGISTRY:
        return eval_version
    return f"{eval_version}+{REASONING_GYM_SUITE_VERSION}+reasoning-gym=={reasoning_gym_version()}"


def _dataset_settings(name: str) -> dict[str, Any]:
    """Settings that differ from the package's defaults (module docstring: word_sorting)."""
    if name == "word_sorting":
        from reasoning_gym.algorithmic.word_sorting import TextTransformation

        return {"transformation": TextTransformation.LOWERCASE}
    return {}


def _dataset_seed(seed: int, name: str) -> int:
    """One dataset's seed: 64 bits of sha256(round seed, name), so datasets are independent."""
    return joined_seed(seed, name, bits=64)


def _quotas(rng: random.Random, names: tuple[str, ...], count: int) -> dict[str, int]:
    """Items per dataset: ``count`` split evenly, the remainder to a random few."""
    base, extra = divmod(count, len(names))
    lucky = set(rng.sample(names, extra))
    return {n: base + (n in lucky) for n in names}


def reasoning_gym_entries(
    seed: int, count: int, families: tuple[str, ...] | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """``count`` raw ``(dataset, entry)`` pairs from ``seed``, in the order they are served.

    ``families`` (``"rg:<dataset>"`` names) narrows ``REASONING_GYM_DATASETS`` (default all).
    """
    rg = _import_reasoning_gym()
    names = REASONING_GYM_DATASETS
    if families:
        known = {FAMILY_PREFIX + n for n in names}
        unknown = sorted(set(families) - known)
        if unknown:
            raise ValueError(f"unknown reasoning-gym families {unknown}; known: {sorted(known)}")
        names = tuple(n for n in names if FAMILY_PREFIX + n in families)
    rng = random.Random(seed)
    out: list[tuple[str, dict[str, Any]]] = []
    for name, size in _quotas(rng, names, count).items():
        if size == 0:
            continue
        dataset = rg.create_dataset(
            name, seed=_dataset_seed(seed, name), size=size, **_dataset_settings(name)
        )
        out += [(name, dataset[i]) for i in range(size)]
    rng.shuffle(out)
    return out


def _as_item(name: str, entry: dict[str, Any]) -> TaskItem:
    return TaskItem(FAMILY_PREFIX + name, str(entry["question"]), "", str(entry["answer"]))


def draw_reasoning_gym(
    seed: int, count: int, families: tuple[str, ...] | None = None
) -> list[TaskItem]:
    """``count`` reasoning-gym eval items from ``seed``: the same seed gives the same list."""
    return [_as_item(name, entry) for name, entry in reasoning_gym_entries(seed, count, families)]
