"""Dedup: the round rule (history, priority order, within), history round-trip, quality."""

from __future__ import annotations

import random

from scoring.dedup import (
    DUPLICATE_OF_HISTORY,
    DUPLICATE_WITHIN,
    Fingerprint,
    HistoryIndex,
    StaleHistory,
    Submission,
    dedup_round,
    fingerprints,
)
from scoring.minhash import MinHasher, MinHashParams
from tasks.families import generate_many
from tests.scoring.scoring_synth import paragraph, perturb, problem_key, task_text

HASHER = MinHasher()


def _history(texts: list[str]) -> HistoryIndex:
    history = HistoryIndex()
    for i, fingerprint in enumerate(fingerprints(texts, None, HASHER)):
        history.add(f"9/r0/{i}", fingerprint)
    return history


def _print(text: str, answer: str | None = None) -> Fingerprint:
    return fingerprints([text], None if answer is None else [answer], HASHER)[0]


def test_rule_history_then_priority_then_within() -> None:
    rng = random.Random(1)
    old, a, b = paragraph(rng), paragraph(rng), paragraph(rng)
    history = _history([old])
    subs = [
        Submission(uid=1, texts=[perturb(a, rng), b], commit_block=200),  # copies a late
        Submission(uid=7, texts=[a, perturb(a, rng), perturb(old, rng)], commit_block=100),
        Submission(uid=3, texts=[perturb(b, rng)], commit_block=None),  # no commitment: last
    ]
    result = dedup_round(subs, history, HASHER)
    assert [v.reason for v in result[7].verdicts] == [None, DUPLICATE_WITHIN, DUPLICATE_OF_HISTORY]
    assert result[7].verdicts[2].matched == "9/r0/0"
    assert [v.reason for v in result[1].verdicts] == ["duplicate_of_miner 7", None]
    assert [v.reason for v in result[3].verdicts] == ["duplicate_of_miner 1"]
    assert result[7].counts() == {
        "offered": 3,
        "kept": 1,
        "duplicate_within": 1,
        "duplicate_of_miner": 0,
        "duplicate_of_history": 1,
    }
    assert result[1].kept == [1]


def test_priority_does_not_depend_on_input_order() -> None:
    rng = random.Random(2)
    a = paragraph(rng)
    subs = [Submission(5, [a], 50), Submission(2, [perturb(a, rng)], 50)]
    for order in (subs, subs[::-1]):
        result = dedup_round(order, HistoryIndex(), HASHER)
        assert result[2].verdicts[0].kept and result[5].verdicts[0].reason == "duplicate_of_miner 2"


def test_history_round_trip_keeps_order_and_checks_params() -> None:
    rng = random.Random(3)
    texts = [paragraph(rng) for _ in range(20)]
    history = _history(texts)
    restored = HistoryIndex.from_dict(history.to_dict())
    assert restored.to_dict() == history.to_dict()
    assert restored.matches(_print(texts[4])) == ("9/r0/4", 1.0)
    try:
        HistoryIndex.from_dict(history.to_dict(), params=MinHashParams(seed=1))
    except StaleHistory:
        pass
    else:
        raise AssertionError("a history of other params must be refused")


def test_add_returns_entries_that_rebuild_the_index() -> None:
    history, entries = HistoryIndex(), {}
    for i, text in enumerate(["alpha beta gamma delta", "one two three four five"]):
        entries.update(history.add(f"o{i}", _print(text, "x")))
    assert HistoryIndex.from_dict(entries).to_dict() == history.to_dict()


def test_quality_on_task_items() -> None:
    """Copies are caught; distinct problems of one template (other numbers) are kept."""
    items = generate_many(11, 400)
    rng = random.Random(4)
    seen, kept_items = set(), []
    for it in items:
        if problem_key(it) not in seen:
            seen.add(problem_key(it))
            kept_items.append(it)
    distinct = [task_text(it) for it in kept_items]
    answers = [it.final_answer for it in kept_items]
    clean = dedup_round([Submission(1, distinct, answers=answers)], HistoryIndex(), HASHER)[1]
    fp = 1 - len(clean.kept) / len(distinct)
    copies = [perturb(t, rng) for t in distinct]
    caught = dedup_round(
        [Submission(1, distinct, 1, answers), Submission(2, copies, 2, answers)],
        HistoryIndex(),
        HASHER,
    )
    recall = 1 - len(caught[2].kept) / len(copies)
    print(
        f"\ndedup on task items: recall {recall:.3f}, "
        f"false positives {fp:.4f} ({len(distinct)} items)"
    )
    assert recall >= 0.95 and fp <= 0.01


def test_empty_texts_are_kept_and_never_match() -> None:
    result = dedup_round([Submission(1, ["", "!!", ""])], HistoryIndex(), HASHER)[1]
    assert result.kept == [0, 1, 2]


def test_added_numbers_keep_a_copy_a_copy_and_other_numbers_make_another_item() -> None:
    item = "What is 27 plus 56?\nOnes: 7+6=13, carry 1. Tens: 2+5+1=8. So 83.\n83"
    copies = [
        "[123456] " + item,
        item.replace("\n83", "\n83 (id 4242)").replace("So", "3. So"),
        item.replace("plus", "plus 777 plus"),
    ]
    other = "What is 27 plus 57?\nOnes: 7+7=14, carry 1. Tens: 2+5+1=8. So 84.\n84"
    subs = [
        Submission(1, [item], 1, ["83"]),
        Submission(2, copies, 2, ["83", "83 (id 4242)", "83"]),
        Submission(3, [other], 3, ["84"]),
    ]
    result = dedup_round(subs, HistoryIndex(), HASHER)
    assert [v.reason for v in result[2].verdicts] == ["duplicate_of_miner 1"] * 3
    assert result[3].kept == [0]


def test_an_unmapped_look_alike_in_the_answer_is_the_same_answer() -> None:
    text = "Sort: kite drum cloud\nFirst letters: k d c.\ncloud drum kite"
    copy = "Sort: κite drum cloud\nFirst letters: κ d c.\ncloud drum κite"  # Greek kappa
    result = dedup_round(
        [
            Submission(1, [text], 1, ["cloud drum kite"]),
            Submission(2, [copy], 2, ["cloud drum κite"]),
        ],
        HistoryIndex(),
        HASHER,
    )
    assert result[2].verdicts[0].reason == "duplicate_of_miner 1"
