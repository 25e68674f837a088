"""The local executor: jobs in process, batched adapters equal to one at a time, failures kept to their miner."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from miner.sources import GeneratorSource
from protocol.schemas import Competition, CotSample
from validator.evalsets.cot import draw_eval_set
from validator.executor import local
from validator.executor.jobs import JobFailure, Measured, RoundWork, TrainJob, job_key
from validator.executor.local import LocalExecutor
from validator.model.base import TINY_RANDOM, load_base
from validator.model.recipe import DEFAULT_RECIPE

EVAL_ITEMS = 8
SAMPLES = 8


def _work(uids: list[int]) -> RoundWork:
    items = tuple(draw_eval_set("local-secret", "r1", EVAL_ITEMS).items)
    jobs = []
    for uid in uids:
        made = GeneratorSource(f"miner-{uid}").samples(Competition.COT_SFT, SAMPLES, "r1")
        samples = tuple(s for s in made if isinstance(s, CotSample))
        jobs.append(TrainJob(job_key("r1", f"hk{uid}", samples, "recipe", "eval"), uid, samples))
    return RoundWork(DEFAULT_RECIPE, items, ("A general sentence.",), tuple(jobs))


@pytest.fixture(scope="module")
def model() -> tuple[Any, Any]:
    return load_base(TINY_RANDOM, "cpu")


@pytest.fixture(scope="module")
def one_at_a_time(model: tuple[Any, Any]) -> dict[str, Any]:
    return LocalExecutor(*model, threads=1).run(_work([1, 2, 3]))


def test_batched_adapters_give_the_one_at_a_time_numbers(
    model: tuple[Any, Any], one_at_a_time: dict[str, Any]
) -> None:
    """Groups of 2 (and a last group of 1): every array and loss bit for bit."""
    batched = LocalExecutor(*model, threads=1, adapters_per_pass=2).run(_work([1, 2, 3]))
    assert set(batched) == set(one_at_a_time)
    for key, outcome in batched.items():
        reference = one_at_a_time[key]
        assert isinstance(outcome, Measured) and isinstance(reference, Measured)
        assert outcome.train_losses == reference.train_losses
        for name in ("completion_loss", "answer_loss", "correct", "general_loss", "answers"):
            assert getattr(outcome.tuned, name) == getattr(reference.tuned, name), name
        np.testing.assert_array_equal(
            outcome.tuned.contrast_margin, reference.tuned.contrast_margin
        )
    assert not hasattr(model[0], "peft_config")  # every adapter released: the base is bare


def test_a_job_that_fails_twice_zeroes_only_its_miner(
    model: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    work = _work([1, 2])
    bad = work.jobs[1]
    calls: list[int] = []
    real = local.train_and_measure

    def flaky(m: Any, tok: Any, recipe: Any, samples: Any, *rest: Any) -> Measured:
        calls.append(len(samples))
        if tuple(samples) == bad.samples:
            raise RuntimeError("out of memory on this miner's data")
        return real(m, tok, recipe, samples, *rest)

    monkeypatch.setattr(local, "train_and_measure", flaky)
    outcomes = LocalExecutor(*model, threads=1).run(work)
    failed = outcomes[bad.key]
    assert failed == JobFailure("RuntimeError: out of memory on this miner's data", 2)
    assert isinstance(outcomes[work.jobs[0].key], Measured)
    assert len(calls) == 3  # the good job once, the bad one twice


def test_a_group_that_breaks_falls_back_to_one_at_a_time(
    model: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch, one_at_a_time: dict[str, Any]
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the shared pass ran out of memory")

    monkeypatch.setattr(local, "lora_adapters", broken)
    outcomes = LocalExecutor(*model, threads=1, adapters_per_pass=3).run(_work([1, 2, 3]))
    for key, outcome in outcomes.items():
        reference = one_at_a_time[key]
        assert isinstance(outcome, Measured) and isinstance(reference, Measured)
        assert outcome.train_losses == reference.train_losses


def test_a_repeated_job_runs_once(model: tuple[Any, Any]) -> None:
    work = _work([1])
    twice = RoundWork(work.recipe, work.items, work.general_texts, work.jobs * 2)
    assert list(LocalExecutor(*model, threads=1).run(twice)) == [work.jobs[0].key]
