"""Where in the eval set does the contrast margin tell wrong data from right? Per-item margins.

Run: ``.venv/bin/python bench/ladder_margin_variants.py [--seeds 5] [--first-seed 0]``

For each data seed, validator A's eval set and every ladder rung (``bench/ladder.py``),
the per-item contrast margins of the base and of the tuned model (the answer check off, so
every rung is trained). Then, for a few ways of summarising the per-item margin deltas and a
few weights, in how many seeds issue 10's model-only targets hold when that summary replaces
the rule's margin term (the other terms as in ``scoring/score.py``): other words >= 50% of
correct, wrong <= 5% of correct, both correct rungs above every flawed rung. Every served
sample is trained on (the near-empty screen off too) and the junk and volume factors are left
out, so the ``all`` rows differ a little from ``bench/bench_ladder.py``'s, which screens.

Summaries: ``all`` (the rule's: the mean delta), ``base_right`` (only items whose base margin
is above 0, the ones the base already ranks right), ``base_right_clip10`` (the same with
margins capped at 10 nats), ``clip5`` (every margin clipped to +-5 nats) and ``drops_only``
(each item's delta capped at 0: only losses count).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt

from scoring.components import Component

if __package__ in (None, ""):  # run as a script: the repo root holds the bench package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ladder import RUNGS, model_only_targets, parse_seed_range, seed_eval_items, seed_samples
from scoring import score
from tasks.quality import Quality
from validator.model.base import load_base
from validator.stages.cot_validate import evaluate_base, validate_and_score

Arr = npt.NDArray[np.float64]
SUMMARIES: dict[str, Callable[[Arr, Arr], float]] = {
    "all": lambda b, t: float((t - b).mean()),
    "base_right": lambda b, t: float(np.where(b > 0, t - b, 0.0).mean()),
    "base_right_clip10": lambda b, t: float(
        np.where(b > 0, np.minimum(t, 10) - np.minimum(b, 10), 0.0).mean()
    ),
    "clip5": lambda b, t: float((np.clip(t, -5, 5) - np.clip(b, -5, 5)).mean()),
    "drops_only": lambda b, t: float(np.minimum(t - b, 0.0).mean()),
}
WEIGHTS = (0.0, 0.1, 0.25, 0.5, 1.0)


def _other_terms(c: Mapping[Component, float]) -> float:
    """The rule's improvement without its margin term, from a score's components."""
    harm = score.W_GENERAL * max(0.0, c[Component.GENERAL_LOSS_INCREASE] - score.GENERAL_TOLERANCE)
    return (
        score.W_LOSS * c[Component.LOSS_DELTA]
        + score.W_ANSWER_LOSS * c[Component.ANSWER_LOSS_DELTA]
        + score.W_ACCURACY * c[Component.ACCURACY_DELTA]
        + score.W_ROUGE * c[Component.ROUGE_DELTA]
        - harm
    )


def main() -> None:
    seeds_run = parse_seed_range(__doc__)
    model, tok = load_base("tiny", "cpu")
    # per seed: (base margins, {rung: (tuned margins, other terms)})
    seeds: list[tuple[Arr, dict[Quality, tuple[Arr, float]]]] = []
    for seed in seeds_run:
        items = seed_eval_items(seed)
        base = evaluate_base(model, tok, items)
        rungs: dict[Quality, tuple[Arr, float]] = {}
        for q in RUNGS:
            served = seed_samples(seed, q)
            raw = validate_and_score(
                model, tok, served, items, base=base, answer_check=False, screen_empty=False
            )
            assert raw.measured is not None
            tuned = np.asarray(raw.measured.tuned.contrast_margin, dtype=np.float64)
            rungs[q] = (tuned, _other_terms(raw.score.components))
        seeds.append((np.asarray(base.result.contrast_margin, dtype=np.float64), rungs))
        print(f"seed {seed} measured", flush=True)
    print(f"{len(seeds)} seeds; targets met in how many: other words, wrong, order")
    for name, summary in SUMMARIES.items():
        deltas = [{q: summary(b, t) for q, (t, _) in r.items()} for b, r in seeds]
        print(
            f"{name}: seed {seeds_run.start}'s deltas "
            + " ".join(f"{q.value}={v:+.3f}" for q, v in deltas[0].items())
        )
        for w in WEIGHTS:
            met = [
                model_only_targets({q: other + w * d[q] for q, (_, other) in r.items()})
                for (_, r), d in zip(seeds, deltas, strict=True)
            ]
            counts = [sum(m[k] for m in met) for k in range(3)]
            print(f"  weight {w:4.2f}: other {counts[0]}  wrong {counts[1]}  order {counts[2]}")


if __name__ == "__main__":
    main()
