"""Which signal weights would meet the ladder's model-only targets? Offline, from a ladder run.

Run: ``.venv/bin/python bench/ladder_weights.py FILE.json [FILE.json ...]`` on the output of
``bench/bench_ladder.py --out FILE.json``.

The rule's improvement is linear in the mean per-item deltas the ladder records for every rung
(``scoring/score.py``: the per-item sum's mean is the weighted sum of the means), so the
targets can be recomputed for any weights without training again. For each weight vector of a
small grid it prints in how many seeds each of issue 10's model-only targets holds (validator
A, the answer check off): correct in other words >= 50% of correct, wrong answers (either
phrasing) <= 5% of correct, both correct rungs above every flawed rung, and all three at once.
The rule's constants were chosen with this on data seeds 0-4 (docs/SCORING.md, "The quality
ladder").
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scoring.components import Component

if __package__ in (None, ""):  # run as a script: the repo root holds the bench package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ladder import model_only_targets
from scoring import score
from tasks.quality import Quality


@dataclass(frozen=True)
class Weights:
    """The weights of the per-item signals the grid varies (the rest stay the rule's)."""

    loss: float
    answer_loss: float
    margin: float
    # None: the margin is a plain per-item term (mean delta x weight). A number: the rule's
    # guard, which only charges a mean drop beyond this many nats.
    margin_tolerance: float | None = None

    def improvement(self, c: dict[str, float]) -> float:
        """The rule's improvement of one rung under these weights, from its components."""
        harm = score.W_GENERAL * max(
            0.0, c[Component.GENERAL_LOSS_INCREASE] - score.GENERAL_TOLERANCE
        )
        margin = c.get(Component.MARGIN_DELTA, 0.0)
        if self.margin_tolerance is None:
            margin_term = self.margin * margin
        else:
            margin_term = -self.margin * max(0.0, -margin - self.margin_tolerance)
        return (
            self.loss * c[Component.LOSS_DELTA]
            + self.answer_loss * c[Component.ANSWER_LOSS_DELTA]
            + score.W_ACCURACY * c[Component.ACCURACY_DELTA]
            + score.W_ROUGE * c[Component.ROUGE_DELTA]
            + margin_term
            - harm
        )

    def label(self) -> str:
        """How the margin enters, for the table."""
        if self.margin_tolerance is None:
            return f"term x{self.margin:g}"
        return f"guard x{self.margin:g} beyond {self.margin_tolerance:g}"


def seed_targets(rungs: list[list[Any]], w: Weights) -> tuple[bool, bool, bool]:
    """(other words >= 50%, wrong <= 5%, correct above flawed) for one seed's rungs."""
    imp = {Quality(r[0]): w.improvement(r[4]) for r in rungs}
    factor = {
        Quality(r[0]): r[4][Component.JUNK_FACTOR] * r[4][Component.VOLUME_FACTOR] for r in rungs
    }
    return model_only_targets(imp, factor)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("runs", type=Path, nargs="+", help="bench_ladder.py --out files")
    args = ap.parse_args()
    seeds = [s for path in args.runs for s in json.loads(path.read_text())["seeds"]]
    plain = [
        Weights(loss, answer, margin)
        for loss, answer, margin in itertools.product(
            (0.0, score.W_LOSS), (0.0, 0.5, 1.0), (0.0, 0.1, 0.25, 0.5, 1.0)
        )
    ]
    guards = [
        Weights(score.W_LOSS, score.W_ANSWER_LOSS, margin, tolerance)
        for margin, tolerance in itertools.product((0.5, 1.0, 2.0), (0.0, 0.25, 0.5, 0.75))
    ]
    rule = Weights(score.W_LOSS, score.W_ANSWER_LOSS, score.W_MARGIN)
    print(f"{len(seeds)} seeds; targets met in how many (other words, wrong, order, all three)")
    print(f"{'loss':>5} {'answer':>6}  {'margin':28s} other  wrong  order    all")
    for w in plain + guards:
        met = [seed_targets(s["a"], w) for s in seeds]
        other, wrong, order = (sum(m[k] for m in met) for k in range(3))
        every = sum(all(m) for m in met)
        mark = "  <- the rule" if w == rule else ""
        print(
            f"{w.loss:5.2f} {w.answer_loss:6.2f}  {w.label():28s} {other:5d}  {wrong:5d}"
            f"  {order:5d}  {every:5d}{mark}"
        )


if __name__ == "__main__":
    main()
