"""The ``Stage`` interface: one competition's part of a round, in the round's own steps.

Every competition runs the same steps over its own sample type and returns the same record
type, so the round (``validator/round.py``) reads as the list of steps:

1. ``eval_set``: draw this round's private held-out set (secret + round id).
2. pull: the round asks every miner for ``competition``'s samples (signed, one deadline).
3. ``screen``: dedup within and across submissions and against history, the contamination
   gate against this competition's held-out prompts, invalid samples dropped.
4. ``evaluate_base``: the base model, once per round (not once per miner).
5. ``train_and_score``: for the miners that kept samples, a fresh adapter each under the
   fixed recipe, the same measurements, the score rule; written into each miner's
   ``MinerRoundRecord``. All of a round's miners at once, so a stage may spread the model
   work (the CoT stage hands it to an executor: ``validator/executor/``).
6. ``outcome``: what defined the scores (versions, seeds, base metrics) and the published
   held-out set, as one ``StageOutcome``.

A stage object lives for one round (``StageInputs.round_id``): per-round state such as a
judge's cache or the best miner so far stays on it. Adding a competition: one module with a
``Stage`` subclass and one entry in ``validator/stages/registry.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from protocol.schemas import Competition, sample_sha256
from scoring.score import MinerScore, SampleCounts
from validator.manifests import ManifestCheck
from validator.pull import PullResult
from validator.stages.screening import DedupHistory, MinerSubmission, Screened
from validator.store.records import CompetitionRecord, MinerRoundRecord, MinerStatus
from validator.store.run_log import RoundDir

# uid -> its proven samples and commitment block; what the pull hands to ``Stage.screen``.
Submissions = dict[int, MinerSubmission]

EvalSetT = TypeVar("EvalSetT")
BaseT = TypeVar("BaseT")


@dataclass(frozen=True)
class StageInputs:
    """What every stage works with in one round: the base model, the history, sizes, where."""

    round_id: str
    run: RoundDir
    secret: str = field(repr=False)  # the validator's secret: every held-out set derives from it
    model: Any  # a transformers causal LM (any class: the embedded Llama, a Hugging Face model)
    tokenizer: Any  # its tokenizer (a transformers PreTrainedTokenizer)
    history: DedupHistory
    general_texts: tuple[str, ...]
    samples_per_miner: int
    progress: bool = False  # progress bars over a stage's miners


@dataclass
class StageOutcome:
    """One competition's contribution to a round: its records and what defined them."""

    competition: CompetitionRecord
    records: list[MinerRoundRecord] = field(default_factory=list)
    base_metrics: dict[str, float] = field(default_factory=dict)
    seeds: dict[str, int | str] = field(default_factory=dict)
    published: dict[str, Any] = field(default_factory=dict)  # its part of eval_set.json
    # uid -> sha256 of each sample screening kept, in training order (what an audit re-trains).
    kept: dict[int, list[str]] = field(default_factory=dict)


class Stage(ABC, Generic[EvalSetT, BaseT]):
    """One competition's steps of a round (module docstring), for one round."""

    competition: ClassVar[Competition]

    def __init__(self, inputs: StageInputs) -> None:
        self.inputs = inputs

    @abstractmethod
    def eval_set(self) -> EvalSetT:
        """Step 1: this round's private held-out set."""

    @abstractmethod
    def eval_set_sha256(self, eval_set: EvalSetT) -> str:
        """The held-out set's hash: what the validator commits on chain before the pull."""

    @abstractmethod
    def screen(self, submissions: Submissions, eval_set: EvalSetT) -> dict[int, Screened]:
        """Step 3: each responding miner's samples after dedup, the gate and validation."""

    @abstractmethod
    def evaluate_base(self, eval_set: EvalSetT) -> BaseT:
        """Step 4: the base model's measurements, shared by every miner."""

    @abstractmethod
    def train_and_score(
        self,
        pending: Sequence[tuple[MinerRoundRecord, Screened]],
        eval_set: EvalSetT,
        base: BaseT,
    ) -> None:
        """Step 5: train, measure and score each miner; fill its record in place.

        ``pending`` pairs each record with its screened samples (``screened.kept``).
        """

    @abstractmethod
    def outcome(
        self, eval_set: EvalSetT, base: BaseT, records: list[MinerRoundRecord], share: float
    ) -> StageOutcome:
        """Step 6: the records with the versions, seeds and base metrics behind them."""


def price_submissions(
    stage: Stage[EvalSetT, BaseT],
    eval_set: EvalSetT,
    results: Sequence[PullResult],
    share: float,
    checks: Mapping[int, ManifestCheck] | None = None,
) -> StageOutcome:
    """Steps 3-6 over the pulled ``results``: screen, base once, train and score, outcome.

    ``results`` are held to the miners' commitments already (``validator/manifests.py``):
    their samples are the proven ones; ``checks`` says what was dropped and each miner's
    commitment block.
    """
    checks = checks or {}
    submissions: Submissions = {
        r.uid: MinerSubmission(
            r.hotkey, r.response.samples, checks[r.uid].commit_block if r.uid in checks else None
        )
        for r in results
        if r.response is not None
    }
    screened = stage.screen(submissions, eval_set)
    base = stage.evaluate_base(eval_set)
    records: list[MinerRoundRecord] = []
    pending: list[tuple[MinerRoundRecord, Screened]] = []
    for result in results:
        kept = screened.get(result.uid)
        check = checks.get(result.uid, ManifestCheck(result.uid))
        served = len(result.response.samples) + check.unproven if result.response else None
        record, trainable = screened_record(
            result.uid,
            result.hotkey,
            stage.competition,
            result.elapsed_s,
            served,
            result.error,
            kept,
        )
        record.commit_block = check.commit_block
        record.manifest_root = check.manifest_root
        record.unproven = check.unproven
        record.reasons[:0] = check.reasons
        if trainable and kept is not None:
            pending.append((record, kept))
        records.append(record)
    stage.train_and_score(pending, eval_set, base)
    outcome = stage.outcome(eval_set, base, records, share)
    outcome.kept = {uid: [sample_sha256(s) for s in sc.kept] for uid, sc in screened.items()}
    return outcome


def screened_record(
    uid: int,
    hotkey: str,
    competition: Competition,
    pull_s: float,
    offered: int | None,
    error: str | None,
    screened: Screened | None,
) -> tuple[MinerRoundRecord, bool]:
    """A miner's record after pull and screening, and whether it goes on to training.

    ``offered`` is None when the pull gave no usable response (``screened`` is None then too).
    Shared by every competition's round.
    """
    record = MinerRoundRecord(
        uid=uid, hotkey=hotkey, competition=competition, status=MinerStatus.FAILED
    )
    record.timings_s["pull"] = round(pull_s, 4)
    if offered is None or screened is None:
        record.error = error or "no response"
        record.reasons.append(f"no usable response: {record.error}")
        return record, False
    record.offered = offered
    record.accepted = len(screened.kept)
    record.duplicates = screened.duplicates
    record.contaminated = screened.contaminated
    record.contamination_allowance = screened.contamination_allowance
    record.wrong_answers = screened.wrong_answers
    record.invalid = screened.invalid
    record.reasons.extend(screened.reasons)
    if screened.zeroed:
        record.status = MinerStatus.CONTAMINATED
        return record, False
    if not screened.kept:
        record.status = MinerStatus.EMPTY
        record.reasons.append("no sample survived screening")
        return record, False
    return record, True


def screened_counts(record: MinerRoundRecord, requested: int) -> SampleCounts:
    """What screening left of a miner's samples, as every competition's score rule reads it."""
    return SampleCounts(
        offered=record.offered,
        invalid=record.invalid,
        duplicates=record.duplicates,
        contaminated=record.contaminated,
        contamination_allowance=record.contamination_allowance,
        accepted=record.accepted,
        requested=requested,
    )


def apply_score(record: MinerRoundRecord, score: MinerScore) -> None:
    """Write a ``MinerScore`` into ``record``: status, score, components, CI, why."""
    record.status = MinerStatus.SCORED
    record.score = score.score
    record.components = {name.value: value for name, value in score.components.items()}
    if score.ci is not None:
        record.ci_low, record.ci_high = score.ci[1], score.ci[2]
    record.reasons.extend(score.reasons)


def mean(values: Sequence[float]) -> float:
    """The mean, 0.0 for no values (a base metric over an empty set)."""
    return sum(values) / len(values) if values else 0.0
