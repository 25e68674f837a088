"""The round record: what a validator did in one round and why each miner scored what it did.

Written as ``summary.json`` into the round directory, applied to the Redis leaderboard, served
by the REST API. Plain dataclasses with ``to_dict``/``from_dict`` so every consumer reads one
shape; ``RECORD_VERSION`` changes when a field changes meaning.

A round's scores are explainable only with everything that defined them: per competition,
the held-out set (its hash; the set itself is published in ``eval_set.json``), the eval, the
training recipe, the score rule and, for preference, the refusal judge. ``RoundRecord.
competitions`` holds those per competition, and says which competitions were switched off.

Compatibility: ``round-record/1`` records (no ``competitions``) still load; their top-level
``eval_set_sha256``, ``eval_version``, ``scoring_version`` and ``recipe_version`` describe
the CoT part, and nothing records the preference part's versions. From ``round-record/2`` the
top-level fields still describe CoT (empty strings when CoT was switched off).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any

from protocol.schemas import Competition

# /2: ``competitions`` added; the top-level CoT fields may be empty (CoT switched off).
# /3: ``eval_commitment`` and ``commitments_block``; per miner ``manifest_root``,
# ``commit_block`` and ``unproven``. /4: per miner ``contamination_allowance`` (matches within
# it are dropped, not zeroed: scoring/chance.py). /5: per competition ``gate_window`` (the
# published sets the CoT gate checked besides the round's own, so an audit re-derives its
# verdicts and chance allowance). /6: ``base_model``, ``network`` and ``netuid`` (what an audit
# must load and read: a round on a GPU node's base, on finney, is not re-scored on the tiny
# base against the embedded chain).
RECORD_VERSION = "round-record/6"


class MinerStatus(StrEnum):
    """How a miner's round ended (stored as its value: "scored", "failed", ...)."""

    SCORED = "scored"  # trained, measured and scored (the score may still be 0)
    FAILED = "failed"  # no usable response: unreachable, refused, malformed, too large, late
    # More samples matched the held-out pool than chance explains, or one held a canary's
    # tag: zero, nothing trained.
    CONTAMINATED = "contaminated"
    EMPTY = "empty"  # a response, but no sample survived screening


@dataclass
class MinerRoundRecord:
    """One miner's round: what it offered, what survived, what it scored, why."""

    uid: int
    hotkey: str
    competition: Competition
    status: MinerStatus
    error: str | None = None
    offered: int = 0
    accepted: int = 0
    invalid: int = 0
    duplicates: int = 0
    contaminated: int = 0  # samples matching the eval pool (never trained on)
    contamination_allowance: int = 0  # the most of those chance explains (more: zeroed)
    wrong_answers: int = 0  # task-family prompts whose answer failed the validator's check
    unproven: int = 0  # served samples whose manifest proof failed (dropped before screening)
    score: float = 0.0  # this round's score, >= 0
    ema: float = 0.0  # the uid's moving score after this round
    weight: float = 0.0  # its share of the weights set after this round
    components: dict[str, float] = field(default_factory=dict)  # loss_delta, accuracy_delta, ...
    ci_low: float = 0.0  # bootstrap CI of the main improvement signal
    ci_high: float = 0.0
    reasons: list[str] = field(default_factory=list)
    train_losses: list[float] = field(default_factory=list)  # per LoRA step
    timings_s: dict[str, float] = field(default_factory=dict)  # pull, train, eval
    manifest_root: str | None = None  # the root the response was proved against
    commit_block: int | None = None  # block of the miner's manifest commitment (dedup order)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MinerRoundRecord:
        """Inverse of ``to_dict``."""
        data = dict(data)
        data["competition"] = Competition(data["competition"])
        data["status"] = MinerStatus(data["status"])
        return cls(**data)


@dataclass
class CompetitionRecord:
    """One competition's part of a round: did it run, and what defined its scores."""

    share: float  # its configured weight share (0: switched off)
    ran: bool
    skipped_reason: str | None = None  # why it did not run
    eval_set_sha256: str | None = None  # the held-out set, published in eval_set.json
    eval_version: str | None = None  # what the held-out set and its measures are
    recipe_version: str | None = None  # the per-miner training recipe
    scoring_version: str | None = None  # the score rule
    judge: str | None = None  # preference: the refusal judge ("rule" or the model's name)
    # CoT: torch intra-op threads per training job (None: the process default). CPU float
    # reductions depend on it: a re-run matches bit for bit only at the same count.
    torch_threads: int | None = None
    # Preference: tokens generated per held-out answer (what the judge reads; re-runs need it).
    max_new_tokens: int | None = None
    # CoT: round id -> sha256 of each published set in the contamination gate's pool besides
    # this round's own, oldest first (None before round-record/5). Every one is public, so an
    # auditor rebuilds the gate's index and re-derives each miner's verdicts and allowance.
    gate_window: dict[str, str] | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompetitionRecord:
        """Inverse of ``asdict``."""
        return cls(**data)


@dataclass
class EvalCommitmentRecord:
    """What the validator committed on chain before pulling (validator/eval_commitment.py)."""

    digest: str  # sha256 hex of the canonical set hashes || salt
    salt: str  # hex; published with the sets after the round
    eval_sets: dict[str, str]  # competition value -> the held-out set's sha256
    block: int | None = None  # where the chain included it; None when it was refused
    error: str | None = None  # why the chain refused it

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalCommitmentRecord:
        """Inverse of ``asdict``."""
        return cls(**data)


@dataclass
class RoundRecord:
    """One validator round."""

    round_id: str
    validator_hotkey: str
    started_at: float  # unix seconds
    finished_at: float
    block: int
    eval_set_sha256: str
    eval_version: str
    scoring_version: str
    recipe_version: str
    seeds: dict[str, int | str]
    base_metrics: dict[str, float]  # the base model's eval numbers this round
    miners: list[MinerRoundRecord]
    weights: dict[int, float]  # uid -> normalised weight after this round
    weights_set: bool  # whether the chain accepted them this round
    weights_error: str | None = None
    record_version: str = RECORD_VERSION
    # Competition -> its part of the round (absent from round-record/1 records: see above).
    competitions: dict[Competition, CompetitionRecord] = field(default_factory=dict)
    # The held-out sets committed before the pull (absent before round-record/3).
    eval_commitment: EvalCommitmentRecord | None = None
    # Competition value -> the block at which the miners' commitments were read after its pull.
    commitments_block: dict[str, int] = field(default_factory=dict)
    # The validator's ``--model`` (the base every adapter was trained on), ``--subtensor.network``
    # and netuid: an audit loads and reads these (empty and None before round-record/6).
    base_model: str = ""
    network: str = ""
    netuid: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (weight keys become strings, as JSON requires)."""
        data = asdict(self)
        data["weights"] = {str(k): v for k, v in self.weights.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RoundRecord:
        """Inverse of ``to_dict``.

        A key this code does not know (a newer record's) is left out, so an older API or
        auditor still reads a newer validator's records.
        """
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in data.items() if k in known}
        data["miners"] = [MinerRoundRecord.from_dict(m) for m in data["miners"]]
        data["weights"] = {int(k): float(v) for k, v in data["weights"].items()}
        data["competitions"] = {
            Competition(c): CompetitionRecord.from_dict(part)
            for c, part in data.get("competitions", {}).items()
        }
        commitment = data.get("eval_commitment")
        data["eval_commitment"] = (
            EvalCommitmentRecord.from_dict(commitment) if commitment is not None else None
        )
        return cls(**data)
