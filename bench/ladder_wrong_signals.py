"""More model-only signals for wrong answers, measured on the ladder (issue 10).

Run: ``.venv/bin/python bench/ladder_wrong_signals.py --seeds 5 [--first-seed 0]``
(about 4 min a seed on one thread at `eval/5`'s 256 eval items).

The ladder's wrong rungs misread one operand and reason correctly from it
(``tasks/quality.py``). Two ways the model alone might see that, neither in the rule:

1. **Misread near misses.** The eval items' own near misses are a swap, a wrong comparison, a
   column slip (``tasks/families.py``). Here each eval item also gets three solutions with one
   operand misread (a digit slip of +-1 or +-10, or another pool word) and the contrast
   margin ``log p(reference) - log sum p(misread)`` is measured under the base and under each
   rung's adapter (the answer check off, every sample trained, validator A). Printed: the
   per-item margin delta's mean and median per rung, then, as ``bench/ladder_margin_variants.py``
   does, in how many seeds issue 10's model-only targets (other words >= 50% of correct,
   wrong <= 5% of correct, both correct rungs above every flawed rung) hold when this margin
   replaces the rule's margin term at several weights.
2. **The base as a judge of samples.** Before any training, the base greedily answers each
   served prompt; a sample is *disputed* when the base's answer is not the miner's and the
   base finds its own completion more likely than the miner's by more than 5 nats. Printed:
   the share of each rung's samples the base agrees with and the share it disputes.
3. **The trained adapter as a judge.** The same judgement by the model after training on the
   rung's own samples: it has read the miner's phrasings, so it might read a teacher's
   prompts that the base cannot. Printed: the share it disputes.
4. **Confident token disagreements.** Teacher-forced on the miner's own completion, a token
   is a confident disagreement when the base puts more than 0.9 on another token and less
   than 0.01 on the miner's (``CONFIDENT``, ``UNLIKELY``); with the miner's own prefix
   given, a misread operand is one such token, and a right solution should have none.
   Printed: the share of samples holding at least one.
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import logsumexp

if __package__ in (None, ""):  # run as a script: the repo root holds the bench package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ladder import RUNGS, model_only_targets, parse_seed_range, seed_eval_items, seed_samples
from tasks.families import WORDS
from tasks.quality import Quality, operands_of
from tasks.registry import Operands, Solution, TaskItem, verify
from validator.model.base import load_base
from validator.model.evaluate import (
    BATCH_SIZE,
    _completion_token_losses,
    evaluate,
    extract_answer,
    forward_pass,
)
from validator.model.general_text import GUARD_TEXTS
from validator.model.recipe import (
    DEFAULT_RECIPE,
    IGNORE_INDEX,
    collate,
    encode_pair,
    format_completion,
    format_pair,
    format_prompt,
)
from validator.model.train import lora_adapter
from validator.stages.cot_validate import evaluate_base, prepare_samples, score_cot

MISREADS_PER_ITEM = 3  # as many as the items' own near misses
DISPUTE_NATS = 5.0  # the base must prefer its own completion by e^5 (~150x) to dispute one
CONFIDENT = math.log(0.9)  # the model's own choice of the next token, as a log-probability
UNLIKELY = math.log(0.01)  # the miner's token, as a log-probability, under that choice
WEIGHTS = (0.1, 0.25, 0.5, 1.0)


def misread_solutions(item: TaskItem, rng: random.Random) -> list[Solution]:
    """Solutions of ``item`` with one operand misread, each with a different answer."""
    family, ops = operands_of(item)
    out: list[Solution] = []
    seen = {item.final_answer}
    for _ in range(200):
        i = rng.randrange(len(ops))
        values: list[int | str] = list(ops)
        value = values[i]
        if isinstance(value, int):
            values[i] = value + rng.choice((-10, -1, 1, 10))
            if not 10 <= int(values[i]) <= 99:  # the families draw two-digit numbers
                continue
        else:
            values[i] = rng.choice([w for w in WORDS if w not in ops])
        slipped: Operands = tuple(values)  # type: ignore[assignment]
        answer = family.solve(slipped)
        if answer not in seen:
            seen.add(answer)
            out.append((family.reason(slipped), answer))
        if len(out) == MISREADS_PER_ITEM:
            break
    return out


def _nll_sums(model: Any, tok: Any, prompt: str, solutions: Sequence[Solution]) -> list[float]:
    pairs = [(format_prompt(prompt), format_completion(c, a)) for c, a in solutions]
    losses = _completion_token_losses(model, tok, pairs, DEFAULT_RECIPE.max_seq_len, BATCH_SIZE)
    return [float(t.sum()) for t in losses]


def misread_margins(
    model: Any, tok: Any, items: Sequence[TaskItem], misreads: Sequence[Sequence[Solution]]
) -> np.ndarray:
    """Per item, ``log p(reference) - logsumexp log p(misread solutions)``."""
    out = []
    for it, wrong in zip(items, misreads, strict=True):
        ref, *others = _nll_sums(
            model, tok, it.prompt, [(it.chain_of_thought, it.final_answer), *wrong]
        )
        out.append(-ref - float(logsumexp([-v for v in others])))
    return np.asarray(out)


def judge(model: Any, tok: Any, samples: Sequence[Any]) -> tuple[float, float]:
    """(share of samples whose answer the base gives too, share the base disputes)."""
    prompts = [format_prompt(s.prompt) for s in samples]
    generated = forward_pass(model, tok, prompts)
    mine = [
        (p, format_completion(s.chain_of_thought, s.final_answer))
        for p, s in zip(prompts, samples, strict=True)
    ]
    own = list(zip(prompts, generated, strict=True))
    max_len = DEFAULT_RECIPE.max_seq_len
    nll_mine = [
        float(t.sum()) for t in _completion_token_losses(model, tok, mine, max_len, BATCH_SIZE)
    ]
    nll_own = [
        float(t.sum()) for t in _completion_token_losses(model, tok, own, max_len, BATCH_SIZE)
    ]
    agree = [
        verify(extract_answer(g), s.final_answer) for g, s in zip(generated, samples, strict=True)
    ]
    disputed = [
        not a and m - o > DISPUTE_NATS for a, m, o in zip(agree, nll_mine, nll_own, strict=True)
    ]
    return sum(agree) / len(agree), sum(disputed) / len(disputed)


@torch.no_grad()
def confident_disagreements(model: Any, tok: Any, samples: Sequence[Any]) -> float:
    """The share of samples holding a token the model confidently disagrees with (item 4)."""
    model.eval()
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    flagged = 0
    for s in samples:
        completion = format_completion(s.chain_of_thought, s.final_answer)
        row = encode_pair(tok, format_prompt(s.prompt), completion, DEFAULT_RECIPE.max_seq_len)
        ids, mask, labels = collate([row[:2]], pad, mask_prompt=True)
        logp = F.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float()[0, :-1], -1)
        targets = labels[0, 1:]
        keep = targets != IGNORE_INDEX
        mine = logp[keep].gather(1, targets[keep][:, None])[:, 0]
        top = logp[keep].max(dim=1).values
        flagged += bool(((top > CONFIDENT) & (mine < UNLIKELY)).any())
    return flagged / len(samples)


def main() -> None:
    seeds_run = parse_seed_range(__doc__)
    model, tok = load_base("tiny", "cpu")
    # per seed and rung: (the rule's improvement without its margin term, misread margin delta)
    seeds: list[dict[Quality, tuple[float, np.ndarray]]] = []
    for seed in seeds_run:
        items = seed_eval_items(seed)
        rng = random.Random(f"misread-{seed}")
        misreads = [misread_solutions(it, rng) for it in items]
        base = evaluate_base(model, tok, items)
        base_margin = misread_margins(model, tok, items, misreads)
        rungs: dict[Quality, tuple[float, np.ndarray]] = {}
        print(f"seed {seed}: base misread margin median {median(base_margin):.2f} nats")
        for q in RUNGS:
            served = seed_samples(seed, q)
            agree, disputed = judge(model, tok, served)
            confident = confident_disagreements(model, tok, served)
            prepared = prepare_samples(served, answer_check=False, screen_empty=False)
            pairs = [format_pair(s) for s in prepared.valid]
            with lora_adapter(model, tok, pairs, DEFAULT_RECIPE) as trained:
                tuned = evaluate(trained.model, tok, items, GUARD_TEXTS)
                delta = misread_margins(trained.model, tok, items, misreads) - base_margin
                _, trained_disputes = judge(trained.model, tok, served)
            score = score_cot(base.result, tuned, base.rouge, prepared.counts, 0)
            c = {str(k): v for k, v in score.components.items()}
            rungs[q] = (c["improvement"] - 0.1 * c["margin_delta"], delta)
            print(
                f"  {q.value:20s} improvement {c['improvement']:+.3f}  misread margin delta mean"
                f" {delta.mean():+.3f} median {np.median(delta):+.3f}  base agrees {agree:.2f}"
                f" disputes {disputed:.2f}  trained adapter disputes {trained_disputes:.2f}"
                f"  confident token disagreements {confident:.2f}",
                flush=True,
            )
        seeds.append(rungs)
    print(f"{len(seeds)} seeds: targets met (other words, wrong, order) with the misread margin")
    for summary, fn in (("mean", np.mean), ("median", np.median)):
        for w in WEIGHTS:
            met = [
                model_only_targets({q: other + w * float(fn(d)) for q, (other, d) in r.items()})
                for r in seeds
            ]
            counts = [sum(m[k] for m in met) for k in range(3)]
            print(
                f"  {summary:6s} x{w:4.2f}: other {counts[0]}  wrong {counts[1]}"
                f"  order {counts[2]}  all three {sum(all(m) for m in met)}"
            )


if __name__ == "__main__":
    main()
