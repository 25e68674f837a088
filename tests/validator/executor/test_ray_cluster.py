"""The Ray executor against a real local Ray cluster (one per module): same numbers as local.

Jobs run on actors that load the base once; a worker that dies mid-job is replaced and its job
retried on a worker that lives, counted once; a job that fails twice zeroes only its miner.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import ray

from miner.sources import GeneratorSource
from protocol.keys import Keys
from protocol.redis_conn import start_embedded, stop_embedded
from protocol.schemas import Competition, CotSample
from tasks.quality import Quality
from tests.support.validator_fixture import MinerSpec, round_network
from validator.evalsets.cot import draw_eval_set
from validator.executor.jobs import JobFailure, Measured, RoundWork, TrainJob, job_key
from validator.executor.local import LocalExecutor
from validator.executor.ray_cluster import BaseModelRef, ModelWorker, RayExecutor
from validator.model.base import TINY_RANDOM, load_base
from validator.model.recipe import DEFAULT_RECIPE
from validator.store.records import MinerStatus, RoundRecord

pytestmark = pytest.mark.timeout(600)

BASE = BaseModelRef(TINY_RANDOM, "cpu")
# A few items and samples: the mechanics are under test, the sizes are the round's business.
EVAL_ITEMS = 8
SAMPLES = 8


@pytest.fixture(scope="module", autouse=True)
def cluster() -> Iterator[None]:
    """One local Ray cluster for the module (2 CPUs: two single-threaded workers)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _samples(seed: str) -> tuple[CotSample, ...]:
    made = GeneratorSource(seed).samples(Competition.COT_SFT, SAMPLES, "r1")
    return tuple(s for s in made if isinstance(s, CotSample))


def _work(uids: list[int]) -> RoundWork:
    items = tuple(draw_eval_set("executor-secret", "r1", EVAL_ITEMS).items)
    jobs = []
    for uid in uids:
        samples = _samples(f"miner-{uid}")
        key = job_key("r1", f"hk{uid}", samples, DEFAULT_RECIPE.version, "eval")
        jobs.append(TrainJob(key, uid, samples))
    return RoundWork(DEFAULT_RECIPE, items, ("A general sentence.",), tuple(jobs))


def _same(a: Measured, b: Measured) -> None:
    """Bit for bit: every per-item array, the generations and every training loss."""
    assert a.train_losses == b.train_losses
    for name in ("completion_loss", "answer_loss", "correct", "general_loss", "answers"):
        assert getattr(a.tuned, name) == getattr(b.tuned, name), name
    np.testing.assert_array_equal(a.tuned.contrast_margin, b.tuned.contrast_margin)


@pytest.fixture(scope="module")
def local_outcomes() -> dict[str, Any]:
    """The local executor at one torch thread: the reference."""
    model, tokenizer = load_base(TINY_RANDOM, "cpu")
    return LocalExecutor(model, tokenizer, threads=1).run(_work([1, 2, 3]))


def test_ray_equals_local_bit_for_bit_at_one_thread(local_outcomes: dict[str, Any]) -> None:
    executor = RayExecutor(BASE, workers=2, threads=1)
    try:
        outcomes = executor.run(_work([1, 2, 3]))
    finally:
        executor.close()
    assert set(outcomes) == set(local_outcomes)
    for key, outcome in outcomes.items():
        reference = local_outcomes[key]
        assert isinstance(outcome, Measured) and isinstance(reference, Measured)
        _same(outcome, reference)


def _marker(key: str) -> Path:
    return Path(tempfile.gettempdir()) / f"datacomp-test-die-once-{key}"


class DiesOnce(ModelWorker):
    """Kills its own process on a job whose marker file exists (and removes the marker)."""

    def run(self, shared: Any, job: TrainJob) -> Measured:
        marker = _marker(job.key)
        if marker.exists():
            marker.unlink()
            os._exit(1)  # the worker process dies mid-job, as on an OOM kill
        return super().run(shared, job)


def _woke(key: str) -> Path:
    return Path(tempfile.gettempdir()) / f"datacomp-test-woke-{key}"


class HangsOnce(ModelWorker):
    """Hangs (far past the test's deadline) on a job whose marker file exists, once.

    Had it slept to the end (no deadline killed it), it leaves a second marker (``_woke``).
    """

    def run(self, shared: Any, job: TrainJob) -> Measured:
        marker = _marker(job.key)
        if marker.exists():
            marker.unlink()
            time.sleep(600)  # a wedged worker: only the deadline gets the job back
            _woke(job.key).touch()
        return super().run(shared, job)


class AlwaysFails(ModelWorker):
    """Raises on uid 2's job, every time."""

    def run(self, shared: Any, job: TrainJob) -> Measured:
        if job.uid == 2:
            raise RuntimeError("this node cannot train uid 2")
        return super().run(shared, job)


def test_a_worker_that_dies_mid_job_is_retried_and_counted_once(
    local_outcomes: dict[str, Any],
) -> None:
    work = _work([1, 2, 3])
    victim = work.jobs[1].key
    _marker(victim).touch()
    executor = RayExecutor(BASE, workers=2, threads=1, worker_cls=DiesOnce)
    try:
        outcomes = executor.run(work)
        crashed = not _marker(victim).exists()  # the worker removed it just before dying
    finally:
        executor.close()
        _marker(victim).unlink(missing_ok=True)
    assert crashed
    assert set(outcomes) == set(local_outcomes)
    for key, outcome in outcomes.items():
        reference = local_outcomes[key]
        assert isinstance(outcome, Measured) and isinstance(reference, Measured)
        _same(outcome, reference)


def test_a_job_past_its_deadline_is_taken_back_and_run_elsewhere(
    local_outcomes: dict[str, Any],
) -> None:
    work = _work([1, 2, 3])
    victim = work.jobs[0].key
    _marker(victim).touch()
    _woke(victim).unlink(missing_ok=True)
    executor = RayExecutor(BASE, workers=2, threads=1, job_timeout_s=20, worker_cls=HangsOnce)
    try:
        outcomes = executor.run(work)
        hung = not _marker(victim).exists()
        woke = _woke(victim).exists()
    finally:
        executor.close()
        _marker(victim).unlink(missing_ok=True)
        _woke(victim).unlink(missing_ok=True)
    assert hung and not woke  # it wedged, and the round went on without waiting for it to wake
    assert set(outcomes) == set(local_outcomes)
    for key, outcome in outcomes.items():
        reference = local_outcomes[key]
        assert isinstance(outcome, Measured) and isinstance(reference, Measured)
        _same(outcome, reference)


def test_a_job_that_fails_twice_zeroes_its_miner_not_the_round() -> None:
    work = _work([1, 2])
    executor = RayExecutor(BASE, workers=2, threads=1, worker_cls=AlwaysFails)
    try:
        outcomes = executor.run(work)
    finally:
        executor.close()
    failed = outcomes[work.jobs[1].key]
    assert isinstance(failed, JobFailure) and failed.attempts == 2
    assert "this node cannot train uid 2" in failed.reason
    assert isinstance(outcomes[work.jobs[0].key], Measured)


def test_a_repeated_job_runs_once() -> None:
    work = _work([1])
    twice = RoundWork(work.recipe, work.items, work.general_texts, work.jobs * 2)
    executor = RayExecutor(BASE, workers=2, threads=1)
    try:
        assert list(executor.run(twice)) == [work.jobs[0].key]
    finally:
        executor.close()


def _round(tmp: Path, executor: Any, name: str) -> RoundRecord:
    """One CoT round over three generator miners (one serving wrong answers), fresh state."""
    tmp.mkdir()
    client = start_embedded(tmp / "r.rdb")
    miners = [
        MinerSpec("honest", GeneratorSource("honest")),
        MinerSpec("teacher", GeneratorSource("teacher", Quality.CORRECT_OTHER_WORDS)),
        MinerSpec("sloppy", GeneratorSource("sloppy", Quality.WRONG)),
    ]
    model = load_base(TINY_RANDOM, "cpu")
    try:
        with round_network(tmp, client, Keys.for_network(name, 1), model, miners) as net:
            net.ctx.stages.cot.eval_items = EVAL_ITEMS
            net.ctx.stages.cot.executor = executor
            return net.run("executor-round")
    finally:
        stop_embedded(client)


def test_a_round_through_ray_equals_the_local_round(tmp_path: Path) -> None:
    """The same round, local executor vs two Ray workers at one thread each: same record."""
    model, tokenizer = load_base(TINY_RANDOM, "cpu")
    local = _round(tmp_path / "local", LocalExecutor(model, tokenizer, threads=1), "local")
    executor = RayExecutor(BASE, workers=2, threads=1)
    try:
        remote = _round(tmp_path / "ray", executor, "ray")
    finally:
        executor.close()
    assert [m.status for m in remote.miners] == [MinerStatus.SCORED] * 3
    for a, b in zip(local.miners, remote.miners, strict=True):
        assert (a.uid, a.score, a.components, a.train_losses) == (
            b.uid,
            b.score,
            b.components,
            b.train_losses,
        )
        assert (a.ci_low, a.ci_high, a.reasons) == (b.ci_low, b.ci_high, b.reasons)
    assert local.weights == remote.weights
    cot = remote.competitions[Competition.COT_SFT]
    assert cot.torch_threads == local.competitions[Competition.COT_SFT].torch_threads == 1
