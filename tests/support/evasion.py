"""The evasion suite's measurements: each perturbation kind against dedup, the gate, answers.

Shared by ``tests/scoring/test_evasion.py`` (which asserts the targets) and
``bench/bench_evasion.py`` (which prints the table). Pure and seeded: the same ``n`` and
seed give the same figures.

Data: ``n`` distinct task items of the registry's families (distinct by
``scoring_synth.problem_key``: same family, numbers and answer is one problem), and ``n``
1 KB paragraphs (``scoring_synth.paragraph``, no answer).

Per kind, for each data set:

- ``dedup_round``: copies served by a later-ranked miner in the same round, share flagged;
- ``dedup_history``: the same copies against a history holding the originals;
- ``dedup_fp``: *other* distinct items under the same perturbation, served after the
  originals, share flagged (as anything);
- ``gate``: each original is an eval item; its perturbed copy, share flagged naming *that*
  item (per item);
- ``gate_fp``: honest generator items (problems absent from the pool; other paragraphs)
  under the same perturbation, share flagged;
- ``answer`` (task data only): items given a wrong, self-consistent answer
  (``tasks.quality``), prompt and answer perturbed, share ``tasks.solve.answer_is_wrong``
  calls wrong; ``answer_fp``: the right answers perturbed the same way, share called wrong.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from scoring.contamination import EvalItem, EvalPoolIndex
from scoring.dedup import (
    DUPLICATE_OF_HISTORY,
    HistoryIndex,
    Submission,
    dedup_round,
    fingerprints,
)
from scoring.minhash import MinHasher
from tasks.families import TaskItem, generate_many
from tasks.quality import Quality, degrade
from tasks.solve import answer_is_wrong
from tests.scoring.scoring_synth import paragraph, problem_key, task_text
from tests.support.perturb import ANSWER_KINDS, perturb_item, perturb_text

HASHER = MinHasher()


@dataclass(frozen=True)
class Sample:
    """One text under test and its final answer ("" for free text)."""

    text: str
    answer: str


@dataclass(frozen=True)
class Data:
    """Originals, other distinct items of the same kind, and (tasks only) the items."""

    name: str
    originals: list[Sample]
    others: list[Sample]
    items: list[TaskItem] | None  # for the answer check and for perturbing by field
    other_items: list[TaskItem] | None


def task_data(n: int, seed: int = 11) -> Data:
    """``2 n`` distinct task items: ``n`` originals and ``n`` others (disjoint problems)."""
    seen: set[object] = set()
    distinct: list[TaskItem] = []
    for item in generate_many(seed, 6 * n):
        key = problem_key(item)
        if key not in seen:
            seen.add(key)
            distinct.append(item)
        if len(distinct) == 2 * n:
            break
    if len(distinct) < 2 * n:
        raise ValueError(f"only {len(distinct)} distinct items in {6 * n} draws")
    items, others = distinct[:n], distinct[n:]
    return Data("task", _samples(items), _samples(others), items, others)


def free_data(n: int, seed: int = 12) -> Data:
    """``2 n`` 1 KB paragraphs: ``n`` originals and ``n`` others."""
    rng = random.Random(seed)
    texts = [paragraph(rng) for _ in range(2 * n)]
    samples = [Sample(t, "") for t in texts]
    return Data("free", samples[:n], samples[n:], None, None)


def _samples(items: Sequence[TaskItem]) -> list[Sample]:
    return [Sample(task_text(it), it.final_answer) for it in items]


def perturbed(data: Data, kind: str, seed: int, others: bool = False) -> list[Sample]:
    """The originals (or the others) of ``data`` under ``kind``."""
    rng = random.Random(seed)
    items = data.other_items if others else data.items
    if items is not None:
        copies = [perturb_item(it, kind, rng) for it in items]
        return [Sample(task_text(c), c.final_answer) for c in copies]
    source = data.others if others else data.originals
    return [Sample(perturb_text(s.text, kind, rng), s.answer) for s in source]


def _answers(samples: Sequence[Sample]) -> list[str] | None:
    answers = [s.answer for s in samples]
    return answers if any(answers) else None


def _submission(uid: int, samples: Sequence[Sample], block: int) -> Submission:
    return Submission(uid, [s.text for s in samples], block, _answers(samples))


def dedup_figures(data: Data, copies: list[Sample], other: list[Sample]) -> dict[str, float]:
    """``dedup_round``, ``dedup_history`` and ``dedup_fp`` (module docstring)."""
    n = len(copies)
    same = dedup_round(
        [_submission(1, data.originals, 1), _submission(2, copies, 2)], HistoryIndex(), HASHER
    )
    history = HistoryIndex()
    texts = [s.text for s in data.originals]
    for i, fingerprint in enumerate(fingerprints(texts, _answers(data.originals), HASHER)):
        history.add(f"h/{i}", fingerprint)
    later = dedup_round([_submission(2, copies, 2)], history, HASHER)[2]
    false = dedup_round(
        [_submission(1, data.originals, 1), _submission(2, other, 2)], HistoryIndex(), HASHER
    )
    return {
        "dedup_round": 1 - len(same[2].kept) / n,
        "dedup_history": sum(v.reason == DUPLICATE_OF_HISTORY for v in later.verdicts) / n,
        "dedup_fp": 1 - len(false[2].kept) / n,
    }


def eval_pool(data: Data) -> EvalPoolIndex:
    """The originals as the gate's eval pool (item ids ``e<i>``)."""
    items = data.items
    prompts = [it.prompt for it in items] if items is not None else None
    return EvalPoolIndex(
        [
            EvalItem(f"e{i}", prompts[i] if prompts else s.text.split(".")[0], s.text, s.answer)
            for i, s in enumerate(data.originals)
        ],
        HASHER,
    )


def gate_figures(
    pool: EvalPoolIndex, copies: list[Sample], other: list[Sample]
) -> dict[str, float]:
    """``gate`` (per item: the copy of item i must be flagged as item i) and ``gate_fp``."""
    verdicts = pool.check([s.text for s in copies], [s.answer for s in copies])
    honest = pool.check([s.text for s in other], [s.answer for s in other])
    hits = sum(v.contaminated and v.item_id == f"e{v.index}" for v in verdicts)
    return {
        "gate": hits / len(copies),
        "gate_fp": sum(v.contaminated for v in honest) / len(other),
    }


def answer_figures(items: Sequence[TaskItem], kind: str, seed: int) -> dict[str, float]:
    """``answer`` (wrong answers called wrong) and ``answer_fp`` (right ones called wrong)."""
    rng = random.Random(seed)
    wrong = right = 0
    for item in items:
        _, _, bad = degrade(item, Quality.WRONG, rng)
        served = perturb_item(TaskItem(item.family, item.prompt, "", bad), kind, rng)
        wrong += answer_is_wrong(served.prompt, served.final_answer)
        honest = perturb_item(item, kind, rng)
        right += answer_is_wrong(honest.prompt, honest.final_answer)
    return {"answer": wrong / len(items), "answer_fp": right / len(items)}


def measure(data: Data, kind: str, pool: EvalPoolIndex, seed: int = 0) -> dict[str, float]:
    """Every figure of the module docstring for one data set and one kind."""
    copies = perturbed(data, kind, seed)
    other = perturbed(data, kind, seed + 1, others=True)
    out = dedup_figures(data, copies, other) | gate_figures(pool, copies, other)
    if data.items is not None:
        out |= answer_figures(data.items, kind, seed + 2)
    return out


# The answer kinds are the only ones a wrong answer is perturbed by (an id or a synonym added
# to an answer changes it); re-exported for the table's legend.
ANSWER_PERTURBED_BY = ANSWER_KINDS
