"""The private eval set: reproducible from (secret, round), unpredictable without the secret."""

from __future__ import annotations

from validator.evalsets.cot import (
    EVAL_SIZE,
    EVAL_VERSION,
    draw_eval_set,
    general_texts,
    read_eval_set,
    round_seed,
    write_eval_set,
)


def test_same_secret_and_round_give_same_set_and_hash() -> None:
    a, b = draw_eval_set("s3cret", 7), draw_eval_set("s3cret", 7)
    assert a.items == b.items
    assert a.sha256() == b.sha256()
    assert len(a.items) == EVAL_SIZE
    assert a.version == EVAL_VERSION


def test_different_round_gives_different_set() -> None:
    a, b = draw_eval_set("s3cret", 7), draw_eval_set("s3cret", 8)
    assert a.items != b.items
    assert a.sha256() != b.sha256()


def test_secret_matters() -> None:
    assert round_seed("alice", 7) != round_seed("bob", 7)
    assert draw_eval_set("alice", 7).items != draw_eval_set("bob", 7).items


def test_fields_are_length_prefixed() -> None:
    assert round_seed("ab", "1") != round_seed("a", "b1")


def test_version_is_part_of_the_seed() -> None:
    assert round_seed("s", 1, "eval/1") != round_seed("s", 1, "eval/2")


def test_written_set_reads_back_with_the_same_hash(tmp_path) -> None:
    s = draw_eval_set(b"raw-bytes-secret", "r42", count=10)
    path = write_eval_set(s, tmp_path)
    assert s.sha256()[:12] in path.name
    again = read_eval_set(path)
    assert again == s
    assert again.sha256() == s.sha256()


def test_items_carry_reference_reasoning_and_answers() -> None:
    for item in draw_eval_set("s", 1, count=20).items:
        assert item.prompt and item.chain_of_thought and item.final_answer


def test_guard_texts_are_a_few_dozen_sentences() -> None:
    texts = general_texts()
    assert 24 <= len(texts) <= 100
    assert len(set(texts)) == len(texts)
