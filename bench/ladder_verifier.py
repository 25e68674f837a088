"""Can the base learn to judge a worked solution, in phrasings it never read? (issue 10)

Run: ``.venv/bin/python bench/ladder_verifier.py --steps 3000 --seeds 5 [--first-seed 0]
[--kinds near_miss | near_miss,misread] [--save DIR]`` (about 8 min for 3,000 steps on one
thread, then about 20 s a seed).

The ladder's wrong rungs misread one operand and reason correctly from it (``tasks/quality.py``);
nothing the model learns from them looks worse than what right data teaches (docs/SCORING.md,
"What the model cannot yet see"). The base as a *solver* cannot judge a teacher's sample
either: it cannot read an outsider's phrasing. This measures the base as a *verifier*: the
shipped base is trained further on batches of its own pretraining rows alternating with
batches of rows that show a task, a worked solution and a verdict::

    <prompt>\\n<reasoning>\\nAnswer: <answer>\\nRight?\\n  ->  " yes" | " no"

built from EASY items in the registry's PUBLIC phrasings, half right, half wrong. ``--kinds``
says which wrong solutions it sees: ``near_miss`` (the eval items' own near misses: a swapped
pair, a wrong comparison, a column slip; never the ladder's error) and ``misread`` (one operand
misread then reasoned from, the ladder's error, drawn from other items than the ladder's).
The verifier then judges each ladder rung's 64 samples (FULL sizes; registry phrasings, PUBLIC
and PRIVATE, or an outsider's: what it never read): a sample is judged wrong when the verdict's
log-odds ``log p(yes) - log p(no)`` is below 0.

Printed per seed: each rung's judged-wrong share and mean log-odds; then the share of
wrong answers a model-only factor ``(1 - judged wrong)^3`` (in place of the answer check's)
would leave, priced on the improvements of the committed ladder outputs
(``docs/figures/ladder-eval5-seeds-*.json``, measured on the shipped base: an estimate, since
a verifier-trained base would train its adapters from other weights).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import torch

if __package__ in (None, ""):  # run as a script: the repo root holds the bench package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ladder import RUNGS, seed_samples
from tasks.families import generate_many
from tasks.quality import Quality, degrade, operands_of
from tasks.registry import Difficulty, Share
from validator.model.base import load_base
from validator.model.pretrain import (
    DEFAULT_PRETRAIN,
    Row,
    batches,
    competence,
    encode_rows,
    pretrain_texts,
    save_base,
    train_steps,
)
from validator.model.recipe import format_completion, format_prompt


class WrongKind(StrEnum):
    """Which wrong solutions the verifier is shown."""

    NEAR_MISS = "near_miss"  # the eval items' own: a swapped pair, a wrong comparison, a slip
    MISREAD = "misread"  # the ladder's: one operand misread, then reasoned from correctly


VERDICT = "\nRight?\n"
YES, NO = " yes", " no"
VERIFY_SEED = 0x7E21_F1E5  # far from the ladder's data seeds (small ints hashed with a prefix)
FIGURES = Path(__file__).resolve().parents[1] / "docs" / "figures"


def verify_rows(count: int, kinds: tuple[WrongKind, ...], seed: int) -> list[tuple[str, str, int]]:
    """``count`` verdict rows from EASY items in PUBLIC phrasings, half right, half wrong."""
    rng = random.Random(seed)
    rows: list[tuple[str, str, int]] = []
    for item in generate_many(seed, count, difficulty=Difficulty.EASY, shares=(Share.PUBLIC,)):
        verdict, reasoning, answer = YES, item.chain_of_thought, item.final_answer
        if rng.random() < 0.5:
            kind = rng.choice(kinds)
            if kind is WrongKind.NEAR_MISS:
                family, ops = operands_of(item)
                miss = family.near_miss(ops, rng)
                if miss is not None and miss[1] != item.final_answer:
                    verdict, (reasoning, answer) = NO, miss
            else:
                _, reasoning, answer = degrade(item, Quality.WRONG, rng)
                verdict = NO
        shown = format_prompt(item.prompt) + format_completion(reasoning, answer) + VERDICT
        rows.append((shown, verdict, 4))
    return rows


def continue_pretraining(model: Any, planned: Sequence[list[Row]], steps: int, lr: float) -> Any:
    """``model`` trained ``steps`` more steps over ``planned`` batches, in eval mode.

    Pretraining's own loop and schedule (``train_steps``: every weight, warmup over the first
    2%, a linear decay over the last 20%, gradients clipped at 1, one torch thread) at peak
    rate ``lr``.
    """
    for p in model.parameters():
        p.requires_grad_(True)
    recipe = replace(DEFAULT_PRETRAIN, steps=steps, lr=lr)
    t0 = time.perf_counter()

    def report(step: int, _model: Any, _tok: Any, loss: float) -> None:
        if step % 250 == 0:
            print(f"step {step} loss {loss:.4f} {time.perf_counter() - t0:.0f}s", flush=True)

    train_steps(model, planned, recipe, report)
    return model


def train_verifier(steps: int, kinds: tuple[WrongKind, ...], lr: float) -> tuple[Any, Any]:
    """The shipped base, trained further on batches of its own rows and of verdict rows."""
    model, tok = load_base()
    recipe = replace(DEFAULT_PRETRAIN, steps=steps, seed=1)
    # Alternate batches: the base's own rows, then verdict rows. A batch's loss is the mean
    # over its labelled tokens, so a verdict batch teaches the verdict at full strength (mixed
    # into one batch, its two tokens in a row of thirty got a few percent of the gradient and
    # the verdict stayed at chance: 0.54 on held-in rows after 3,000 steps).
    half = max(steps, 2 * recipe.bucket_batches) * recipe.batch_size // 2  # a chunk at least
    own = batches(recipe, encode_rows(tok, pretrain_texts(recipe)[:half]))
    judged = batches(recipe, encode_rows(tok, verify_rows(half, kinds, VERIFY_SEED)))
    planned = [b for pair in zip(own, judged, strict=False) for b in pair]
    return continue_pretraining(model, planned, steps, lr), tok


@torch.no_grad()
def log_odds(model: Any, tok: Any, prompt: str, reasoning: str, answer: str) -> float:
    """``log p(yes) - log p(no)`` of the verdict's first token after the shown solution."""
    text = format_prompt(prompt) + format_completion(reasoning, answer) + VERDICT
    ids = [tok.bos_token_id, *tok(text, add_special_tokens=False)["input_ids"]]
    logits = model(input_ids=torch.tensor([ids])).logits[0, -1].log_softmax(-1)
    yes = tok(YES, add_special_tokens=False)["input_ids"][0]
    no = tok(NO, add_special_tokens=False)["input_ids"][0]
    return float(logits[yes] - logits[no])


def improvements(seed: int) -> dict[str, float] | None:
    """Validator A's rung improvements in ``seed`` from the committed ladder outputs."""
    for name in ("ladder-eval5-seeds-0-4.json", "ladder-eval5-seeds-10-14.json"):
        for row in json.loads((FIGURES / name).read_text())["seeds"]:
            if row["seed"] == seed:
                return {r[0]: r[1] for r in row["a"]}
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--kinds", default="near_miss")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--save", type=Path)
    args = ap.parse_args()
    kinds = tuple(WrongKind(k) for k in args.kinds.split(","))
    print(
        f"verifier: {args.steps} steps, lr {args.lr}, wrong kinds {tuple(k.value for k in kinds)}"
    )
    model, tok = train_verifier(args.steps, kinds, args.lr)
    if args.save:
        save_base(args.save, model, tok, {"steps": args.steps, "kinds": list(kinds)})
    print(f"competence after {competence(model, tok)}")
    probes = ((Difficulty.EASY, Share.PUBLIC), (Difficulty.FULL, Share.PUBLIC))
    for difficulty, share in (*probes, (Difficulty.FULL, Share.PRIVATE)):
        # The first row is what it was trained on (other items); the others are held out.
        items = generate_many(99, 96, difficulty=difficulty, shares=(share,))
        rng = random.Random(99)
        right = [log_odds(model, tok, i.prompt, i.chain_of_thought, i.final_answer) for i in items]
        misread = [log_odds(model, tok, *degrade(i, Quality.WRONG, rng)) for i in items]
        missed = []
        for i in items:
            family, ops = operands_of(i)
            miss = family.near_miss(ops, rng)
            if miss is not None and miss[1] != i.final_answer:
                missed.append(log_odds(model, tok, i.prompt, *miss))
        print(
            f"{difficulty.value} {share.value}: judged wrong: right "
            f"{sum(x < 0 for x in right) / len(right):.2f}, near miss "
            f"{sum(x < 0 for x in missed) / len(missed):.2f}, misread "
            f"{sum(x < 0 for x in misread) / len(misread):.2f}",
            flush=True,
        )
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    print("seed " + " ".join(f"{q.value:>20}" for q in RUNGS) + "   wrong/correct (est.)")
    for seed in seeds:
        shares: dict[Quality, float] = {}
        cells = []
        for quality in RUNGS:
            samples = seed_samples(seed, quality)
            odds = [
                log_odds(model, tok, s.prompt, s.chain_of_thought, s.final_answer) for s in samples
            ]
            shares[quality] = sum(x < 0 for x in odds) / len(odds)
            cells.append(f"{shares[quality]:.2f} ({sum(odds) / len(odds):+6.2f})")
        line = f"{seed:>4} " + " ".join(f"{c:>20}" for c in cells)
        base = improvements(seed)
        if base is not None:
            priced = {q: max(0.0, base[q.value]) * (1 - shares[q]) ** 3 for q in RUNGS}
            correct = priced[Quality.CORRECT]
            wrong = max(priced[Quality.WRONG], priced[Quality.WRONG_OTHER_WORDS])
            other = priced[Quality.CORRECT_OTHER_WORDS]
            line += f"   {wrong / correct:.2f} (other words {other / correct:.2f})"
        print(line, flush=True)


if __name__ == "__main__":
    main()
