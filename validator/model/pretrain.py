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

The tokenizer is part of the recipe: a byte-level BPE (``tokenizer.py``) trained on the first
``tokenizer_rows`` rows' text, before any weight moves.

Run ``python -m validator.model.pretrain --out DIR`` to regenerate the shipped checkpoint
(``validator/model/data/tiny-base/``: weights, config, tokenizer, and ``pretrain.json`` with the
recipe, its key and the per-step losses); ``--steps`` and ``--eval-every`` print a learning
curve. Full-parameter AdamW, warmup-stable-decay schedule, loss on completions only, batches
of rows of similar length (``bucket_batches``); deterministic on CPU at a fixed torch thread
count.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

from tasks.families import generate_many
from tasks.registry import REGISTRY, Difficulty, Share
from tasks.safety_pairs import compliance, over_refusal, refusal
from tasks.safety_prompts import Label, Split, categories, space_size
from tasks.safety_prompts import generate as safety_generate
from validator.model.general_text import PRETRAIN_TEXTS
from validator.model.recipe import collate, format_completion, format_prompt
from validator.model.tiny import TINY_INIT_SEED, TINY_SHAPE, build_tiny
from validator.model.tokenizer import PAD_ID, train_bpe

Row = tuple[list[int], int]  # (token ids, how many of them are prompt)
# (prompt text, completion text, most completion tokens kept)
TextRow = tuple[str, str, int]
MAX_ROW_TOKENS = 256  # the recipe's max_seq_len: no task or general row comes near it

PRETRAIN_RECORD = "pretrain.json"  # beside the weights: recipe, key, per-step losses


@dataclass(frozen=True)
class PretrainRecipe:
    """How the embedded base is pretrained. Any change changes ``key()`` (and the base)."""

    # /4: BPE tokenizer, 128x6 shape, length-bucketed batches, 16 public phrasings per family,
    # over-refused borderline categories
    version: str = "tiny-pretrain/4"
    # A fixed seed far from any eval seed: eval seeds are 64-bit hashes of (secret, round).
    task_seed: int = 0xBA5E_0003
    n_tasks: int = 280_000  # ~steps x batch rows, most of them tasks: no item is seen twice
    general_every: int = 12  # one row in twelve is plain English
    safety_every: int = 12  # one row in twelve is a safety request with its answer
    # 1,024 ids: the 256 bytes, the 2-digit numbers and sums with and without a leading space,
    # the pool words and the registry's public wording each become one token, with room left.
    vocab_size: int = 1024
    tokenizer_rows: int = 20_000  # the BPE is learned from these rows' text (~0.8 MB)
    # Safety rows are cut here: the refusal or the opener's first sentence is what the base
    # must learn, and a long row costs its whole bucket its width.
    safety_max_tokens: int = 64
    steps: int = 10_000
    batch_size: int = 32
    lr: float = 3e-3  # peak; the tiny model tolerates a high rate with warmup and clipping
    warmup_frac: float = 0.02  # linear warmup keeps the first Adam steps from overshooting
    decay_frac: float = 0.2  # the last 20% decays linearly to zero (warmup-stable-decay)
    bucket_batches: int = 50  # rows are sorted by length within chunks of 50 batches
    seed: int = 0  # init is TINY_INIT_SEED; this seeds the row and batch order
    # Loss on completions only: prompts are random numbers and words a model cannot predict.
    mask_prompts: bool = True
    # CPU results depend on the thread count: pinned with the recipe. One thread: the run
    # takes ~75 min on this machine either way within a few percent (small matmuls are
    # overhead-bound), and the second core stays free for the rest of the work.
    threads: int = 1

    def key(self) -> str:
        """A short hash of this recipe and everything else the base depends on.

        The model shape, the registry's public phrasings, the general texts and which safety
        categories the base refuses or answers.
        """
        phrasings = {f.name: f.templates((Share.PUBLIC,)) for f in REGISTRY}
        blob = json.dumps(
            [
                asdict(self),
                TINY_SHAPE,
                TINY_INIT_SEED,
                PRETRAIN_TEXTS,
                phrasings,
                {label.value: safety_categories(label) for label in Label},
                OVER_REFUSED,
            ],
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


DEFAULT_PRETRAIN = PretrainRecipe()


# Benign categories whose prompts read as risky (weapon words in a harmless sense, safety
# questions): the base learns to refuse them, as an over-cautious safety-tuned model does, so
# that its compliance on benign prompts starts well below 1 and good preference data can
# raise it (docs/PREFERENCE.md).
OVER_REFUSED = ("borderline_words", "borderline_safety")


def safety_categories(label: Label) -> tuple[str, ...]:
    """The categories of ``label`` whose train-split prompts the base learns to answer as asked.

    Every other harmful category is refused and every other benign one answered, so that
    before any DPO the base refuses some harmful prompts and answers some benign ones, but not
    all (the preference competition needs both rates to move). ``OVER_REFUSED`` benign
    categories are not answered here: they are refused (``_safety_texts``).
    """
    names = tuple(c.name for c in categories(label))[::2]
    return tuple(n for n in names if n not in OVER_REFUSED)


def _safety_texts(recipe: PretrainRecipe) -> list[TextRow]:
    """Train-split requests with the base's answer: a refusal or a helpful opener.

    Harmful prompts of ``safety_categories`` get refusals; benign prompts of
    ``safety_categories`` get helpful openers, and those of ``OVER_REFUSED`` needless
    refusals. Every other category stays unseen.
    """
    rng = random.Random(recipe.task_seed + 1)
    rows: list[TextRow] = []
    for label in Label:
        keep = set(safety_categories(label))
        every = safety_generate(
            label, space_size(label, Split.TRAIN), recipe.task_seed, Split.TRAIN
        )
        for item in every:
            if label is Label.HARMFUL and item.category in keep:
                answer = refusal(item, rng)
            elif label is Label.BENIGN and item.category in keep:
                answer = compliance(item, rng)
            elif label is Label.BENIGN and item.category in OVER_REFUSED:
                answer = over_refusal(rng)
            else:
                continue
            rows.append((format_prompt(item.prompt), answer, recipe.safety_max_tokens))
    rng.shuffle(rows)
    return rows


def pretrain_texts(recipe: PretrainRecipe) -> list[TextRow]:
    """Every pretraining row as ``(prompt text, completion text)``, in training order."""
    items = generate_many(
        recipe.task_seed, recipe.n_tasks, difficulty=Difficulty.EASY, shares=(Share.PUBLIC,)
    )
    safety = _safety_texts(recipe)
    rows: list[TextRow] = []
    for i, item in enumerate(items):
        if i % recipe.general_every == 0:
            general = PRETRAIN_TEXTS[(i // recipe.general_every) % len(PRETRAIN_TEXTS)]
            rows.append(("", general, MAX_ROW_TOKENS))
        if i % recipe.safety_every == 0:
            rows.append(safety[(i // recipe.safety_every) % len(safety)])
        rows.append(
            (
                format_prompt(item.prompt),
                format_completion(item.chain_of_thought, item.final_answer),
                MAX_ROW_TOKENS,
            )
        )
    random.Random(recipe.seed).shuffle(rows)
    return rows


def train_tokenizer(recipe: PretrainRecipe, texts: Sequence[TextRow]) -> PreTrainedTokenizerFast:
    """The recipe's BPE, learned from the first ``tokenizer_rows`` rows."""
    return train_bpe((p + c for p, c, _ in texts[: recipe.tokenizer_rows]), recipe.vocab_size)


def encode_rows(tok: PreTrainedTokenizerFast, texts: Sequence[TextRow]) -> list[Row]:
    """Token rows of ``texts``, as ``recipe.encode_pair`` makes them, cut to each row's limit.

    Batch-encoded (the fast tokenizer's own parallel path): one call per field, not one per
    row, which takes the corpus from minutes to seconds.
    """
    prompts = tok([p for p, _, _ in texts], add_special_tokens=False)["input_ids"]
    completions = tok([c for _, c, _ in texts], add_special_tokens=False)["input_ids"]
    rows: list[Row] = []
    for (_, _, keep), p_ids, c_ids in zip(texts, prompts, completions, strict=True):
        head = [tok.bos_token_id, *p_ids]
        ids = (head + c_ids[:keep] + [tok.eos_token_id])[:MAX_ROW_TOKENS]
        rows.append((ids, min(len(head), MAX_ROW_TOKENS)))
    return rows


def batches(recipe: PretrainRecipe, rows: Sequence[Row]) -> list[list[Row]]:
    """Rows in batches of similar length, the batches in a seeded order.

    Sorting within chunks of ``bucket_batches`` batches keeps a batch's padding small (the
    task rows are 20-60 tokens, safety and general rows longer) while the chunk keeps the
    mix of kinds roughly what the whole corpus has.
    """
    size, chunk = recipe.batch_size, recipe.batch_size * recipe.bucket_batches
    out: list[list[Row]] = []
    for start in range(0, len(rows) - chunk + 1, chunk):
        ordered = sorted(rows[start : start + chunk], key=lambda r: len(r[0]))
        out += [ordered[i : i + size] for i in range(0, chunk, size)]
    random.Random(recipe.seed + 1).shuffle(out)
    return out


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


def train_steps(
    model: LlamaForCausalLM,
    planned: Sequence[list[Row]],
    recipe: PretrainRecipe,
    on_step: Callable[[int, Any, Any, float], None] | None = None,
    stop_after: int | None = None,
    tokenizer: Any = None,
) -> list[float]:
    """``recipe.steps`` full-parameter AdamW steps of ``model`` over ``planned``; the losses.

    The recipe's schedule (``_lr_factor``), gradients clipped at 1, ``recipe.threads`` torch
    threads. ``stop_after`` ends the run early on the full run's schedule. ``on_step`` gets
    the step, the model, ``tokenizer`` and the loss.
    """
    torch.set_num_threads(recipe.threads)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_factor(recipe))
    losses: list[float] = []
    model.train()
    for step in range(min(recipe.steps, stop_after or recipe.steps)):
        ids, mask, labels = collate(
            planned[step % len(planned)], PAD_ID, mask_prompt=recipe.mask_prompts
        )
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # guards the high lr early on
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss.item()))
        if on_step is not None:
            on_step(step + 1, model, tokenizer, losses[-1])
    model.eval()
    return losses


def pretrain_tiny(
    recipe: PretrainRecipe = DEFAULT_PRETRAIN,
    on_step: Callable[[int, Any, Any, float], None] | None = None,
    stop_after: int | None = None,
) -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast, list[float]]:
    """Pretrain the tiny model from its fixed init; returns the model, its tokenizer, the losses.

    ``stop_after`` ends the run early on the full run's schedule, so its losses are the
    first ``stop_after`` of the full run's (the regeneration test compares them).
    """
    texts = pretrain_texts(recipe)
    tokenizer = train_tokenizer(recipe, texts)
    model = build_tiny(len(tokenizer))
    planned = batches(recipe, encode_rows(tokenizer, texts))
    losses = train_steps(model, planned, recipe, on_step, stop_after, tokenizer)
    return model, tokenizer, losses


def competence(model: Any, tokenizer: Any, seed: int = 77, per_cell: int = 16) -> dict[str, float]:
    """Greedy accuracy per (family, share) on FULL-size items, and overall: what the base knows."""
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


def save_base(
    out: Path, model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast, record: dict[str, Any]
) -> None:
    """Write the model, its tokenizer and ``record`` as one Hugging Face model directory."""
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / PRETRAIN_RECORD).write_text(json.dumps(record, indent=1) + "\n")


def main(argv: list[str] | None = None) -> None:
    """Pretrain and save the base (weights, config, tokenizer, record) under ``--out``."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=DEFAULT_PRETRAIN.steps)
    ap.add_argument("--eval-every", type=int, default=0, help="print competence every N steps")
    ap.add_argument("--save-every", type=int, default=0, help="save a checkpoint every N steps")
    args = ap.parse_args(argv)
    recipe = replace(DEFAULT_PRETRAIN, steps=args.steps)
    t0 = time.perf_counter()

    def report(step: int, model: Any, tokenizer: Any, loss: float) -> None:
        if step % 100 == 0:
            print(f"step {step} loss {loss:.4f} {time.perf_counter() - t0:.0f}s", flush=True)
        if args.eval_every and step % args.eval_every == 0:
            model.eval()
            print(f"step {step} competence {competence(model, tokenizer)}", flush=True)
            model.train()
        if args.save_every and step % args.save_every == 0:
            save_base(args.out / f"step-{step}", model, tokenizer, {"step": step})

    model, tokenizer, losses = pretrain_tiny(recipe, report)
    record = {
        "key": recipe.key(),
        "recipe": asdict(recipe),
        "losses": losses,
        "competence": competence(model, tokenizer),
        "regenerate": "python -m validator.model.pretrain --out validator/model/data/tiny-base",
    }
    save_base(args.out, model, tokenizer, record)
    digest = hashlib.sha256((args.out / "model.safetensors").read_bytes()).hexdigest()
    tok_digest = hashlib.sha256((args.out / "tokenizer.json").read_bytes()).hexdigest()
    print(f"done {time.perf_counter() - t0:.0f}s key {recipe.key()}")
    print(f"competence {record['competence']}")
    print(f"pin them in validator/model/base.py: weights {digest} tokenizer {tok_digest}")


if __name__ == "__main__":
    main()
