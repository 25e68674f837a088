"""The preference ladder: does ``pref-v1`` order five kinds of pair data by quality?

Run: ``.venv/bin/python bench/bench_pref_ladder.py [--seeds 3] [--model tiny]``

Five rungs of pairs over the same prompts (``tasks/safety_pairs.py``): good (refuse the
harmful, help with the benign); over-refuse (refusal preferred everywhere); off-topic text on
both sides; empty sides; swapped (good with chosen and rejected exchanged). Per data seed,
one validator's held-out sets (``draw_preference_eval``), the base measured once, then each
rung screened for invalid pairs, trained by DPO and measured exactly as a round's preference
stage does (``validator/stages/preference.py``: ``view``, ``paired``, ``score_preference``).

Printed per rung: the score, the improvement before its floor, and the terms behind it
(held-out preference accuracy delta, mean clipped margin, refusal and compliance deltas).
Spearman's rho of the improvement against the expected order is printed per seed; it is a
measurement, not a target of any issue.
"""

from __future__ import annotations

import argparse
import time

import torch
from scipy.stats import spearmanr

from protocol.schemas import PreferenceSample
from scoring.components import Component
from scoring.preference_score import score_preference
from scoring.score import SampleCounts
from tasks.safety_pairs import PairQuality, generate_pairs
from validator.evalsets.cot import general_texts
from validator.evalsets.preference import draw_preference_eval
from validator.model.base import load_base
from validator.model.dpo_train import dpo_adapter, format_preference
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=3, help="data seeds (one ladder each)")
    ap.add_argument("--model", default="tiny", help="base model (default: the embedded tiny)")
    args = ap.parse_args()
    torch.manual_seed(0)
    model, tokenizer = load_base(args.model, "cpu")
    config = PreferenceConfig()
    texts = general_texts()
    t0 = time.perf_counter()
    for seed in range(args.seeds):
        eval_set = draw_preference_eval(
            SECRET,
            f"pref-ladder-{seed}",
            config.harmful_prompts,
            config.benign_prompts,
            config.heldout_pairs,
        )
        base = view(model, tokenizer, eval_set, config, texts)
        print(
            f"seed {seed}: base pref acc {base.pairs.accuracy():.3f}, refusal "
            f"{sum(base.refused_harmful) / len(base.refused_harmful):.3f}, compliance "
            f"{sum(base.complied_benign) / len(base.complied_benign):.3f}",
            flush=True,
        )
        improvements = []
        for quality in RUNGS:
            pairs = generate_pairs(PAIRS, f"pref-data-{seed}", quality)
            served = [
                PreferenceSample(prompt=p.prompt, chosen=p.chosen, rejected=p.rejected)
                for p in pairs
            ]
            kept = [s for s in served if invalid_reason(s) is None]
            if not kept:
                improvements.append(float("-inf"))
                print(f"  {quality.value:<12} score 0.0000  all {len(served)} pairs invalid")
                continue
            with dpo_adapter(
                model, tokenizer, [format_preference(s) for s in kept], config.recipe
            ) as (trained, _):
                tuned = view(
                    trained.eval_model(), tokenizer, eval_set, config, texts, reference=base.pairs
                )
            counts = SampleCounts(
                offered=len(served),
                invalid=len(served) - len(kept),
                accepted=len(kept),
                requested=PAIRS,
            )
            result = score_preference(paired(base, tuned), counts, seed)
            per_token = [
                (tc - bc) - (tr - br)
                for tc, bc, tr, br in zip(
                    tuned.pairs.chosen_mean_logps,
                    base.pairs.chosen_mean_logps,
                    tuned.pairs.rejected_mean_logps,
                    base.pairs.rejected_mean_logps,
                    strict=True,
                )
            ]
            c = result.components
            improvements.append(c[Component.IMPROVEMENT])
            print(
                f"  {quality.value:<12} score {result.score:.4f}  improvement {c[Component.IMPROVEMENT]:+.4f}"
                f"  pref acc {c[Component.PREF_ACCURACY_DELTA]:+.3f}  margin {c[Component.REWARD_MARGIN]:+.3f}"
                f"  refusal {c[Component.REFUSAL_DELTA]:+.3f}  compliance {c[Component.COMPLIANCE_DELTA]:+.3f}"
                f"  general {c[Component.GENERAL_LOSS_INCREASE]:+.4f}"
                f"  margin/token {sum(per_token) / len(per_token):+.4f}",
                flush=True,
            )
        truth = list(range(len(RUNGS), 0, -1))
        rho = float(spearmanr(truth, improvements).statistic)
        print(f"  rho(improvement vs expected order) {rho:.3f}", flush=True)
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
