"""Seconds per miner for a round's model work: local, local batched, and Ray, at 1/8/32 miners.

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_executors.py [--miners 1 8 32] [--out F.json]``

Each synthetic miner serves 64 correct samples (its own generator seed) and is priced on the
validator's default eval set (``EVAL_SIZE`` items) with the embedded tiny base, as in a round:

- **local-sequential**: ``LocalExecutor`` at 2 torch threads (the CI machine's cores), one
  miner after another: today's default.
- **local-batched**: the same jobs, 8 adapters trained side by side and evaluated in shared
  passes (``LocalExecutor(adapters_per_pass=8)``: ``evaluate_many``), at 2 threads.
- **ray-2x1**: ``RayExecutor`` with 2 single-threaded workers on a local cluster (the cluster's
  start and the workers' base loading are reported apart: a validator pays them once).

Per mode: wall seconds, seconds per miner, the split per miner (train, eval: the jobs' own
timings) and the validator's own overhead (the wall time no job accounts for, plus the score
rule per miner) as a share of the round. The base is evaluated once per round, outside the
per-miner numbers, and printed once. Ratios are against local-sequential in the same run.
Targets (issue 13): batched eval >= 2x one-at-a-time eval throughput at 8 adapters per pass;
Ray 2x1 >= 1.5x local-sequential at 32 miners; overhead <= 5% of the round.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: the repo root holds the bench package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from miner.sources import GeneratorSource
from protocol.schemas import Competition, CotSample
from validator.evalsets.cot import EVAL_SIZE, draw_eval_set, general_texts
from validator.executor.jobs import JobOutcome, Measured, RoundWork, TrainJob, job_key
from validator.executor.local import LocalExecutor
from validator.model.base import load_base
from validator.model.recipe import DEFAULT_RECIPE
from validator.stages.cot_validate import evaluate_base, prepare_samples, score_prepared

SAMPLES_PER_MINER = 64  # the demo miners' submission size
LOCAL_THREADS = 2  # the CI machine's cores: the sequential baseline uses both
RAY_WORKERS = 2  # single-threaded workers: the same two cores, split by miner
PER_PASS = 8  # adapters per shared evaluation pass (the target is stated at 8)


def _work(n_miners: int) -> RoundWork:
    items = tuple(draw_eval_set("bench-secret", "bench-round", EVAL_SIZE).items)
    jobs = []
    for uid in range(n_miners):
        made = GeneratorSource(f"bench-miner-{uid}").samples(
            Competition.COT_SFT, SAMPLES_PER_MINER, "bench-round"
        )
        samples = tuple(s for s in made if isinstance(s, CotSample))
        key = job_key("bench-round", f"hk{uid}", samples, DEFAULT_RECIPE.version, "bench")
        jobs.append(TrainJob(key, uid, samples))
    return RoundWork(DEFAULT_RECIPE, items, tuple(general_texts()), tuple(jobs))


def _summary(
    mode: str, work: RoundWork, outcomes: dict[str, JobOutcome], wall: float, score_s: float
) -> dict[str, Any]:
    measured = [o for o in outcomes.values() if isinstance(o, Measured)]
    n = len(work.jobs)
    train = sum(m.timings_s["train"] for m in measured)
    evaluate = sum(m.timings_s["eval"] for m in measured)
    parallel = min(RAY_WORKERS, n) if mode.startswith("ray") else 1  # jobs that overlap
    unaccounted = max(0.0, wall - (train + evaluate) / parallel)
    overhead = unaccounted + score_s
    return {
        "mode": mode,
        "miners": n,
        "failed": n - len(measured),
        "wall_s": wall,
        "s_per_miner": wall / n,
        "train_s_per_miner": train / n,
        "eval_s_per_miner": evaluate / n,
        "overhead_share": overhead / (wall + score_s),
    }


def _score_seconds(work: RoundWork, outcomes: dict[str, JobOutcome], base: Any) -> float:
    """The score rule for every miner, as the CoT stage runs it after the jobs."""
    t0 = time.perf_counter()
    for job in work.jobs:
        outcome = outcomes[job.key]
        prepared = prepare_samples(list(job.samples), requested=SAMPLES_PER_MINER)
        score_prepared(prepared, base, outcome if isinstance(outcome, Measured) else None, 0)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--miners", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--skip-ray", action="store_true", help="local modes only")
    ap.add_argument("--out", type=Path, default=None, help="write every figure as JSON here")
    args = ap.parse_args()
    torch.set_num_threads(LOCAL_THREADS)
    model, tokenizer = load_base("tiny", "cpu")
    t0 = time.perf_counter()
    base = evaluate_base(model, tokenizer, _work(1).items, general_texts())
    print(f"base evaluated once per round: {time.perf_counter() - t0:.1f} s ({EVAL_SIZE} items)")
    rows: list[dict[str, Any]] = []
    local = LocalExecutor(model, tokenizer, threads=LOCAL_THREADS)
    batched = LocalExecutor(model, tokenizer, threads=LOCAL_THREADS, adapters_per_pass=PER_PASS)
    ray_executor = None
    if not args.skip_ray:
        from validator.executor.ray_cluster import BaseModelRef, RayExecutor

        t0 = time.perf_counter()
        ray_executor = RayExecutor(BaseModelRef("tiny", "cpu"), workers=RAY_WORKERS, threads=1)
        ray_executor.run(_work(RAY_WORKERS))  # warm: the workers load the base on first use
        print(f"ray: cluster start + {RAY_WORKERS} workers warm: {time.perf_counter() - t0:.1f} s")
    try:
        for n in args.miners:
            work = _work(n)
            modes: list[tuple[str, Any]] = [
                ("local-sequential", local),
                (f"local-batched-{PER_PASS}", batched),
            ]
            if ray_executor is not None:
                modes.append((f"ray-{RAY_WORKERS}x1", ray_executor))
            for mode, executor in modes:
                t0 = time.perf_counter()
                outcomes = executor.run(work)
                wall = time.perf_counter() - t0
                row = _summary(mode, work, outcomes, wall, _score_seconds(work, outcomes, base))
                rows.append(row)
                print(
                    f"{n:>3} miners  {mode:<17} {row['wall_s']:7.1f} s  "
                    f"{row['s_per_miner']:6.2f} s/miner  (train {row['train_s_per_miner']:.2f},"
                    f" eval {row['eval_s_per_miner']:.2f})  overhead {row['overhead_share']:.1%}",
                    flush=True,
                )
    finally:
        if ray_executor is not None:
            ray_executor.close()
    print("\nratios against local-sequential (throughput, same run):")
    for n in args.miners:
        same = {r["mode"]: r for r in rows if r["miners"] == n}
        baseline = same["local-sequential"]["s_per_miner"]
        for mode, row in same.items():
            print(f"{n:>3} miners  {mode:<17} {baseline / row['s_per_miner']:.2f}x")
    per_miner = [r["s_per_miner"] for r in rows if r["mode"] == "local-sequential"]
    if len(per_miner) > 1:
        spread = (max(per_miner) - min(per_miner)) / statistics.fmean(per_miner)
        print(f"local-sequential s/miner spread over {args.miners} miners: {spread:.1%} (linear)")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
