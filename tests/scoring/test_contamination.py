"""Contamination gate: detector quality measured on generated pairs (figures printed, -s)."""

from __future__ import annotations

import random

from scoring.contamination import (
    MINHASH,
    NGRAM,
    ContaminationVerdict,
    EvalItem,
    EvalPoolIndex,
    check_contamination,
)
from tasks.families import generate_many
from tests.scoring.scoring_synth import paragraph, perturb, problem_key, task_text

POOL = 256  # eval items: a few times the 64 of the design's measurements
CANDIDATES = 1000


def _matched(verdict: ContaminationVerdict) -> str:
    """The eval item a contaminated verdict names (it always names one)."""
    assert verdict.item_id is not None
    return verdict.item_id


def _pool() -> list[EvalItem]:
    return [
        EvalItem(f"eval-{i}", it.prompt, task_text(it), it.final_answer)
        for i, it in enumerate(generate_many(1, POOL))
    ]


def test_task_items_recall_and_false_positives() -> None:
    items = generate_many(1, POOL)
    pool = EvalPoolIndex(
        [
            EvalItem(f"eval-{i}", it.prompt, task_text(it), it.final_answer)
            for i, it in enumerate(items)
        ]
    )
    rng = random.Random(7)
    copies = [perturb(task_text(it), rng) for it in items for _ in range(3)]
    answers = [it.final_answer for it in items for _ in range(3)]
    truth = [f"eval-{i}" for i in range(len(items)) for _ in range(3)]
    verdicts = pool.check(copies, answers)
    recall = sum(v.contaminated for v in verdicts) / len(verdicts)
    right_item = sum(
        v.item_id == t
        or (
            v.contaminated
            and problem_key(items[int(_matched(v)[5:])]) == problem_key(items[int(t[5:])])
        )
        for v, t in zip(verdicts, truth, strict=True)
    )
    eval_keys = {problem_key(it) for it in items}
    distinct = [it for it in generate_many(2, CANDIDATES) if problem_key(it) not in eval_keys]
    flagged = pool.check([task_text(it) for it in distinct], [it.final_answer for it in distinct])
    fp = sum(v.contaminated for v in flagged) / len(flagged)
    print(
        f"\ntask items: recall {recall:.3f} on {len(copies)} copies (10% words, reordered), "
        f"false positives {fp:.4f} on {len(distinct)} distinct items vs {POOL} eval items"
    )
    assert recall >= 0.95
    assert right_item == sum(v.contaminated for v in verdicts)
    assert fp <= 0.01


def test_paragraph_recall_and_false_positives() -> None:
    rng = random.Random(3)
    originals = [paragraph(rng) for _ in range(200)]
    pool = EvalPoolIndex([EvalItem(f"p{i}", t.split(".")[0], t) for i, t in enumerate(originals)])
    copies = [perturb(t, rng) for t in originals]
    recall = sum(v.contaminated for v in pool.check(copies)) / len(copies)
    distinct = [paragraph(rng) for _ in range(500)]
    fp = sum(v.contaminated for v in pool.check(distinct)) / len(distinct)
    print(f"\nparagraphs: recall {recall:.3f}, false positives {fp:.4f}")
    assert recall >= 0.95
    assert fp <= 0.01


def test_embedded_eval_item_is_caught_by_ngram() -> None:
    rng = random.Random(5)
    pool = _pool()
    host = paragraph(rng, 3000)
    cut = host.index(". ", 1500) + 2
    embedded = host[:cut] + pool[10].text + " " + host[cut:]
    [verdict] = check_contamination([embedded], pool)
    assert verdict.contaminated and verdict.item_id == "eval-10" and NGRAM in verdict.detectors


def test_whole_prompt_is_an_ngram_for_short_prompts() -> None:
    items = [
        it for it in generate_many(1, 400) if 8 <= len(it.prompt.split()) < 13
    ]  # prompts of 8-12 words: each is one n-gram whole
    pool = [EvalItem(f"e{i}", it.prompt, task_text(it)) for i, it in enumerate(items)]
    sample = (
        f"{items[4].prompt.upper()}!!\nI think about it for a while and write my own reasoning"
        " at some length, in words of my own that the item does not have.\n1"
    )
    [verdict] = check_contamination([sample], pool)
    assert verdict.contaminated and verdict.item_id == "e4" and verdict.detectors == (NGRAM,)


def test_exact_copy_fires_both_detectors_and_names_item() -> None:
    pool = _pool()
    [verdict] = check_contamination([pool[3].text], pool)
    assert verdict.contaminated and verdict.item_id == "eval-3"
    assert set(verdict.detectors) == {NGRAM, MINHASH} or verdict.detectors == (MINHASH,)
    assert verdict.similarity == 1.0


def test_same_template_other_numbers_is_clean() -> None:
    pool = [
        EvalItem(
            "a",
            "Ana has 47 apples and gets 25 more. How many apples now?",
            "Ana has 47 apples and gets 25 more. How many apples now?\n"
            "47+25: tens 40+20=60, ones 7+5=12, 60+12=72.\n72",
            "72",
        )
    ]
    other = (
        "Ana has 47 apples and gets 31 more. How many apples now?\n"
        "47+31: tens 40+30=70, ones 7+1=8, 70+8=78.\n78"
    )
    assert not check_contamination([other], pool, ["78"])[0].contaminated
    assert not check_contamination([other], pool)[0].contaminated


def test_empty_inputs() -> None:
    assert check_contamination([], _pool()) == []
    assert not check_contamination(["", "..."], _pool())[0].contaminated
    assert not check_contamination(["anything at all"], [])[0].contaminated
