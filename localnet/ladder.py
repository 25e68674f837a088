"""The quality ladder: five miners whose data differ only in quality, scored by the real rule.

Each rung serves the same prompts (``GeneratorSource`` with one seed) degraded to its quality
(``tasks/quality.py``): correct worked solutions; correct answers with scrambled reasoning;
plausible but wrong answers; fluent off-topic text; near-empty samples. One ladder round draws
a validator's private eval set from its secret, evaluates the base once, then trains and
measures each rung exactly as a round does (``validator/measure.py``, ``validator/scorer.py``).

Pull, signing, dedup and the contamination gate are left out on purpose: the rungs are all
distinct, uncontaminated data that those steps pass whole (they have their own tests and the
attack catalogue). The answer check is applied, as a round's screening does: it is part of
how the score sees quality.

"Signed" is the score before its floor at 0: the floor makes every bad rung earn exactly 0
(right for weights), which leaves nothing to order them by; the signed value says how bad.
It is ``improvement x junk x volume - (1 - answer check) x ANSWER_CHECK_CHARGE``. In the
score the answer check is a multiplier that overrides any improvement (all-wrong data earns 0
however much the model gained); in the signed order it must override too, so its share is
charged at more than any improvement the recipe can produce. As a multiplier here it would
erase what the model measured (0 x anything), tying wrong answers with off-topic text; as a
charge, failing the check ranks below measured harm, and the model's evidence still orders
the rungs that fail it. A rung whose every sample is invalid (near-empty) is rejected before
anything is measured: its signed value is -inf, below any rung that had something to measure.

Used by ``bench/bench_ladder.py`` (5 data seeds, two eval secrets, a repeat) and by
``tests/localnet/test_ladder.py`` (one seed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scipy.stats import kendalltau, spearmanr

from miner.sources import GeneratorSource
from protocol.schemas import Competition, CotSample
from scoring.score import SampleCounts
from tasks.quality import Quality
from tasks.solve import answer_is_wrong, empty_reason
from validator.eval_pool import EvalPool
from validator.eval_set import general_texts
from validator.measure import train_and_measure
from validator.model.evaluate import evaluate
from validator.model.recipe import DEFAULT_RECIPE, TrainRecipe
from validator.scorer import rouge_of, score_cot

RUNGS: tuple[Quality, ...] = tuple(Quality)  # best first, as the enum lists them

# The signed order's charge for the answer check's share, in score units: above the largest
# |improvement| measured on any rung (off-topic text, -6.4 nats over 8 data seeds on the
# embedded base), so failing the validator's check always ranks below measured harm.
ANSWER_CHECK_CHARGE = 10.0


@dataclass(frozen=True)
class RungResult:
    """One rung's outcome in one ladder round."""

    quality: Quality
    score: float  # the round's score (floored at 0)
    signed: float  # improvement x junk x volume - (1 - check) x charge; -inf when all invalid
    components: dict[str, float]


def rung_samples(data_seed: str, quality: Quality, round_id: str, count: int) -> list[CotSample]:
    """The samples a ladder miner of ``quality`` serves: same prompts on every rung."""
    source = GeneratorSource(data_seed, quality)
    return [
        s for s in source.samples(Competition.COT_SFT, count, round_id) if isinstance(s, CotSample)
    ]


def ladder_round(
    model: Any,
    tokenizer: Any,
    secret: str,
    round_id: str,
    data_seed: str,
    samples_per_miner: int = 64,
    eval_items: int = 64,
    recipe: TrainRecipe = DEFAULT_RECIPE,
) -> list[RungResult]:
    """Score every rung on the eval set ``secret`` draws for ``round_id``; best rung first."""
    items = list(EvalPool(secret).draw(round_id, eval_items).items)
    texts = general_texts()
    base = evaluate(model, tokenizer, items, texts)
    base_rouge = rouge_of(base)
    out: list[RungResult] = []
    for quality in RUNGS:
        served = rung_samples(data_seed, quality, round_id, samples_per_miner)
        samples = [s for s in served if empty_reason(s.chain_of_thought, s.final_answer) is None]
        if not samples:  # all invalid: a round rejects the miner before measuring anything
            out.append(RungResult(quality, 0.0, -math.inf, {"invalid": float(len(served))}))
            continue
        wrong = sum(answer_is_wrong(s.prompt, s.final_answer) for s in samples)
        measured = train_and_measure(model, tokenizer, recipe, samples, items, texts)
        counts = SampleCounts(
            offered=len(served),
            invalid=len(served) - len(samples),
            accepted=len(samples),
            wrong_answers=wrong,
            requested=samples_per_miner,
        )
        result = score_cot(base, measured.tuned, base_rouge, counts, seed=0)
        c = result.components
        check = c["answer_check_factor"]
        gained = c["improvement"] * c["junk_factor"] * c["volume_factor"]
        signed = gained - (1 - check) * ANSWER_CHECK_CHARGE
        out.append(RungResult(quality, result.score, signed, dict(c)))
    return out


def spearman_to_ladder(values: Sequence[float]) -> float:
    """Spearman's rho between ``values`` (best rung first) and the ladder's true order.

    The true order gives the best rung the highest rank, so a score that orders the rungs
    perfectly gives 1.0; ties (e.g. several rungs floored to 0) count as tied ranks.
    """
    truth = list(range(len(values), 0, -1))
    if len(set(values)) == 1:  # every rung scored alike: no order at all, not "undefined"
        return 0.0
    return float(spearmanr(truth, list(values)).statistic)


def kendall_between(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b between two validators' scores of the same rungs (agreement on order)."""
    if len(set(a)) == 1 or len(set(b)) == 1:  # a validator that orders nothing agrees with none
        return 0.0
    return float(kendalltau(list(a), list(b)).statistic)
