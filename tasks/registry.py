"""The task registry: a verifiable family is registered once, with everything that knows it.

A ``Family`` holds, in one place (the lm-evaluation-harness way):

- ``draw``: operands from a seeded ``random.Random`` at a ``Difficulty``;
- ``phrasings``: at least 8 prompt templates in varied styles (terse, instruction, question,
  word problem), each in a ``Share``: PUBLIC phrasings are what the embedded base is pretrained
  on, PRIVATE ones it never saw; eval sets draw from both, so data must teach the skill, not
  the template;
- ``reason`` and ``solve``: the reference worked solution and answer of the operands;
- ``detect`` and ``parse``: whether a *canonical* prompt (``common.text.canonical``: NFKC,
  look-alikes folded, whitespace collapsed, casefolded) asks this family's question, and the
  candidate operands it names. Parsing is by keywords and operand runs, not by template, so a
  prompt worded in any way a family's keywords cover is checked, and padding a prompt (a
  trailing space, an id, a look-alike letter) cannot hide it.

``verify`` compares answers as canonical word/number sequences (case, spacing, commas and a
trailing period do not matter; order does).

Adding or changing a family changes what eval sets contain: it bumps ``REGISTRY_VERSION``,
which ``validator/evalsets/cot.py`` folds into the eval version. An unknown family name fails with
the list of known ones.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from common.text import canonical

# /3: 16 public phrasings per family (operands at the end, mid-sentence, comma-separated,
# bracketed; questions and word problems), word_sort's reasoning states the order directly;
# /2: the registry (phrasings with shares, keyword parsers, difficulty levels); /1 was five
# single-template families with regex solvers.
REGISTRY_VERSION = "tasks/3"

Operands = tuple[int, ...] | tuple[str, ...]


class Share(StrEnum):
    """Which phrasings the embedded base was pretrained on."""

    PUBLIC = "public"  # in the base's pretraining
    PRIVATE = "private"  # never seen by the base: eval items in it test transfer of the skill


class Difficulty(StrEnum):
    """Instance sizes: the base learns on EASY, eval sets and miners draw FULL."""

    EASY = "easy"
    FULL = "full"


@dataclass(frozen=True)
class Phrasing:
    """One prompt template; slots are filled from ``Family.slots`` of the operands."""

    template: str
    share: Share


Solution = tuple[str, str]  # (chain_of_thought, final_answer)


@dataclass(frozen=True)
class TaskItem:
    """One task instance with its reference reasoning and answer.

    ``near_misses`` are wrong solutions of the same shape (eval items carry them; the
    validator measures whether the model prefers the reference over them,
    ``validator/model/evaluate.py``); items served as training data carry none.
    """

    family: str
    prompt: str
    chain_of_thought: str
    final_answer: str
    near_misses: tuple[Solution, ...] = ()

    @classmethod
    def from_dict(cls, body: dict[str, object]) -> TaskItem:
        """The item of its ``asdict`` / JSON form (lists back to tuples)."""
        misses = body.get("near_misses") or ()
        return cls(
            str(body["family"]),
            str(body["prompt"]),
            str(body["chain_of_thought"]),
            str(body["final_answer"]),
            tuple((str(c), str(a)) for c, a in misses),  # type: ignore[attr-defined]
        )


@dataclass(frozen=True)
class Family:
    """A verifiable task family: generator, phrasings, parser, solver, verifier."""

    name: str
    draw: Callable[[random.Random, Difficulty], Operands]
    slots: Callable[[Operands, random.Random], dict[str, str]]
    reason: Callable[[Operands], str]
    solve: Callable[[Operands], str]
    detect: re.Pattern[str]  # searched in the canonical prompt
    parse: Callable[[str], list[Operands]]  # candidate operands of a canonical prompt
    phrasings: tuple[Phrasing, ...]
    # A computation error a careless solver who read the operands right would make (a swap,
    # a skipped update, a lost carry), as a self-consistent (reasoning, answer); None when the
    # drawn error happens to give the right answer.
    near_miss: Callable[[Operands, random.Random], Solution | None]

    def templates(self, shares: Sequence[Share] = tuple(Share)) -> tuple[str, ...]:
        """The templates of the given shares, in registry order."""
        return tuple(p.template for p in self.phrasings if p.share in shares)

    def item(
        self,
        rng: random.Random,
        difficulty: Difficulty = Difficulty.FULL,
        shares: Sequence[Share] = tuple(Share),
        near_misses: int = 0,
    ) -> TaskItem:
        """One instance: operands at ``difficulty``, a phrasing from ``shares``.

        With ``near_misses`` > 0, up to that many distinct wrong solutions are attached
        (drawn after the prompt, so the items themselves do not depend on the count).
        """
        return self.item_of(self.draw(rng, difficulty), rng, shares, near_misses)

    def item_of(
        self,
        operands: Operands,
        rng: random.Random,
        shares: Sequence[Share] = tuple(Share),
        near_misses: int = 0,
    ) -> TaskItem:
        """The instance of drawn ``operands``: a phrasing from ``shares``, as ``item`` words it."""
        template = rng.choice(self.templates(shares))
        prompt = template.format(**self.slots(operands, rng))
        right = self.solve(operands)
        misses: list[Solution] = []
        for _ in range(8 * near_misses):  # a few draws repeat or hit the right answer
            if len(misses) >= near_misses:
                break
            miss = self.near_miss(operands, rng)
            if miss is not None and miss[1] != right and miss not in misses:
                misses.append(miss)
        return TaskItem(self.name, prompt, self.reason(operands), right, tuple(misses))

    def answers(self, prompt: str) -> set[str] | None:
        """Every answer a reading of ``prompt`` allows, or None if it is not this family's."""
        text = canonical(prompt)
        if not self.detect.search(text):
            return None
        candidates = self.parse(text)
        return {self.solve(c) for c in candidates} if candidates else None


# Answers compare as sequences of signed numbers and letter runs of the canonical text.
_ANSWER_TOKEN = re.compile(r"-?\d+|[^\W\d_]+")


def answer_tokens(answer: str) -> tuple[str, ...]:
    """The canonical token sequence of an answer: ``"45, 12 33."`` is ``("45", "12", "33")``.

    "l" reads as "i", as in ``common.text.match_words``: the confusables data maps some
    look-alikes of "l" to "i", so a right answer in look-alike letters still verifies.
    """
    return tuple(t.replace("l", "i") for t in _ANSWER_TOKEN.findall(canonical(answer)))


def verify(answer: str, reference: str) -> bool:
    """True when ``answer`` states ``reference``: the same canonical token sequence.

    No partial credit and no substring match: every family's answer is a number or a sequence,
    so sequence equality is the exact check.
    """
    return bool(answer_tokens(reference)) and answer_tokens(answer) == answer_tokens(reference)


class UnknownFamilyError(KeyError):
    """A family name the registry does not hold."""


class Registry:
    """Families by name, in registration order."""

    def __init__(self) -> None:
        self._families: dict[str, Family] = {}

    def register(self, family: Family) -> Family:
        """Add ``family``; a name is registered once, with at least 8 phrasings in both shares."""
        if family.name in self._families:
            raise ValueError(f"family {family.name!r} is already registered")
        shares = {p.share for p in family.phrasings}
        if len(family.phrasings) < 8 or shares != set(Share):
            raise ValueError(f"{family.name}: needs >= 8 phrasings, public and private")
        self._families[family.name] = family
        return family

    def __getitem__(self, name: str) -> Family:
        try:
            return self._families[name]
        except KeyError:
            known = ", ".join(self._families)
            raise UnknownFamilyError(f"unknown task family {name!r}; known: {known}") from None

    def __iter__(self):
        return iter(self._families.values())

    def names(self) -> tuple[str, ...]:
        """Registered names, in registration order."""
        return tuple(self._families)

    def readers(self, prompt: str) -> tuple[str, ...]:
        """The names of the families that read ``prompt``, in registration order."""
        return tuple(f.name for f in self._families.values() if f.answers(prompt) is not None)

    def solve(self, prompt: str) -> set[str] | None:
        """Every answer any family's reading of ``prompt`` allows; None if no family reads it."""
        found: set[str] | None = None
        for family in self._families.values():
            answers = family.answers(prompt)
            if answers is not None:
                found = (found or set()) | answers
        return found


REGISTRY = Registry()
