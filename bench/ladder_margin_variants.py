"""Where in the eval set does the contrast margin tell wrong data from right? Per-item margins.

Run: ``.venv/bin/python bench/ladder_margin_variants.py [--seeds 5] [--first-seed 0]``

For each data seed, every ladder rung (``bench/ladder.py``) is trained once (the answer check
and the near-empty screen off, so every rung is trained) and measured on both validators'
eval sets (secrets A and B, one pass over both). Then, for ways of putting the per-item margin
deltas into the rule in place of its margin term (the other terms as in ``scoring/score.py``,
from the same per-item arrays), in how many seeds issue 10's model-only targets hold on
validator A (other words >= 50% of correct, wrong <= 5% of correct, both correct rungs above
every flawed rung, all three) and in how many the two validators agree on what they pay
(Kendall tau >= 0.8 on the floored improvements, near-empty paid 0 as a round rejects it).
The junk and volume factors are left out (every rung serves 64 valid samples here).

Statistics of the per-item margin deltas: ``mean`` (the rule's), ``base_right`` (only items
whose base margin is above 0), ``base_right_clip10`` (the same, margins capped at 10 nats),
``clip5`` (every margin clipped to +-5 nats), ``drops_only`` (each delta capped at 0),
``median``, and ``sign`` (the share of items whose margin rose minus the share whose margin
fell: bounded, so the items the base is sure of by tens of nats weigh no more than others).
Each enters as a term (``x w``) or as a guard (``guard x w beyond t``: a fall of the statistic
beyond ``t`` costs ``w`` per unit, a rise earns nothing). Last, each rung's range of ``sign``
over the seeds and both validators.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

if __package__ in (None, ""):  # run as a script: the repo root holds the bench package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ladder import (
    RUNGS,
    SECRET_A,
    SECRET_B,
    kendall_between,
    model_only_targets,
    parse_seed_range,
    seed_eval_items,
    seed_samples,
)
from scoring import score
from tasks.quality import Quality
from validator.model.base import load_base
from validator.model.evaluate import EvalResult
from validator.stages.cot_validate import evaluate_base, rouge_of, validate_and_score

Arr = npt.NDArray[np.float64]
STATISTICS: dict[str, Callable[[Arr, Arr], float]] = {
    "mean": lambda b, t: float((t - b).mean()),
    "base_right": lambda b, t: float(np.where(b > 0, t - b, 0.0).mean()),
    "base_right_clip10": lambda b, t: float(
        np.where(b > 0, np.minimum(t, 10) - np.minimum(b, 10), 0.0).mean()
    ),
    "clip5": lambda b, t: float((np.clip(t, -5, 5) - np.clip(b, -5, 5)).mean()),
    "drops_only": lambda b, t: float(np.minimum(t - b, 0.0).mean()),
    "median": lambda b, t: float(np.median(t - b)),
    "sign": lambda b, t: float(np.sign(t - b).mean()),
}
TERM_WEIGHTS = (0.0, 0.1, 0.25, 0.5, 1.0)
GUARDS = {  # statistic -> (weights, tolerances) of its guard form
    "mean": ((1.0, 2.0), (0.5, 0.75)),
    "median": ((1.0, 2.0), (0.1, 0.25)),
    "sign": ((1.0, 2.0, 4.0), (0.1, 0.2, 0.3)),
}


@dataclass(frozen=True)
class Measured:
    """One model on one validator's eval set: the rule's other per-item terms, the margins."""

    other: Arr  # loss + 0.5 answer loss + accuracy + 0.5 ROUGE, per item (base or tuned)
    margin: Arr  # contrast margin; 0 where the item has no near misses (as the rule counts)
    general: float  # mean general-text loss


@dataclass(frozen=True)
class Variant:
    """How a statistic of the margin deltas enters the improvement."""

    statistic: str
    weight: float
    tolerance: float | None = None  # None: a term; a number: a guard beyond it

    def term(self, base: Arr, tuned: Arr) -> float:
        """The margin's part of the improvement."""
        value = STATISTICS[self.statistic](base, tuned)
        if self.tolerance is None:
            return self.weight * value
        return -self.weight * max(0.0, -value - self.tolerance)

    def label(self) -> str:
        """For the table."""
        if self.tolerance is None:
            return f"{self.statistic} x{self.weight:g}"
        return f"{self.statistic} guard x{self.weight:g} beyond {self.tolerance:g}"


def _measured(result: EvalResult, part: slice, no_near_miss: npt.NDArray[np.bool_]) -> Measured:
    """The per-item arrays of ``result`` for the items of ``part`` (one validator's set)."""

    def arr(values: list[float] | list[int]) -> Arr:
        return np.asarray(values, dtype=np.float64)[part]

    other = (
        -score.W_LOSS * arr(result.completion_loss)
        - score.W_ANSWER_LOSS * arr(result.answer_loss)
        + score.W_ACCURACY * arr(result.correct)
        + score.W_ROUGE * arr(rouge_of(result))
    )
    margin = np.where(no_near_miss[part], 0.0, arr(result.contrast_margin))
    return Measured(other, margin, float(np.mean(result.general_loss)))


def improvement(base: Measured, tuned: Measured, variant: Variant) -> float:
    """The rule's improvement with ``variant`` in place of its margin term."""
    harm = score.W_GENERAL * max(0.0, tuned.general - base.general - score.GENERAL_TOLERANCE)
    return float((tuned.other - base.other).mean()) + variant.term(base.margin, tuned.margin) - harm


# per seed, per validator: (base, {rung: tuned})
Seed = dict[str, tuple[Measured, dict[Quality, Measured]]]


def measure_seed(model: object, tokenizer: object, seed: int) -> Seed:
    """Every rung trained once and measured on validator A's and B's eval sets."""
    a, b = seed_eval_items(seed, SECRET_A), seed_eval_items(seed, SECRET_B)
    items = a + b
    parts = {"A": slice(0, len(a)), "B": slice(len(a), len(items))}
    base = evaluate_base(model, tokenizer, items)
    no_near_miss = np.isnan(np.asarray(base.result.contrast_margin, dtype=np.float64))
    tuned: dict[Quality, EvalResult] = {}
    for quality in RUNGS:
        raw = validate_and_score(
            model,
            tokenizer,
            seed_samples(seed, quality),
            items,
            base=base,
            answer_check=False,
            screen_empty=False,
        )
        assert raw.measured is not None
        tuned[quality] = raw.measured.tuned
    return {
        name: (
            _measured(base.result, part, no_near_miss),
            {q: _measured(r, part, no_near_miss) for q, r in tuned.items()},
        )
        for name, part in parts.items()
    }


def _paid(improvements: dict[Quality, float]) -> list[float]:
    """What a round pays each rung (floored; near-empty rejected whole), in rung order."""
    return [0.0 if q is Quality.EMPTY else max(0.0, v) for q, v in improvements.items()]


def main() -> None:
    seeds_run = parse_seed_range(__doc__)
    model, tokenizer = load_base("tiny", "cpu")
    seeds: list[Seed] = []
    for seed in seeds_run:
        seeds.append(measure_seed(model, tokenizer, seed))
        print(f"seed {seed} measured", flush=True)
    variants = [Variant(s, w) for s in STATISTICS for w in TERM_WEIGHTS] + [
        Variant(s, w, t)
        for s, (weights, tolerances) in GUARDS.items()
        for w, t in itertools.product(weights, tolerances)
    ]
    print(f"{len(seeds)} seeds; in how many: other words, wrong, order, all three (A); tau >= 0.8")
    for variant in variants:
        met, agree = [], 0
        for measured in seeds:
            by = {
                name: {q: improvement(base, t, variant) for q, t in rungs.items()}
                for name, (base, rungs) in measured.items()
            }
            met.append(model_only_targets(by["A"]))
            agree += kendall_between(_paid(by["A"]), _paid(by["B"])) >= 0.8
        counts = [sum(m[k] for m in met) for k in range(3)]
        print(
            f"  {variant.label():34s} other {counts[0]}  wrong {counts[1]}  order {counts[2]}"
            f"  all {sum(all(m) for m in met)}  tau {agree}"
        )
    print("sign of the margin deltas, each rung's range over the seeds and both validators:")
    for quality in RUNGS:
        values = [
            STATISTICS["sign"](base.margin, rungs[quality].margin)
            for measured in seeds
            for base, rungs in measured.values()
        ]
        print(f"  {quality.value:20s} {min(values):+.3f} .. {max(values):+.3f}")


if __name__ == "__main__":
    main()
