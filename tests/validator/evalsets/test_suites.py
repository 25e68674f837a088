"""Eval suites: the registry's sets unchanged, reasoning-gym's drawn, versioned and verifiable.

Runs against the real reasoning-gym package (the ``gym`` extra, part of ``dev``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import reasoning_gym

from protocol.cli import parse_settings, to_env
from tasks.families import verify
from tasks.registry import REGISTRY, Difficulty
from tasks.stratified import generate_stratified
from validator.config import ValidatorSettings
from validator.evalsets.cot import EVAL_VERSION, NEAR_MISSES, EvalSet, draw_eval_set, round_seed
from validator.evalsets.pool import EvalPool
from validator.evalsets.suites import (
    FAMILY_PREFIX,
    REASONING_GYM_DATASETS,
    REASONING_GYM_PIN,
    REASONING_GYM_SUITE_VERSION,
    EvalSuite,
    SuiteUnavailableError,
    draw_reasoning_gym,
    reasoning_gym_entries,
)
from validator.model.evaluate import extract_answer
from validator.model.recipe import format_completion

SECRET = "suite-test-secret"
RG = EvalSuite.REASONING_GYM
ROOT = Path(__file__).resolve().parents[3]


def _digest(items: list[Any]) -> str:
    return hashlib.sha256(json.dumps([asdict(it) for it in items]).encode()).hexdigest()


# --- the registry suite: today's sets, byte for byte ---------------------------------------


def test_registry_suite_is_the_default_and_its_sets_are_unchanged() -> None:
    default = draw_eval_set(SECRET, "r1", 24)
    explicit = draw_eval_set(SECRET, "r1", 24, suite=EvalSuite.REGISTRY)
    assert explicit.sha256() == default.sha256()
    # ... and equal to the registry's stratified draw from the round seed, as without suites.
    seed = round_seed(SECRET, "r1")
    items = generate_stratified(
        seed, 24, REGISTRY.names(), Difficulty.FULL, near_misses=NEAR_MISSES
    )
    before = EvalSet("r1", seed, EVAL_VERSION, tuple(items))
    assert default.sha256() == before.sha256()
    assert default.version == EVAL_VERSION


# --- the reasoning-gym suite ----------------------------------------------------------------


@pytest.mark.parametrize("count", [64, 13])
def test_reasoning_gym_suite_draws_count_items_balanced_over_its_datasets(count: int) -> None:
    eval_set = draw_eval_set(SECRET, "r1", count, suite=RG)
    assert len(eval_set.items) == count
    per_family = Counter(it.family for it in eval_set.items)
    assert set(per_family) <= {FAMILY_PREFIX + n for n in REASONING_GYM_DATASETS}
    assert max(per_family.values()) - min(per_family.values()) <= 1
    if count >= len(REASONING_GYM_DATASETS):
        assert len(per_family) == len(REASONING_GYM_DATASETS)
    for it in eval_set.items:
        assert it.prompt and it.final_answer and it.chain_of_thought == ""
        assert it.near_misses == ()  # contrast margin NaN: "no contrast for this item"


def test_reasoning_gym_draw_is_deterministic_and_differs_across_rounds_and_secrets() -> None:
    a = draw_eval_set(SECRET, "r1", 32, suite=RG)
    assert draw_eval_set(SECRET, "r1", 32, suite=RG).sha256() == a.sha256()
    assert draw_eval_set(SECRET, "r2", 32, suite=RG).items != a.items
    assert draw_eval_set("another-secret", "r1", 32, suite=RG).items != a.items
    # Never the registry's seed: the suite is part of what the seed hashes.
    assert a.seed != draw_eval_set(SECRET, "r1", 32).seed


def test_reasoning_gym_draw_does_not_depend_on_the_process_hash_seed() -> None:
    """Auditors regenerate the set in another process: str hashing must not leak into it.

    The child imports the settings and the suite module first, and checks that neither pulls
    in reasoning_gym (nor torch): the package is imported only when its suite draws.
    """
    seed = round_seed(SECRET, "r1")
    child = (
        "import sys, json, hashlib; from dataclasses import asdict\n"
        "import validator.config, validator.evalsets.suites as es\n"
        "assert 'reasoning_gym' not in sys.modules and 'torch' not in sys.modules\n"
        f"items = es.draw_reasoning_gym({seed}, 64)\n"
        "print(hashlib.sha256(json.dumps([asdict(i) for i in items]).encode()).hexdigest())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", child], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == _digest(draw_reasoning_gym(seed, 64))


def test_version_names_the_suite_and_the_package_version() -> None:
    eval_set = draw_eval_set(SECRET, "r1", 8, suite=RG)
    installed = metadata.version("reasoning-gym")
    assert installed == REASONING_GYM_PIN
    assert eval_set.version == (
        f"{EVAL_VERSION}+{REASONING_GYM_SUITE_VERSION}+reasoning-gym=={installed}"
    )
    assert eval_set.seed == round_seed(SECRET, "r1", eval_set.version)


def test_families_narrow_the_reasoning_gym_datasets() -> None:
    items = draw_eval_set(SECRET, "r1", 10, ("rg:chain_sum", "rg:lcm"), suite=RG).items
    assert {it.family for it in items} == {"rg:chain_sum", "rg:lcm"}
    with pytest.raises(ValueError, match="unknown reasoning-gym families"):
        draw_eval_set(SECRET, "r1", 10, ("reverse",), suite=RG)


# --- every answer verifies through evaluation's own check, and a wrong one does not ----------


def _wrong(answer: str) -> str:
    """A wrong answer of the reference's shape."""
    if re.fullmatch(r"-?\d+", answer):
        return str(int(answer) + 1)
    words = answer.split(", ")
    if len(words) > 1 and words != words[::-1]:
        return ", ".join(words[::-1])  # sorted the other way
    if len(words) > 1:
        return ", ".join(words[:-1])  # one word lost
    return answer[::-1] if answer != answer[::-1] else answer + answer[-1]  # not reversed


def test_every_reference_verifies_as_evaluation_reads_it_and_wrong_answers_do_not() -> None:
    """Evaluation extracts the ``Answer:`` line and calls ``verify``; the dataset agrees."""
    scorers = {n: reasoning_gym.get_score_answer_fn(n) for n in REASONING_GYM_DATASETS}
    checked = 0
    for round_id in ("r1", "r2", "r3"):
        eval_set = draw_eval_set(SECRET, round_id, 64, suite=RG)
        entries = reasoning_gym_entries(eval_set.seed, 64)
        assert [it.final_answer for it in eval_set.items] == [e["answer"] for _, e in entries]
        for name, entry in entries:
            answer = str(entry["answer"])
            score = scorers[name]
            completion = format_completion("", answer)  # the reference completion of the item
            assert verify(extract_answer(completion), answer), (name, answer)
            assert score(answer, entry) == 1.0, (name, answer)
            wrong = _wrong(answer)
            assert not verify(wrong, answer), (name, answer, wrong)
            assert score(wrong, entry) < 1.0, (name, answer, wrong)
            checked += 1
    assert checked == 3 * 64


def test_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "reasoning_gym", None)  # what an absent package raises
    with pytest.raises(SuiteUnavailableError, match=r'pip install -e "\.\[gym\]"'):
        EvalPool(SECRET, suite=RG)
    EvalPool(SECRET)  # the registry suite never needs it


# --- the pool and the settings carry the suite ----------------------------------------------


def test_pool_draws_from_its_suite() -> None:
    pool = EvalPool(SECRET, suite=RG)
    eval_set = pool.draw("r1", 12)
    assert eval_set.sha256() == draw_eval_set(SECRET, "r1", 12, suite=RG).sha256()
    assert pool.published()["version"] == eval_set.version


def _parse(argv: list[str]) -> ValidatorSettings:
    return parse_settings(ValidatorSettings, argv, "validator")


def test_eval_suite_flag_and_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _parse([]).eval_suite is EvalSuite.REGISTRY
    settings = _parse(["--eval.suite", "reasoning-gym"])
    assert settings.eval_suite is EvalSuite.REASONING_GYM
    assert to_env(settings)["DATACOMP_VALIDATOR_EVAL_SUITE"] == "reasoning-gym"
    monkeypatch.setenv("DATACOMP_VALIDATOR_EVAL_SUITE", "reasoning-gym")
    assert _parse([]).eval_suite is EvalSuite.REASONING_GYM
    assert _parse(["--eval.suite", "registry"]).eval_suite is EvalSuite.REGISTRY
    with pytest.raises(SystemExit) as exc:
        _parse(["--eval.suite", "gym"])
    assert exc.value.code == 2
    assert "--eval.suite (DATACOMP_VALIDATOR_EVAL_SUITE)" in capsys.readouterr().err
