"""From two ``EvalResult``s (base, tuned) to a ``MinerScore``: the paired arrays, ROUGE-L, counts."""

from __future__ import annotations

from statistics import fmean

from scoring.rouge import rouge_l_f1_many
from scoring.score import MinerScore, PairedEval, SampleCounts, score_miner
from validator.model.evaluate import EvalResult


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
            "tuned_accuracy": tuned.accuracy(),
            "tuned_answer_loss": fmean(tuned.answer_loss) if tuned.answer_loss else 0.0,
            "tuned_completion_loss": fmean(tuned.completion_loss) if tuned.completion_loss else 0.0,
            "tuned_rouge_l": fmean(evals.tuned_rouge) if len(evals.tuned_rouge) else 0.0,  # type: ignore[arg-type]
        }
    )
    return score
