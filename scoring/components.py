"""The names of a score's components: every number a ``MinerScore`` reports beside its score.

One enum for every competition, so a producer (``scoring/score.py``,
``scoring/preference_score.py``, the stages) and a reader (reports, plots, the local
network's report, benchmarks) name a component the same way. Members are ``StrEnum``: they
are stored as their value in JSON and Redis, and a record loaded back (keys as plain strings)
is read with the member itself (``record.components[Component.IMPROVEMENT]``).
"""

from __future__ import annotations

from enum import StrEnum


class Component(StrEnum):
    """One named component of a score (its value: the JSON key)."""

    # Every competition: the rule's number before the floor, and the count factors.
    IMPROVEMENT = "improvement"
    ACCEPTED_SHARE = "accepted_share"
    JUNK_FACTOR = "junk_factor"
    VOLUME_FACTOR = "volume_factor"
    GENERAL_LOSS_INCREASE = "general_loss_increase"
    GENERAL_PENALTY = "general_penalty"
    # CoT (scoring/score.py): mean per-item deltas, tuned minus base (losses: base minus tuned).
    LOSS_DELTA = "loss_delta"
    ANSWER_LOSS_DELTA = "answer_loss_delta"
    ACCURACY_DELTA = "accuracy_delta"
    ROUGE_DELTA = "rouge_delta"
    MARGIN_DELTA = "margin_delta"
    WRONG_ANSWER_SHARE = "wrong_answer_share"
    ANSWER_CHECK_FACTOR = "answer_check_factor"
    MODEL_ONLY_SCORE = "model_only_score"  # the score without the answer check's factor
    # CoT, the tuned model's own numbers (validator/stages/cot_validate.py), for reports.
    TUNED_ACCURACY = "tuned_accuracy"
    TUNED_ANSWER_LOSS = "tuned_answer_loss"
    TUNED_COMPLETION_LOSS = "tuned_completion_loss"
    TUNED_ROUGE_L = "tuned_rouge_l"
    # Preference (scoring/preference_score.py).
    PREF_ACCURACY_DELTA = "pref_accuracy_delta"
    TUNED_PREF_ACCURACY = "tuned_pref_accuracy"
    REWARD_MARGIN = "reward_margin"
    # pref-v4: the lesser of the harmful and the benign pairs' mean margins beyond chance
    MARGIN_COUNTED = "margin_counted"
    HARMFUL_PAIR_MARGIN = "harmful_pair_margin"  # mean clipped margin, harmful held-out pairs
    BENIGN_PAIR_MARGIN = "benign_pair_margin"  # the same over the benign ones
    REFUSAL_DELTA = "refusal_delta"
    REFUSAL_COUNTED = "refusal_counted"  # the change beyond chance, scored since pref-v2
    TUNED_REFUSAL_RATE = "tuned_refusal_rate"
    COMPLIANCE_DELTA = "compliance_delta"
    COMPLIANCE_COUNTED = "compliance_counted"
    TUNED_COMPLIANCE_RATE = "tuned_compliance_rate"
    OVER_REFUSAL_PENALTY = "over_refusal_penalty"
    # Preference, the last DPO step (validator/stages/preference.py).
    DPO_FINAL_REWARD_MARGIN = "dpo_final_reward_margin"
    DPO_FINAL_ACCURACY = "dpo_final_accuracy"
