"""The preference ladder: does the preference rule order five kinds of pair data by quality?

Run: ``.venv/bin/python bench/bench_pref_ladder.py [--seeds 3] [--first-seed 0] [--model tiny]
[--prompts 16] [--pairs 128] [--dpo-steps 32] [--dpo-lr 2e-3]`` (the last four vary the
round's defaults, to measure what another recipe or more held-out prompts or pairs would
change; the score is always the round's rule). About a minute a seed on one thread at
``dpo-lora/3``'s 32 steps.

Five rungs of pairs over the same prompts (``tasks/safety_pairs.py``): good (refuse the
harmful, help with the benign); over-refuse (refusal preferred everywhere); off-topic text on
both sides; empty sides; swapped (good with chosen and rejected exchanged). Per data seed,
one validator's held-out sets (``draw_preference_eval``), the base measured once, then each
rung screened for invalid pairs, trained by DPO and measured exactly as a round's preference
stage does (``validator/stages/preference.py``: ``view``, ``paired``, ``score_preference``).

Printed per rung: the score, the improvement before its floor, and the terms behind it
(held-out preference accuracy delta, mean clipped margin, refusal and compliance deltas, and
the margin over the harmful and over the benign held-out pairs, which ``pref-v4`` counts apart).
Spearman's rho of the improvement against the expected order is printed per seed; it is a
measurement, not a target of any issue. At the end, per rung over the seeds: the mean (sd)
of the refusal, compliance and margin terms, and issue 10's preference checks.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr

from protocol.schemas import PreferenceSample
from scoring.components import Component
from scoring.preference_score import score_preference
from scoring.score import SampleCounts
from tasks.safety_pairs import PairQuality, generate_pairs
from validator.evalsets.cot import general_texts
from validator.evalsets.preference import PreferenceEvalSet, draw_preference_eval
from validator.model.base import load_base
from validator.model.dpo_train import DEFAULT_DPO_RECIPE, dpo_adapter, format_preference
from validator.stages.preference_measure import PreferenceConfig, paired, view
from validator.stages.screening import invalid_reason

RUNGS = (
    PairQuality.GOOD,
    PairQuality.OVER_REFUSE,
    PairQuality.OFF_TOPIC,
    PairQuality.EMPTY,
    PairQuality.SWAPPED,
)
SECRET = "pref-ladder-validator"
PAIRS = 64  # a validator's default request


@dataclass
class RungResult:
    """One rung's score and the terms behind it, for one seed."""

    score: float
    improvement: float
    refusal: float
    compliance: float
    margin: float
    harmful_margin: float  # the mean clipped margin over the held-out harmful pairs alone
    benign_margin: float  # and over the benign pairs alone


def ladder_eval_set(seed: int, config: PreferenceConfig) -> PreferenceEvalSet:
    """The one validator's held-out sets the ladder uses for data seed ``seed``."""
    return draw_preference_eval(
        SECRET,
        f"pref-ladder-{seed}",
        config.harmful_prompts,
        config.benign_prompts,
        config.heldout_pairs,
    )


def rung_pairs(
    quality: PairQuality, seed: int
) -> tuple[list[PreferenceSample], list[PreferenceSample]]:
    """A rung's pairs as served, and those screening keeps (the invalid ones dropped)."""
    pairs = generate_pairs(PAIRS, f"pref-data-{seed}", quality)
    served = [
        PreferenceSample(prompt=p.prompt, chosen=p.chosen, rejected=p.rejected) for p in pairs
    ]
    return served, [s for s in served if invalid_reason(s) is None]


def measure_rung(
    model: Any,
    tokenizer: Any,
    eval_set: PreferenceEvalSet,
    config: PreferenceConfig,
    base: Any,
    quality: PairQuality,
    seed: int,
) -> RungResult | None:
    """Train and score one rung as a round does; None when every pair is invalid."""
    served, kept = rung_pairs(quality, seed)
    if not kept:
        print(f"  {quality.value:<12} score 0.0000  all {len(served)} pairs invalid")
        return None
    texts = general_texts()
    with dpo_adapter(model, tokenizer, [format_preference(s) for s in kept], config.recipe) as (
        trained,
        _,
    ):
        tuned = view(trained.eval_model(), tokenizer, eval_set, config, texts, reference=base.pairs)
    counts = SampleCounts(
        offered=len(served), invalid=len(served) - len(kept), accepted=len(kept), requested=PAIRS
    )
    evals = paired(base, tuned, eval_set.harmful_pairs)
    result = score_preference(evals, counts, seed)
    c = result.components
    print(
        f"  {quality.value:<12} score {result.score:.4f}  improvement {c[Component.IMPROVEMENT]:+.4f}"
        f"  pref acc {c[Component.PREF_ACCURACY_DELTA]:+.3f}  margin {c[Component.REWARD_MARGIN]:+.3f}"
        f" (beyond chance {c[Component.MARGIN_COUNTED]:+.3f})"
        f"  refusal {c[Component.REFUSAL_DELTA]:+.3f}  compliance {c[Component.COMPLIANCE_DELTA]:+.3f}"
        f"  (beyond chance {c[Component.REFUSAL_COUNTED]:+.3f} {c[Component.COMPLIANCE_COUNTED]:+.3f})"
        f"  general {c[Component.GENERAL_LOSS_INCREASE]:+.4f}"
        f"  margin harmful/benign pairs {c[Component.HARMFUL_PAIR_MARGIN]:+.3f}"
        f" {c[Component.BENIGN_PAIR_MARGIN]:+.3f}",
        flush=True,
    )
    return RungResult(
        result.score,
        c[Component.IMPROVEMENT],
        c[Component.REFUSAL_DELTA],
        c[Component.COMPLIANCE_DELTA],
        c[Component.REWARD_MARGIN],
        c[Component.HARMFUL_PAIR_MARGIN],
        c[Component.BENIGN_PAIR_MARGIN],
    )


def summarise(results: dict[PairQuality, list[RungResult]], seeds: int) -> None:
    """Per rung, the terms' mean (sd) over the seeds, then issue 10's preference checks."""
    print(
        "\nper rung over the seeds, mean (sd): refusal delta, compliance delta, margin, and the"
        " margin over the harmful and over the benign held-out pairs"
    )
    for quality, rows in results.items():
        terms = {
            name: np.array([getattr(r, name) for r in rows])
            for name in ("refusal", "compliance", "margin", "harmful_margin", "benign_margin")
        }
        line = "  ".join(f"{n} {v.mean():+.4f} ({v.std():.3f})" for n, v in terms.items())
        print(f"  {quality.value:<12} {line}")
    good = [r.score for r in results[PairQuality.GOOD]]
    flawed = [q for q in results if q is not PairQuality.GOOD]
    first = sum(g > max(results[q][i].score for q in flawed) for i, g in enumerate(good))
    off = results[PairQuality.OFF_TOPIC]
    within = sum(g > 0 and off[i].score <= 0.05 * g for i, g in enumerate(good))
    swapped = sum(r.score == 0 for r in results[PairQuality.SWAPPED])
    print(
        f"good first {first}/{seeds}; off-topic <= 5% of good {within}/{seeds};"
        f" swapped earns 0 {swapped}/{seeds}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=3, help="data seeds (one ladder each)")
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--model", default="tiny", help="base model (default: the embedded tiny)")
    ap.add_argument("--prompts", type=int, default=PreferenceConfig.harmful_prompts)
    ap.add_argument("--pairs", type=int, default=PreferenceConfig.heldout_pairs)
    ap.add_argument("--dpo-steps", type=int, default=DEFAULT_DPO_RECIPE.steps)
    ap.add_argument("--dpo-lr", type=float, default=DEFAULT_DPO_RECIPE.lr)
    args = ap.parse_args()
    torch.manual_seed(0)
    model, tokenizer = load_base(args.model, "cpu")
    recipe = replace(DEFAULT_DPO_RECIPE, steps=args.dpo_steps, lr=args.dpo_lr)
    config = PreferenceConfig(
        harmful_prompts=args.prompts,
        benign_prompts=args.prompts,
        heldout_pairs=args.pairs,
        recipe=recipe,
    )
    texts = general_texts()
    t0 = time.perf_counter()
    results: dict[PairQuality, list[RungResult]] = {
        q: [] for q in RUNGS if q is not PairQuality.EMPTY
    }
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        eval_set = ladder_eval_set(seed, config)
        base = view(model, tokenizer, eval_set, config, texts)
        print(
            f"seed {seed}: base pref acc {base.pairs.accuracy():.3f}, refusal "
            f"{sum(base.refused_harmful) / len(base.refused_harmful):.3f}, compliance "
            f"{sum(base.complied_benign) / len(base.complied_benign):.3f}",
            flush=True,
        )
        improvements = []
        for quality in RUNGS:
            rung = measure_rung(model, tokenizer, eval_set, config, base, quality, seed)
            improvements.append(float("-inf") if rung is None else rung.improvement)
            if rung is not None and quality in results:
                results[quality].append(rung)
        truth = list(range(len(RUNGS), 0, -1))
        rho = float(spearmanr(truth, improvements).statistic)
        print(f"  rho(improvement vs expected order) {rho:.3f}", flush=True)
    summarise(results, args.seeds)
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
