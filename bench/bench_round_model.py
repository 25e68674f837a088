"""Seconds per miner for the model runner, and the quality ladder under the default recipe.

Run: ``.venv/bin/python bench/bench_round_model.py [--cache-dir DIR] [--lr X] [--steps N]``

Per round the base model is evaluated once (it does not scale with miners); per miner the
runner trains a fresh adapter on 64 samples (train), evaluates the tuned model (eval), and
pays for the rest (overhead: wrapping, the merged eval copy, releasing the adapter). Each
ladder rung plays one miner serving 64 samples of one quality from the same task seed.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
import time

import torch

from tasks.families import generate_many
from tasks.quality import Quality, degrade
from validator.evalsets.cot import draw_eval_set, general_texts
from validator.model.base import load_base
from validator.model.evaluate import evaluate
from validator.model.recipe import DEFAULT_RECIPE, format_completion, format_prompt
from validator.model.train import release, train_lora

SAMPLES_PER_MINER = 64  # the demo miners' submission size
TASK_SEED = 4242  # one task seed for every rung: the data quality is the only difference


def _mean_delta(tuned: list[float], base: list[float]) -> float:
    return statistics.fmean(t - b for t, b in zip(tuned, base, strict=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cache-dir", default=None, help="where the pretrained tiny base is cached")
    ap.add_argument("--lr", type=float, default=None, help="override the recipe's LoRA lr")
    ap.add_argument("--steps", type=int, default=None, help="override the recipe's step count")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (2 = CI machine)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    recipe = DEFAULT_RECIPE
    if args.lr is not None:
        recipe = dataclasses.replace(recipe, lr=args.lr)
    if args.steps is not None:
        recipe = dataclasses.replace(recipe, steps=args.steps)

    t = time.perf_counter()
    model, tok = load_base(None, "cpu", cache_dir=args.cache_dir)
    print(f"load base (pretrain on first use, then cached): {time.perf_counter() - t:.1f} s")
    eval_set = draw_eval_set("bench-secret", 1)
    guard = general_texts()

    t = time.perf_counter()
    base = evaluate(model, tok, eval_set.items, guard)
    base_s = time.perf_counter() - t
    n_items, n_guard = len(eval_set.items), len(guard)
    print(f"base eval once per round ({n_items} items + {n_guard} guard texts): {base_s:.1f} s")
    cl, al = statistics.fmean(base.completion_loss), statistics.fmean(base.answer_loss)
    gl = statistics.fmean(base.general_loss)
    print(f"base: accuracy {base.accuracy():.3f}, completion loss {cl:.3f}, answer loss {al:.3f}")
    print(f"base: guard loss {gl:.3f}")
    print(f"recipe: {recipe.to_dict()}")
    items = generate_many(TASK_SEED, SAMPLES_PER_MINER)
    cols = ["rung", "d completion loss", "d answer loss", "d final-answer loss", "d accuracy"]
    cols += ["d guard loss", "train s", "eval s", "overhead s"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * 9)
    timings = []
    for quality in Quality:
        rng = random.Random(0)
        pairs = []
        for it in items:
            p, c, a = degrade(it, quality, rng)
            pairs.append((format_prompt(p), format_completion(c, a)))
        t0 = time.perf_counter()
        result = train_lora(model, tok, pairs, recipe)
        t1 = time.perf_counter()
        tuned_model = result.eval_model()
        t2 = time.perf_counter()
        tuned = evaluate(tuned_model, tok, eval_set.items, guard)
        t3 = time.perf_counter()
        release(result)
        t4 = time.perf_counter()
        train_s, eval_s, over_s = t1 - t0, t3 - t2, (t2 - t1) + (t4 - t3)
        timings.append((train_s, eval_s, over_s))
        print(
            f"| {quality.value} | {_mean_delta(tuned.completion_loss, base.completion_loss):+.3f} "
            f"| {_mean_delta(tuned.answer_loss, base.answer_loss):+.3f} "
            f"| {_mean_delta(tuned.final_answer_loss, base.final_answer_loss):+.3f} "
            f"| {tuned.accuracy() - base.accuracy():+.3f} "
            f"| {_mean_delta(tuned.general_loss, base.general_loss):+.3f} "
            f"| {train_s:.2f} | {eval_s:.2f} | {over_s:.3f} |"
        )
    med = [statistics.median(col) for col in zip(*timings, strict=True)]
    print(
        f"per miner (median of {len(timings)}): train {med[0]:.2f} s, eval {med[1]:.2f} s, "
        f"overhead {med[2]:.3f} s; base eval {base_s:.2f} s once per round"
    )


if __name__ == "__main__":
    main()
