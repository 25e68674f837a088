"""The CoT SFT score rule, version ``cot-v6``: what one miner's data did to the model.

Inputs are paired per eval item (base model vs the same base with the miner's LoRA):
completion loss, answer-token loss, answer correctness (0/1), ROUGE-L F1 of the generated
final answer, the contrast margin against the item's near misses (log p(reference) - log sum
p(near misses), ``validator/model/evaluate.py``), plus the general-text loss (base, tuned)
and the miner's sample counts.

The rule, in order; the first that applies ends it with score 0 and its reason:

1. any NaN or infinity among the inputs -> 0 ("non-finite ...");
2. more samples matching the eval pool than chance explains -> 0 ("contaminated ...";
   ``contamination_allowance``, ``scoring/chance.py``; a canary's tag allows none);
3. no accepted sample -> 0.

Otherwise, per eval item ``i`` (positive is better):

    d_i = W_LOSS * (base_loss - tuned_loss) + W_ANSWER_LOSS * (base_answer_loss - tuned_...)
        + W_ACCURACY * (tuned_correct - base_correct) + W_ROUGE * (tuned_rouge - base_rouge)
        + W_MARGIN * (tuned_margin - base_margin)

    improvement = mean(d) - W_GENERAL * max(0, general_increase - GENERAL_TOLERANCE)
    score       = max(0, improvement) * (accepted / (offered - contaminated)) ** JUNK_POWER
                  * volume
                  * (1 - wrong_answers / accepted) ** WRONG_ANSWER_POWER

``wrong_answers`` counts accepted samples whose prompt one of the task registry's parsers
reads and whose final answer the registry's verifier finds wrong. On the embedded base the
model's own numbers still pay wrong answers about as much as right ones (the losses move with
the completions' format, which both share; docs/SCORING.md, "The quality ladder"), so the
validator charges for them directly. The charge is a multiplier, not a
subtraction: a subtracted constant is in nats and a model that gains more than it (a random
base gains whole nats from ROUGE-shaped text) would still pay wrong data; a share of the
score holds on every base.

``accepted / (offered - contaminated)`` is the share of what the miner served that survived
validation and dedup; invalid and duplicate samples lower it. Samples matching the eval pool
within chance are dropped (never trained on) but are not junk: an honest miner meets an eval
problem by chance in most rounds, and the volume factor already charges for the lost sample. ``volume = min(1, accepted /
requested)`` is the share of the validator's request the miner filled with accepted data:
the recipe's fixed steps make a small dataset teach almost as much as a full one, so without
it one dataset split across ten hotkeys would earn ten times. With it, the ten earn together
about what the whole dataset earns on one hotkey. A seeded paired bootstrap interval of
mean(d) is reported beside the score (not used in it), so a reader sees the noise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from scoring.components import Component
from scoring.stats import non_finite_names, paired_bootstrap_ci

# A change to any rule or constant below is a new version: old rounds stay explainable.
# v2: the volume factor; v3: the wrong-answer charge; v4: answer-loss weight 0.5, general-text
# tolerance 0.1 (both measured on the embedded base, below); v5: the contrast margin at 0.1;
# v6: eval-pool matches within chance are dropped, not zeroed (``contamination_allowance``).
SCORING_VERSION = "cot-v6"

# Weights of the per-item signals. Units: losses in nats per token, accuracy and ROUGE-L in
# [0, 1] per item. At 1.0, a 0.3-nat loss drop (what the design's pretrained base gains from
# 8 LoRA steps of good CoT: 1.22 -> 0.93) counts as much as 30 more points of accuracy.
W_LOSS = 1.0
# The answer-token loss weighs the tokens that state the result, which whole-completion loss
# (dominated by format) underweights. Half weight: an answer is a handful of tokens, so its
# mean loss is far noisier than the completion's. Measured on the embedded base, 8 data seeds
# of correct data (bench/bench_ladder.py prints both deltas per rung): the answer-loss
# delta ranged -0.045..+0.083 (sd 0.04) against the completion's +0.041..+0.065 (sd 0.008);
# at weight 1.0 one seed's good data scored 0 on answer-loss noise alone.
W_ANSWER_LOSS = 0.5
W_ACCURACY = 1.0
# ROUGE-L of a short final answer mostly restates accuracy; half weight avoids counting the
# same gain twice while still crediting partial answers ("7 2" for "72").
W_ROUGE = 0.5
# The contrast margin is the one signal in which wrong answers lose to right ones on the
# embedded base: at the recipe's 16 steps, data seeds 0-4, wrong data moved it -0.42..-1.92
# nats, correct data -0.54..+0.13 (wrong below correct in every seed). But it is unbounded
# and dominated by items the base already gets right by tens of nats, and data that only
# damages the model moves it up (near-empty +0.48..+1.38, off-topic -0.33..+0.48; on the
# items the base ranks right as well, so not only by blunting confident mistakes; why is
# open). So it gets a small weight: 0.1 was the best of {0, 0.1, 0.25, 0.5, 1} on seeds 0-4 by the ladder's model-only targets (both
# correct rungs above every flawed rung in 4 of 5 seeds, at 0 in none; other words >= 50% in
# 5; no weight met all targets in any seed; seeds 10-14: 5, 5). A guard form that only
# charges a drop priced wrong data down in more seeds but made two validators disagree
# (Kendall tau down to -0.05); a bounded form, sigmoid(margin) (the reference's share of
# probability among its candidates), moved by under 0.02 on every rung: no signal.
W_MARGIN = 0.1

# General-text loss may rise this much (nats/token) before it costs anything. Any narrow SFT
# moves it: 8 LoRA steps of *correct* CoT raised it 0.026..0.070 over 8 data seeds on the
# embedded base (bench/bench_ladder.py), so the old 0.02 (the seed-to-seed noise alone)
# charged good data and zeroed the honest miner in most rounds. 0.1 clears what good data
# does with margin; damage beyond it is still charged two for one.
GENERAL_TOLERANCE = 0.1
# Each nat of general-text damage beyond the tolerance costs two nats of improvement: doing
# harm must never pay for itself.
W_GENERAL = 2.0

# Score multiplier (1 - wrong share) ** 3: all-wrong data earns nothing on any base, and 10%
# wrong costs 27% of the score, more than 10% junk (19%, JUNK_POWER): a dropped row teaches
# nothing, a wrong answer teaches the wrong thing, so it must cost more.
WRONG_ANSWER_POWER = 3.0

# Score multiplier (accepted / offered) ** 2: 10% junk costs 19% of the score, so padding a
# submission with copies or invalid rows (which add no training signal) always loses.
JUNK_POWER = 2.0


@dataclass(frozen=True)
class PairedEval:
    """Per-eval-item arrays, base vs tuned; all the same length."""

    base_loss: Sequence[float] | npt.NDArray[np.float64]
    tuned_loss: Sequence[float] | npt.NDArray[np.float64]
    base_answer_loss: Sequence[float] | npt.NDArray[np.float64]
    tuned_answer_loss: Sequence[float] | npt.NDArray[np.float64]
    base_correct: Sequence[float] | npt.NDArray[np.float64]
    tuned_correct: Sequence[float] | npt.NDArray[np.float64]
    base_rouge: Sequence[float] | npt.NDArray[np.float64]
    tuned_rouge: Sequence[float] | npt.NDArray[np.float64]
    base_general_loss: float
    tuned_general_loss: float
    # log p(reference) - log sum p(near misses) per item; NaN where an item has none. Empty
    # (the default) when the eval set carries no near misses at all.
    base_margin: Sequence[float] | npt.NDArray[np.float64] = ()
    tuned_margin: Sequence[float] | npt.NDArray[np.float64] = ()


@dataclass(frozen=True)
class SampleCounts:
    """What happened to the miner's samples before training."""

    offered: int
    invalid: int = 0
    duplicates: int = 0
    contaminated: int = 0  # samples matching the eval pool: dropped, never trained on
    # The most matches chance explains (``scoring.chance.chance_allowance``); more zero the
    # round. 0 (the default): any match zeroes, as where coincidences are impossible.
    contamination_allowance: int = 0
    wrong_answers: int = 0  # task-family prompts whose answer failed the validator's check
    accepted: int = 0
    requested: int = 0  # samples the validator asked for; 0 = no volume factor (unit tests)


@dataclass
class MinerScore:
    """A miner's score for one round with everything needed to explain it."""

    score: float
    components: dict[Component, float] = field(default_factory=dict)
    ci: tuple[float, float, float] | None = None  # (mean, lo, hi) of the per-item improvement
    reasons: list[str] = field(default_factory=list)
    version: str = SCORING_VERSION

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: plain floats, non-finite values as None."""

        def clean(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None

        return {
            "version": self.version,
            "score": clean(self.score),
            "components": {k: clean(v) for k, v in self.components.items()},
            "ci": None if self.ci is None else [clean(x) for x in self.ci],
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class CountFactors:
    """The multipliers a miner's sample counts put on its improvement, with their reasons."""

    share: float  # accepted / (offered - contaminated)
    junk: float  # share ** JUNK_POWER
    volume: float  # min(1, accepted / requested)
    reasons: tuple[str, ...]

    @property
    def factor(self) -> float:
        """The whole multiplier."""
        return self.junk * self.volume

    def components(self) -> dict[Component, float]:
        """The report fields every competition's score carries."""
        return {
            Component.ACCEPTED_SHARE: self.share,
            Component.JUNK_FACTOR: self.junk,
            Component.VOLUME_FACTOR: self.volume,
        }


def count_factors(counts: SampleCounts) -> CountFactors:
    """Junk and volume factors of ``counts`` (offered and accepted > 0), shared by every rule."""
    share = min(1.0, counts.accepted / max(1, counts.offered - counts.contaminated))
    volume = min(1.0, counts.accepted / counts.requested) if counts.requested > 0 else 1.0
    junk = share**JUNK_POWER
    reasons: list[str] = []
    if counts.offered - counts.contaminated > counts.accepted:
        reasons.append(
            f"{counts.invalid} invalid, {counts.duplicates} duplicate of {counts.offered} "
            f"offered: score x {junk:.4f}"
        )
    if volume < 1.0:
        reasons.append(
            f"{counts.accepted} accepted of {counts.requested} asked: score x {volume:.4f}"
        )
    return CountFactors(share, junk, volume, tuple(reasons))


def _zero(reason: str, components: dict[Component, float] | None = None) -> MinerScore:
    return MinerScore(0.0, components or {}, None, [reason])


def _margin_delta(evals: PairedEval, size: int) -> npt.NDArray[np.float64] | None:
    """Per item, tuned minus base contrast margin; 0 where the item has no near misses.

    None when a margin is infinite, or NaN for the tuned model where the base has one (a
    model that emits non-finite numbers). Margin arrays are either absent (an eval set
    without near misses) or one per item; anything else is a caller's bug (``ValueError``).
    """
    base = np.asarray(evals.base_margin, dtype=np.float64).ravel()
    tuned = np.asarray(evals.tuned_margin, dtype=np.float64).ravel()
    if base.size == 0 and tuned.size == 0:
        return np.zeros(size)
    if base.size != size or tuned.size != size:
        raise ValueError(f"margin arrays of {base.size}/{tuned.size} for {size} items")
    present = ~np.isnan(base)
    if np.isinf(base).any() or np.isinf(tuned).any() or np.isnan(tuned[present]).any():
        return None
    return np.where(present, tuned - np.where(present, base, 0.0), 0.0)


def _unpriceable(
    evals: PairedEval, arrays: dict[str, npt.NDArray[np.float64]], counts: SampleCounts
) -> MinerScore | None:
    """The zero score of inputs the rule does not price (steps 1-3, no eval items), else None.

    Paired arrays of different lengths are a caller's bug (``ValueError``).
    """
    scalars = {
        "base_general_loss": evals.base_general_loss,
        "tuned_general_loss": evals.tuned_general_loss,
    }
    bad = non_finite_names([*arrays.items(), *scalars.items()])
    if bad:
        return _zero(f"non-finite values in {', '.join(bad)}")
    sizes = {a.size for a in arrays.values()}
    if len(sizes) != 1:
        raise ValueError(f"paired arrays differ in length: {sorted(sizes)}")
    if counts.contaminated > counts.contamination_allowance:
        return _zero(
            f"contaminated: {counts.contaminated} sample(s) match the eval pool,"
            f" chance explains at most {counts.contamination_allowance}"
        )
    if counts.accepted <= 0 or counts.offered <= 0:
        return _zero("no accepted samples")
    if sizes == {0}:
        return _zero("no eval items")
    return None


# The per-item arrays of ``PairedEval`` the rule reads (the margins are checked apart).
_PER_ITEM = (
    "base_loss",
    "tuned_loss",
    "base_answer_loss",
    "tuned_answer_loss",
    "base_correct",
    "tuned_correct",
    "base_rouge",
    "tuned_rouge",
)


def _reasons(
    components: dict[Component, float], counts: SampleCounts, factors: CountFactors
) -> list[str]:
    """Why the score is what it is, from the components the rule computed."""
    reasons: list[str] = []
    harm = components[Component.GENERAL_PENALTY]
    if harm > 0:
        rose = components[Component.GENERAL_LOSS_INCREASE]
        reasons.append(f"general-text loss rose {rose:.4f} > {GENERAL_TOLERANCE}: -{harm:.4f}")
    if components[Component.WRONG_ANSWER_SHARE] > 0:
        reasons.append(
            f"{counts.wrong_answers} of {counts.accepted} answers fail the validator's check:"
            f" score x {components[Component.ANSWER_CHECK_FACTOR]:.4f}"
        )
    reasons.extend(factors.reasons)
    improvement = components[Component.IMPROVEMENT]
    if improvement <= 0:
        reasons.append(f"no improvement ({improvement:.4f}): floored to 0")
    return reasons


def score_miner(evals: PairedEval, counts: SampleCounts, seed: int) -> MinerScore:
    """Apply the module's rule; ``seed`` drives only the reported bootstrap interval."""
    arrays = {
        name: np.asarray(getattr(evals, name), dtype=np.float64).ravel() for name in _PER_ITEM
    }
    refused = _unpriceable(evals, arrays, counts)
    if refused is not None:
        return refused

    loss = arrays["base_loss"] - arrays["tuned_loss"]
    answer_loss = arrays["base_answer_loss"] - arrays["tuned_answer_loss"]
    accuracy = arrays["tuned_correct"] - arrays["base_correct"]
    rouge = arrays["tuned_rouge"] - arrays["base_rouge"]
    margin = _margin_delta(evals, loss.size)
    if margin is None:
        return _zero("non-finite values in the contrast margins")
    per_item = (
        W_LOSS * loss
        + W_ANSWER_LOSS * answer_loss
        + W_ACCURACY * accuracy
        + W_ROUGE * rouge
        + W_MARGIN * margin
    )
    general_increase = evals.tuned_general_loss - evals.base_general_loss
    harm = W_GENERAL * max(0.0, general_increase - GENERAL_TOLERANCE)
    factors = count_factors(counts)
    wrong_share = min(1.0, counts.wrong_answers / counts.accepted)
    answer_check = (1.0 - wrong_share) ** WRONG_ANSWER_POWER
    improvement = float(per_item.mean()) - harm
    components = {
        Component.LOSS_DELTA: float(loss.mean()),
        Component.ANSWER_LOSS_DELTA: float(answer_loss.mean()),
        Component.ACCURACY_DELTA: float(accuracy.mean()),
        Component.ROUGE_DELTA: float(rouge.mean()),
        Component.MARGIN_DELTA: float(margin.mean()),
        Component.GENERAL_LOSS_INCREASE: float(general_increase),
        Component.GENERAL_PENALTY: harm,
        Component.WRONG_ANSWER_SHARE: wrong_share,
        Component.ANSWER_CHECK_FACTOR: answer_check,
        Component.IMPROVEMENT: improvement,
        **factors.components(),
    }
    reasons = _reasons(components, counts, factors)
    score = max(0.0, improvement) * factors.factor * answer_check
    # What the model alone would pay: the score without the answer check's factor. Reported
    # beside every score (the local network checks sloppy data by it too); never scored.
    components[Component.MODEL_ONLY_SCORE] = max(0.0, improvement) * factors.factor
    if not math.isfinite(score):  # cannot happen with finite inputs; never emit one
        return _zero("non-finite score", components)
    ci = paired_bootstrap_ci(per_item, seed=seed)
    return MinerScore(score, components, ci, reasons)
