"""Pretraining of the embedded base: partly competent, with headroom both ways.

The base must see quality (docs/SCORING.md, "The base"): good enough at the tasks that wrong
data visibly hurts it, weak enough that 64 correct samples visibly help it. So it learns every
family's skill on EASY instances in the PUBLIC phrasings only (``tasks/registry.py``); eval
sets draw FULL-size instances in every phrasing, PRIVATE ones included. What a miner's data
can add is the skill at longer inputs and in phrasings the base never read.

The mix per row: task items (public phrasings, easy sizes), plain English every
``general_every``-th row (keeps general text in the model; the guard measures other
sentences), and safety rows: refusals of harmful requests and helpful openers for benign ones
from the train split of half the categories (``safety_categories``), so the base refuses some
harmful prompts and answers some benign ones before any DPO (docs/PREFERENCE.md).

Run ``python -m validator.model.pretrain --out DIR`` to regenerate the shipped checkpoint
(``validator/model/data/``); ``--steps`` and ``--eval-every`` print a learning curve.
Full-parameter AdamW, OneCycle-shaped schedule (linear warmup, cosine to zero), loss on
completions only; deterministic on CPU at a fixed torch thread count.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from transformers import LlamaForCausalLM

from tasks.families import generate_many
from tasks.registry import Difficulty, Share
from tasks.safety_pairs import compliance, refusal
from tasks.safety_prompts import Label, Split, categories, space_size
from tasks.safety_prompts import generate as safety_generate
from validator.general_text import PRETRAIN_TEXTS
from validator.model.recipe import collate, encode_pair, format_completion, format_prompt
from validator.model.tiny import TINY_CONFIG, TINY_INIT_SEED, build_tiny
from validator.model.tokenizer import PAD_ID, ByteTokenizer

Row = tuple[list[int], int]

# Safety rows are cut here: the refusal or the opener's first sentence is what the base must
# learn, and a 250-byte row costs a whole padded batch its width.
SAFETY_MAX_TOKENS = 160


@dataclass(frozen=True)
class PretrainRecipe:
    """How the embedded base is pretrained. Any change changes ``key()`` (and the base)."""

    version: str = "tiny-pretrain/3"  # /3: registry public phrasings, easy sizes, safety rows
    # A fixed seed far from any eval seed: eval seeds are 64-bit hashes of (secret, round).
    task_seed: int = 0xBA5E_0003
    n_tasks: int = 40_000  # more than steps x batch take: no task item is seen twice
    general_every: int = 12  # one row in twelve is plain English
    safety_every: int = 12  # one row in twelve is a safety request with its answer
    # 80 steps: the format of every family learned, no skill yet (greedy accuracy ~0). Runs of
    # 1,600-2,400 steps on the registry's phrasings learned no family either (copying from
    # the prompt never emerged; docs/SCORING.md, "The base"), while saturating the format
    # so that correct data no longer improved the model; 80 keeps headroom for good data.
    steps: int = 80
    batch_size: int = 16
    lr: float = 3e-3  # peak; the tiny model tolerates a high rate with warmup and clipping
    warmup_frac: float = 0.05  # 5% linear warmup keeps the first Adam steps from overshooting
    decay_frac: float = 0.2  # the last 20% decays linearly to zero (warmup-stable-decay)
    seed: int = 0  # init is TINY_INIT_SEED; this seeds the row order
    # Loss on completions only: prompts are random numbers and words a model cannot predict.
    mask_prompts: bool = True
    threads: int = 2  # CPU results depend on the thread count: pinned with the recipe

    def key(self) -> str:
        """A short hash of this recipe, the model shape and the general texts."""
        blob = json.dumps(
            [asdict(self), TINY_CONFIG, TINY_INIT_SEED, PRETRAIN_TEXTS], sort_keys=True
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


DEFAULT_PRETRAIN = PretrainRecipe()


def safety_categories(label: Label) -> tuple[str, ...]:
    """The categories of ``label`` whose train-split prompts are in the base's pretraining.

    Every other one: so that before any DPO the base refuses some harmful prompts and answers
    some benign ones, but not all (the preference competition needs both rates to move).
    """
    return tuple(c.name for c in categories(label))[::2]


def _safety_rows(recipe: PretrainRecipe, tok: ByteTokenizer) -> list[Row]:
    """Train-split requests of the chosen categories with a refusal or a helpful opener."""
    rng = random.Random(recipe.task_seed + 1)
    rows: list[Row] = []
    for label in Label:
        keep = set(safety_categories(label))
        every = safety_generate(
            label, space_size(label, Split.TRAIN), recipe.task_seed, Split.TRAIN
        )
        for item in every:
            if item.category not in keep:
                continue
            answer = refusal(item, rng) if label is Label.HARMFUL else compliance(item, rng)
            rows.append(encode_pair(tok, format_prompt(item.prompt), answer, SAFETY_MAX_TOKENS)[:2])
    rng.shuffle(rows)
    return rows


def pretrain_rows(recipe: PretrainRecipe, tokenizer: ByteTokenizer) -> list[Row]:
    """Task items interleaved with plain English and safety rows, as ``(ids, n_prompt)``."""
    items = generate_many(
        recipe.task_seed, recipe.n_tasks, difficulty=Difficulty.EASY, shares=(Share.PUBLIC,)
    )
    safety = _safety_rows(recipe, tokenizer)
    rows: list[Row] = []
    for i, item in enumerate(items):
        if i % recipe.general_every == 0:
            text = PRETRAIN_TEXTS[(i // recipe.general_every) % len(PRETRAIN_TEXTS)]
            rows.append(encode_pair(tokenizer, "", text, 256)[:2])
        if i % recipe.safety_every == 0:
            rows.append(safety[(i // recipe.safety_every) % len(safety)])
        p, c = (
            format_prompt(item.prompt),
            format_completion(item.chain_of_thought, item.final_answer),
        )
        rows.append(encode_pair(tokenizer, p, c, 256)[:2])
    random.Random(recipe.seed).shuffle(rows)
    return rows


def _lr_factor(recipe: PretrainRecipe) -> Callable[[int], float]:
    """Warmup, then constant, then a linear decay to zero over the last ``decay_frac``.

    Constant in the middle (not cosine) so that a checkpoint's competence at step k does not
    depend on the total planned: the curve ``--eval-every`` prints is the run's own.
    """
    warmup = max(1, int(recipe.steps * recipe.warmup_frac))
    decay = max(1, int(recipe.steps * recipe.decay_frac))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return min(1.0, (recipe.steps - step) / decay)

    return factor


def pretrain_tiny(
    recipe: PretrainRecipe = DEFAULT_PRETRAIN,
    on_step: Callable[[int, Any, float], None] | None = None,
    stop_after: int | None = None,
) -> tuple[LlamaForCausalLM, list[float]]:
    """Pretrain the tiny model from its fixed init; returns the model and per-step losses.

    ``stop_after`` ends the run early on the full run's schedule, so its losses are the
    first ``stop_after`` of the full run's (the regeneration test compares them).
    """
    torch.set_num_threads(recipe.threads)
    tokenizer = ByteTokenizer()
    model = build_tiny()
    rows = pretrain_rows(recipe, tokenizer)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_factor(recipe))
    losses: list[float] = []
    model.train()
    size = recipe.batch_size
    for step in range(min(recipe.steps, stop_after or recipe.steps)):
        start = (step * size) % (len(rows) - size + 1)
        batch = rows[start : start + size]
        ids, mask, labels = collate(batch, PAD_ID, mask_prompt=recipe.mask_prompts)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # guards the high lr early on
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss.item()))
        if on_step is not None:
            on_step(step + 1, model, losses[-1])
    return model.eval(), losses


def competence(model: Any, tokenizer: Any, seed: int = 77, per_cell: int = 16) -> dict[str, float]:
    """Greedy accuracy per (family, share) on FULL-size items, and overall: what the base knows."""
    from tasks.registry import REGISTRY
    from validator.model.evaluate import evaluate

    out: dict[str, float] = {}
    total: list[int] = []
    for family in REGISTRY:
        for share in Share:
            items = generate_many(seed, per_cell, (family.name,), Difficulty.FULL, (share,))
            correct = evaluate(model, tokenizer, items).correct
            out[f"{family.name}/{share.value}"] = sum(correct) / len(correct)
            total += correct
    out["overall"] = sum(total) / len(total)
    return out


def main(argv: list[str] | None = None) -> None:
    """Pretrain and save ``tiny-base.safetensors`` and its record under ``--out``."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=DEFAULT_PRETRAIN.steps)
    ap.add_argument("--eval-every", type=int, default=0, help="print competence every N steps")
    args = ap.parse_args(argv)
    recipe = replace(DEFAULT_PRETRAIN, steps=args.steps)
    tok = ByteTokenizer()
    t0 = time.perf_counter()

    def report(step: int, model: Any, loss: float) -> None:
        if step % 100 == 0:
            print(f"step {step} loss {loss:.4f} {time.perf_counter() - t0:.0f}s", flush=True)
        if args.eval_every and step % args.eval_every == 0:
            model.eval()
            print(f"step {step} competence {competence(model, tok, per_cell=8)}", flush=True)
            model.train()

    model, losses = pretrain_tiny(recipe, report)
    args.out.mkdir(parents=True, exist_ok=True)
    weights = args.out / "tiny-base.safetensors"
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(weights))
    meta = {
        "key": recipe.key(),
        "recipe": asdict(recipe),
        "losses": losses,
        "regenerate": "python -m validator.model.pretrain --out validator/model/data",
    }
    (args.out / "tiny-base.json").write_text(json.dumps(meta, indent=1) + "\n")
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    print(f"done {time.perf_counter() - t0:.0f}s key {recipe.key()} sha256 {digest}")
    print("pin it: validator/model/base.py SHIPPED_SHA256")


if __name__ == "__main__":
    main()
