"""The quality ladder: seven miners whose data differ only in quality, scored by the real rule.

Each rung serves the same tasks (``GeneratorSource`` with one seed) at its quality
(``tasks/quality.py``): correct worked solutions in the registry's phrasings; the same in an
outsider's phrasings; right answers with scrambled reasoning; self-consistent wrong answers,
in the registry's phrasings and in an outsider's; fluent off-topic text; near-empty samples.
One ladder round draws a validator's private eval set from its secret, evaluates the base
once, then scores each rung through ``validate_and_score`` exactly as a round does.

Two columns per rung: the answer check off (the model alone sets the price) and on (as a
round runs). ``improvement`` is the rule's number before its floor, nothing added to it; for
the near-empty rung, which a round rejects before training, it is measured by training on
what was served anyway, so that the model, not a constant, places it.

Pull, signing, dedup and the contamination gate are left out on purpose: the rungs are all
distinct, uncontaminated data that those steps pass whole (they have their own tests and the
attack catalogue).

Used by ``bench/bench_ladder.py`` (5 + 5 data seeds, two eval secrets, a repeat) and by
``tests/bench/test_ladder.py`` (one seed).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from scipy.stats import kendalltau, spearmanr

from miner.sources import GeneratorSource
from protocol.schemas import Competition, CotSample
from scoring.components import Component
from tasks.quality import Quality
from tasks.registry import TaskItem
from validator.evalsets.cot import EVAL_SIZE
from validator.evalsets.pool import EvalPool
from validator.model.recipe import DEFAULT_RECIPE, TrainRecipe
from validator.stages.cot_validate import evaluate_base, score_cot, validate_and_score

RUNGS: tuple[Quality, ...] = tuple(Quality)  # the two correct rungs first
CORRECT_RUNGS = (Quality.CORRECT, Quality.CORRECT_OTHER_WORDS)
# The expected order of the flawed rungs, most useful first (docs/SCORING.md, "The ladder"):
# wrong answers keep the task's format and most of its steps (one misread value), so they
# unteach the least; scrambled reasoning keeps the right answers but teaches the model to
# babble before them; off-topic text teaches nothing of the task; near-empty data teaches
# the model to answer nothing at all.
FLAWED_ORDER = (
    Quality.WRONG_OTHER_WORDS,
    Quality.WRONG,
    Quality.SCRAMBLED,
    Quality.OFF_TOPIC,
    Quality.EMPTY,
)


@dataclass(frozen=True)
class RungResult:
    """One rung's outcome in one ladder round."""

    quality: Quality
    improvement: float  # the rule's number before its floor: what the model measured
    score_model_only: float  # the round's score with the answer check off
    score_checked: float  # the round's score with the answer check on
    components: dict[str, float]
    # Lower end of the paired bootstrap 95% interval of the per-item improvement (the check
    # on, as a round reports it); NaN when the round scored the rung without an interval.
    ci_low: float = float("nan")


def rung_samples(data_seed: str, quality: Quality, round_id: str, count: int) -> list[CotSample]:
    """The samples a ladder miner of ``quality`` serves: the same tasks on every rung."""
    source = GeneratorSource(data_seed, quality)
    return [
        s for s in source.samples(Competition.COT_SFT, count, round_id) if isinstance(s, CotSample)
    ]


# Validator A's secret: the one eval set per seed the single-validator benches measure on.
SECRET_A = "ladder-validator-a"
SECRET_B = "ladder-validator-b"  # two validators: different secrets, different eval sets
SAMPLES_PER_MINER = 64  # what a round asks of each miner


def parse_seed_range(description: str | None) -> range:
    """``--seeds N --first-seed S`` (default 5 from 0): the data seeds a ladder bench runs."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=0)
    args = ap.parse_args()
    return range(args.first_seed, args.first_seed + args.seeds)


def seed_eval_items(seed: int, secret: str = SECRET_A) -> list[TaskItem]:
    """The eval set ``secret``'s validator draws in ladder round ``seed``."""
    return list(EvalPool(secret).draw(f"ladder-{seed}", EVAL_SIZE).items)


def seed_samples(seed: int, quality: Quality) -> list[CotSample]:
    """What the ladder miner of ``quality`` serves in ladder round ``seed``."""
    return rung_samples(f"ladder-data-{seed}", quality, f"ladder-{seed}", SAMPLES_PER_MINER)


def ladder_round(
    model: Any,
    tokenizer: Any,
    secret: str,
    round_id: str,
    data_seed: str,
    samples_per_miner: int = SAMPLES_PER_MINER,
    eval_items: int = EVAL_SIZE,
    recipe: TrainRecipe = DEFAULT_RECIPE,
) -> list[RungResult]:
    """Score every rung on the eval set ``secret`` draws for ``round_id``, in ``RUNGS`` order."""
    items = list(EvalPool(secret).draw(round_id, eval_items).items)
    base = evaluate_base(model, tokenizer, items)
    out: list[RungResult] = []
    for quality in RUNGS:
        served = rung_samples(data_seed, quality, round_id, samples_per_miner)
        checked = validate_and_score(
            model, tokenizer, served, items, recipe, base=base, requested=samples_per_miner
        )
        if checked.measured is None:  # a round rejects it whole; measure the model anyway
            raw = validate_and_score(
                model,
                tokenizer,
                served,
                items,
                recipe,
                base=base,
                answer_check=False,
                screen_empty=False,
                requested=samples_per_miner,
            )
            components = raw.score.components
            model_only = 0.0
        else:
            unchecked = replace(checked.counts, wrong_answers=0)
            off = score_cot(base.result, checked.measured.tuned, base.rouge, unchecked, seed=0)
            components = off.components
            model_only = off.score
        out.append(
            RungResult(
                quality,
                components[Component.IMPROVEMENT],
                model_only,
                checked.score.score,
                {
                    **{name.value: value for name, value in components.items()},
                    Component.WRONG_ANSWER_SHARE.value: checked.score.components.get(
                        Component.WRONG_ANSWER_SHARE, 0.0
                    ),
                },
                checked.score.ci[1] if checked.score.ci is not None else float("nan"),
            )
        )
    return out


def model_only_targets(
    improvement: Mapping[Quality, float], factor: Mapping[Quality, float] | None = None
) -> tuple[bool, bool, bool]:
    """Issue 10's model-only targets for one seed's rungs, the answer check off.

    (other words >= 50% of correct, wrong <= 5% of correct, both correct rungs above every
    flawed rung).
    ``improvement`` is the rule's number per rung; ``factor`` the junk and volume factors
    (1 where absent). A round rejects the near-empty rung whole, so it is paid nothing.
    """
    paid = {
        q: 0.0 if q is Quality.EMPTY else max(0.0, v) * (factor or {}).get(q, 1.0)
        for q, v in improvement.items()
    }
    correct = paid[Quality.CORRECT]
    other = correct > 0 and paid[Quality.CORRECT_OTHER_WORDS] >= 0.5 * correct
    wrong = correct > 0 and all(
        paid[q] <= 0.05 * correct for q in (Quality.WRONG, Quality.WRONG_OTHER_WORDS)
    )
    lowest_right = min(improvement[q] for q in CORRECT_RUNGS)
    return other, wrong, all(improvement[q] < lowest_right for q in FLAWED_ORDER)


def spearman(values: Sequence[float], truth: Sequence[float]) -> float:
    """Spearman's rho between ``values`` and the expected ``truth`` (higher is better)."""
    if len(set(values)) == 1:  # every rung alike: no order at all, not "undefined"
        return 0.0
    return float(spearmanr(list(truth), list(values)).statistic)


def flawed_rho(results: Sequence[RungResult]) -> float:
    """Spearman's rho of the flawed rungs' improvements against ``FLAWED_ORDER``."""
    by = {r.quality: r.improvement for r in results}
    return spearman([by[q] for q in FLAWED_ORDER], list(range(len(FLAWED_ORDER), 0, -1)))


def kendall_between(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b between two validators' numbers for the same rungs (agreement on order)."""
    if len(set(a)) == 1 or len(set(b)) == 1:  # a validator that orders nothing agrees with none
        return 0.0
    return float(kendalltau(list(a), list(b)).statistic)
