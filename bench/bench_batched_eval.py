"""Evaluation throughput, miners per second: one adapter at a time against shared batches.

Run: ``OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python bench/bench_batched_eval.py``
(``--per-pass 2 4 8`` for more pass sizes, ``--threads N`` for torch's CPU threads).

One round's model work on the embedded base: ``--miners`` miners (each 64 samples of one
quality rung, the rungs in turn, as ``bench_round_model.py`` plays them) are trained into one
PeftModel (``lora_adapters``), then evaluated on a round's eval set (``EVAL_SIZE`` items, their
near misses, the guard texts) three ways, evaluation only (training is the same for all three
and is reported apart):

- one at a time, unmerged: ``set_adapter`` then ``evaluate`` of the PeftModel, what
  ``validator/stages/cot_validate.py::train_and_measure`` does per miner;
- one at a time, merged: a merged copy per miner (``TrainResult.eval_model``, what the ladder
  and ``bench_round_model.py`` evaluate; the copy is timed with it);
- batched: ``evaluate_many`` over ``k`` adapters per pass.

Each batched result is checked against the unmerged one-at-a-time result (bit for bit) and
the merged one (largest loss difference). Where the time goes is measured too: the unmerged
one-at-a-time and the widest batched evaluation again without generation
(``generate=False``: the teacher-forced passes alone; generation is the rest). Figures are
printed, nothing is asserted: a shared machine moves them.
"""

from __future__ import annotations

import argparse
import copy
import math
import random
import time
from collections.abc import Sequence

import torch

from tasks.families import generate_many
from tasks.quality import Quality, degrade
from validator.evalsets.cot import EVAL_SIZE, draw_eval_set, general_texts
from validator.model.base import load_base
from validator.model.evaluate import EvalResult, evaluate, evaluate_many
from validator.model.recipe import DEFAULT_RECIPE, format_completion, format_prompt
from validator.model.train import lora_adapters

SAMPLES_PER_MINER = 64  # the demo miners' submission size (bench_round_model.py)
TASK_SEED = 4242  # miner i draws its tasks from TASK_SEED + i: different data per adapter
MINERS = 8  # the target pass size: 8 adapters per pass
LOSS_FIELDS = (
    "completion_loss",
    "answer_loss",
    "final_answer_loss",
    "general_loss",
    "contrast_margin",
)


def _miner_pairs(i: int) -> list[tuple[str, str]]:
    """Miner ``i``'s 64 samples: its own task seed, the quality rungs in turn."""
    quality = list(Quality)[i % len(Quality)]
    rng = random.Random(i)
    out = []
    for it in generate_many(TASK_SEED + i, SAMPLES_PER_MINER):
        p, c, a = degrade(it, quality, rng)
        out.append((format_prompt(p), format_completion(c, a)))
    return out


def _max_loss_diff(a: EvalResult, b: EvalResult) -> float:
    """The largest absolute difference over every per-item loss and margin (NaN pairs skipped)."""
    worst = 0.0
    for name in LOSS_FIELDS:
        for x, y in zip(getattr(a, name), getattr(b, name), strict=True):
            if not (math.isnan(x) and math.isnan(y)):
                worst = max(worst, abs(x - y))
    return worst


def _identical(a: EvalResult, b: EvalResult) -> bool:
    """Every array equal, float for float (NaN margins of items without near misses match)."""
    da, db = a.to_dict(), b.to_dict()
    return all(
        x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y))
        for name in da
        for x, y in zip(da[name], db[name], strict=True)
    )


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:.3f} miners/s ({seconds:.2f} s for {n})"


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--miners", type=int, default=MINERS, help="adapters trained and evaluated")
    ap.add_argument("--per-pass", type=int, nargs="+", default=[MINERS], help="adapters per pass")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    model, tok = load_base(None, "cpu")
    eval_set = draw_eval_set("bench-secret", 1)
    items, guard = eval_set.items, general_texts()
    n_misses = sum(len(it.near_misses) for it in items)
    print(
        f"eval set: {len(items)} items (EVAL_SIZE {EVAL_SIZE}), {n_misses} near misses, "
        f"{len(guard)} guard texts; torch threads {torch.get_num_threads()}"
    )
    samples = {f"miner-{i}": _miner_pairs(i) for i in range(args.miners)}

    t = time.perf_counter()
    with lora_adapters(model, tok, samples, DEFAULT_RECIPE) as trained:
        train_s = time.perf_counter() - t
        print(f"train {args.miners} adapters one after another: {train_s:.1f} s")
        names = trained.names

        t = time.perf_counter()
        unmerged = {}
        for name in names:
            trained.model.set_adapter(name)
            unmerged[name] = evaluate(trained.model, tok, items, guard)
        one_s = time.perf_counter() - t
        print(f"one at a time, unmerged PeftModel: {_rate(len(names), one_s)}")

        t = time.perf_counter()
        merged = {}
        for name in names:
            trained.model.set_adapter(name)
            merged[name] = evaluate(
                copy.deepcopy(trained.model).merge_and_unload(), tok, items, guard
            )
        merged_s = time.perf_counter() - t
        print(f"one at a time, merged copy:        {_rate(len(names), merged_s)}")

        batched_s: dict[int, float] = {}
        for k in args.per_pass:
            t = time.perf_counter()
            batched: dict[str, EvalResult] = {}
            for start in range(0, len(names), k):
                batched |= evaluate_many(trained.model, tok, names[start : start + k], items, guard)
            batched_s[k] = time.perf_counter() - t
            same = all(_identical(batched[n], unmerged[n]) for n in names)
            worst = max(_max_loss_diff(batched[n], merged[n]) for n in names)
            gen_same = all(batched[n].generated == merged[n].generated for n in names)
            print(
                f"batched, {k} adapters per pass:      {_rate(len(names), batched_s[k])}; "
                f"x{one_s / batched_s[k]:.2f} vs unmerged, x{merged_s / batched_s[k]:.2f} vs merged"
            )
            print(
                f"  equal to unmerged one at a time bit for bit: {same}; vs merged: largest "
                f"loss difference {worst:.2e}, generations identical: {gen_same}"
            )
        k = max(args.per_pass)
        t = time.perf_counter()
        for name in names:
            trained.model.set_adapter(name)
            evaluate(trained.model, tok, items, guard, generate=False)
        one_tf = time.perf_counter() - t
        t = time.perf_counter()
        for start in range(0, len(names), k):
            evaluate_many(
                trained.model, tok, names[start : start + k], items, guard, generate=False
            )
        batched_tf = time.perf_counter() - t
        print(
            f"teacher-forced passes alone: one at a time {one_tf:.2f} s, batched ({k} per pass) "
            f"{batched_tf:.2f} s, x{one_tf / batched_tf:.2f}; generation is the rest "
            f"(one at a time {one_s - one_tf:.2f} s, batched {batched_s[k] - batched_tf:.2f} s)"
        )
        accuracy = [round(unmerged[n].accuracy(), 3) for n in names]
        print(f"tuned accuracy per miner: {accuracy}")


if __name__ == "__main__":
    main()
