"""``validate_and_score``: a miner's CoT samples in, its score with reasons out.

The one public function for what the network prices, used by the round
(``validator/round.py``, after dedup and the contamination gate) and by the quality ladder
(``bench/ladder.py``) alike::

    from validator.model.base import load_base
    from validator.evalsets.cot import draw_eval_set
    from validator.stages.cot_validate import validate_and_score

    model, tokenizer = load_base("tiny")
    items = draw_eval_set("my-secret", "round-1").items
    scored = validate_and_score(model, tokenizer, samples, items)
    print(scored.score.score, scored.score.reasons)

Steps: validate each sample (the wire schema; near-empty samples are invalid), count the
answers the validator's own check finds wrong (``answer_check=False`` leaves the price to the
model alone), train a fresh LoRA adapter on the valid samples under the fixed ``recipe``,
evaluate base and tuned on ``eval_items`` with identical layouts, and apply the score rule
(``scoring/score.py``). The base evaluation can be passed in (``base=``): a round evaluates
the base once, not once per miner.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from statistics import fmean
from typing import Any

from pydantic import ValidationError

from protocol.schemas import CotSample
from scoring.components import Component
from scoring.rouge import rouge_l_f1_many
from scoring.score import MinerScore, PairedEval, SampleCounts, score_miner
from tasks.registry import TaskItem
from tasks.solve import answer_is_wrong, empty_reason
from validator.executor.jobs import Measured, train_and_measure
from validator.model.evaluate import EvalResult, evaluate
from validator.model.general_text import GUARD_TEXTS
from validator.model.recipe import DEFAULT_RECIPE, TrainRecipe


def rouge_of(result: EvalResult) -> list[float]:
    """Per item, ROUGE-L F1 of the generated final answer against the reference answer."""
    return list(rouge_l_f1_many(result.references, result.answers))


def paired(base: EvalResult, tuned: EvalResult, base_rouge: list[float]) -> PairedEval:
    """The per-item arrays of base vs tuned on one eval set."""
    return PairedEval(
        base_loss=base.completion_loss,
        tuned_loss=tuned.completion_loss,
        base_answer_loss=base.answer_loss,
        tuned_answer_loss=tuned.answer_loss,
        base_correct=base.correct,
        tuned_correct=tuned.correct,
        base_rouge=base_rouge,
        tuned_rouge=rouge_of(tuned),
        base_general_loss=fmean(base.general_loss) if base.general_loss else 0.0,
        tuned_general_loss=fmean(tuned.general_loss) if tuned.general_loss else 0.0,
        base_margin=base.contrast_margin,
        tuned_margin=tuned.contrast_margin,
    )


def score_cot(
    base: EvalResult,
    tuned: EvalResult,
    base_rouge: list[float],
    counts: SampleCounts,
    seed: int,
) -> MinerScore:
    """The CoT competition's score, with the tuned model's absolute numbers added for reports."""
    evals = paired(base, tuned, base_rouge)
    score = score_miner(evals, counts, seed)
    score.components.update(
        {
            Component.TUNED_ACCURACY: tuned.accuracy(),
            Component.TUNED_ANSWER_LOSS: fmean(tuned.answer_loss) if tuned.answer_loss else 0.0,
            Component.TUNED_COMPLETION_LOSS: fmean(tuned.completion_loss)
            if tuned.completion_loss
            else 0.0,
            Component.TUNED_ROUGE_L: fmean(evals.tuned_rouge) if len(evals.tuned_rouge) else 0.0,
        }
    )
    return score


@dataclass(frozen=True)
class BaseEval:
    """The base model's numbers on an eval set: computed once, shared by every miner."""

    result: EvalResult
    rouge: list[float]


def evaluate_base(
    model: Any,
    tokenizer: Any,
    eval_items: Sequence[TaskItem],
    general_texts: Sequence[str] = GUARD_TEXTS,
) -> BaseEval:
    """Evaluate the base (no adapter) on ``eval_items`` and the guard texts."""
    result = evaluate(model, tokenizer, eval_items, general_texts)
    return BaseEval(result, rouge_of(result))


@dataclass
class Scored:
    """A miner's score, the counts it was computed from, and the measurement behind it."""

    score: MinerScore
    counts: SampleCounts
    measured: Measured | None  # None when nothing was trained (no valid sample)
    reasons: list[str] = field(default_factory=list)  # per-sample drops, before the rule's


def _as_sample(raw: CotSample | Mapping[str, Any]) -> CotSample:
    return raw if isinstance(raw, CotSample) else CotSample.model_validate(raw)


def validate_and_score(
    model: Any,
    tokenizer: Any,
    samples: Sequence[CotSample | Mapping[str, Any]],
    eval_items: Sequence[TaskItem],
    recipe: TrainRecipe = DEFAULT_RECIPE,
    *,
    base: BaseEval | None = None,
    general_texts: Sequence[str] = GUARD_TEXTS,
    answer_check: bool = True,
    screen_empty: bool = True,
    prior: SampleCounts | None = None,
    requested: int = 0,
    seed: int = 0,
) -> Scored:
    """Score ``samples`` by what they do to ``model`` on ``eval_items`` (module docstring).

    ``prior`` carries what screening already removed (offered, duplicates, invalid,
    contaminated); ``requested`` is how many samples the validator asked for (0: no volume
    factor). ``seed`` drives only the reported bootstrap interval. ``answer_check=False`` and
    ``screen_empty=False`` leave the price to the model alone (the ladder's model-only column):
    no sample is charged as wrong, and near-empty samples are trained on like any other.
    """
    prepared = prepare_samples(
        samples,
        answer_check=answer_check,
        screen_empty=screen_empty,
        prior=prior,
        requested=requested,
    )
    if base is None:
        base = evaluate_base(model, tokenizer, eval_items, general_texts)
    measured = None
    if prepared.valid and eval_items:  # no eval item: nothing to measure, so nothing to train
        measured = train_and_measure(
            model, tokenizer, recipe, prepared.valid, eval_items, general_texts
        )
    return score_prepared(prepared, base, measured, seed)


@dataclass(frozen=True)
class Prepared:
    """A miner's samples after validation: what is trained on, the counts, the drops' reasons."""

    valid: tuple[CotSample, ...]
    counts: SampleCounts
    reasons: tuple[str, ...]


def prepare_samples(
    samples: Sequence[CotSample | Mapping[str, Any]],
    *,
    answer_check: bool = True,
    screen_empty: bool = True,
    prior: SampleCounts | None = None,
    requested: int = 0,
) -> Prepared:
    """Validate each sample, count wrong answers; the counts the score rule reads."""
    reasons: list[str] = []
    valid: list[CotSample] = []
    invalid = 0
    for i, raw in enumerate(samples):
        try:
            sample = _as_sample(raw)
        except ValidationError as exc:
            invalid += 1
            reasons.append(f"sample {i}: invalid, {_schema_reason(exc)}")
            continue
        why = empty_reason(sample.chain_of_thought, sample.final_answer) if screen_empty else None
        if why is not None:
            invalid += 1
            reasons.append(f"sample {i}: invalid, {why}")
            continue
        valid.append(sample)
    wrong = sum(answer_is_wrong(s.prompt, s.final_answer) for s in valid) if answer_check else 0
    before = prior or SampleCounts(offered=len(samples))
    counts = SampleCounts(
        offered=max(before.offered, len(samples)),
        invalid=before.invalid + invalid,
        duplicates=before.duplicates,
        contaminated=before.contaminated,
        contamination_allowance=before.contamination_allowance,
        wrong_answers=wrong,
        accepted=len(valid),
        requested=requested,
    )
    return Prepared(tuple(valid), counts, tuple(reasons))


def _schema_reason(exc: ValidationError) -> str:
    """The first schema error with the field it is about, and how many more there are."""
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"])
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where + ': ' if where else ''}{first['msg']}{more}"


def score_prepared(
    prepared: Prepared, base: BaseEval, measured: Measured | None, seed: int
) -> Scored:
    """The score of prepared samples from the base's and the tuned model's measurements.

    ``measured`` is None when nothing was trained (no valid sample): the tuned model is the
    base, and the rule gives the reasons.
    """
    tuned = base.result if measured is None else measured.tuned
    score = score_cot(base.result, tuned, base.rouge, prepared.counts, seed)
    return Scored(score, prepared.counts, measured, list(prepared.reasons))
