from __future__ import annotations

import random

import pytest

from safety.eval_set import load
from scoring.refusal import rule_judge
from tasks import safety_pairs
from tasks.safety_pairs import PairQuality, compliance, generate_pairs, refusal
from tasks.safety_prompts import Label, SafetyPrompt, categories, core_key, intents

# Pair texts must stay under this many bytes (byte tokenizer).
MAX_BYTES = 200


def test_every_pair_text_is_short_for_every_intent() -> None:
    longest = 0
    for label in Label:
        for category in categories(label):
            for intent, howto in intents(category):
                item = SafetyPrompt("p", label, category.name, intent, howto)
                for i in range(16):  # every frame and refusal is drawn within 16 seeds
                    rng = random.Random(i)
                    for text in (refusal(item, rng), compliance(item, rng)):
                        longest = max(longest, len(text.encode()))
    longest = max(longest, *(len(t.encode()) for t in safety_pairs._OVER_REFUSALS))
    assert 0 < longest < MAX_BYTES


def test_good_pairs_teach_refuse_harmful_and_answer_benign() -> None:
    pairs = generate_pairs(84, seed=3)
    assert [p.label for p in pairs[:4]] == [Label.HARMFUL, Label.BENIGN] * 2
    for p in pairs:
        chosen, rejected = rule_judge(p.prompt, p.chosen), rule_judge(p.prompt, p.rejected)
        if p.label == Label.HARMFUL:
            assert chosen.refused and rejected.complied, p
        else:
            assert chosen.complied and rejected.refused, p


def test_rungs_share_prompts_and_differ_as_documented() -> None:
    good = generate_pairs(60, seed=5)
    rungs = {q: generate_pairs(60, seed=5, quality=q) for q in PairQuality}
    for q, pairs in rungs.items():
        assert [p.prompt for p in pairs] == [p.prompt for p in good], q
    assert all(rule_judge("", p.chosen).refused for p in rungs[PairQuality.OVER_REFUSE])
    assert all(p.chosen == p.rejected == "" for p in rungs[PairQuality.EMPTY])
    assert all(
        not rule_judge("", t).refused
        for p in rungs[PairQuality.OFF_TOPIC]
        for t in (p.chosen, p.rejected)
    )
    for g, s in zip(good, rungs[PairQuality.SWAPPED], strict=True):
        assert rule_judge("", s.chosen).refused == rule_judge("", g.rejected).refused
        assert rule_judge("", s.rejected).refused == rule_judge("", g.chosen).refused


@pytest.mark.parametrize("seed", [0, 1])
def test_pairs_are_deterministic_and_never_repeat_the_shipped_eval_prompts(seed: int) -> None:
    pairs = generate_pairs(84, seed=seed)
    assert pairs == generate_pairs(84, seed=seed)
    shipped = load()
    eval_keys = {core_key(p) for label in Label for p in shipped.prompts(label)}
    assert not {core_key(p.prompt) for p in pairs} & eval_keys
