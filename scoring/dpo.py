r"""Direct Preference Optimization at the tensor level: sequence log-probs and the DPO loss.

Pure torch, no model code: the validator's DPO step (``validator/model/dpo_train.py``) feeds
these functions logits and log-probs, and the preference eval reads the same quantities.

The loss is the DPO paper's (Rafailov et al. 2023, eq. 7), per pair::

    h    = (log pi_theta(y_w|x) - log pi_ref(y_w|x)) - (log pi_theta(y_l|x) - log pi_ref(y_l|x))
    loss = -log sigmoid(beta * h)

averaged over the batch, with ``F.logsigmoid`` (never ``log(sigmoid(.))``, which underflows to
``-inf`` once ``beta * h`` is below about -88 in float32). The implicit rewards are
``beta * (log pi_theta - log pi_ref)`` of each completion; a pair counts as ranked right when
the chosen reward is strictly above the rejected one. Identical to TRL's ``sigmoid`` loss with
``reverse_kl`` and no label smoothing (tests/scoring/test_dpo.py checks it against TRL 1.16).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

# The DPO paper's and TRL's default. beta scales the implicit reward: at 0.1 a pair's loss
# leaves its log 2 starting value only once the policy moves the chosen-vs-rejected log-ratio
# by ~10 nats, so a handful of steps on a miner's data cannot run the policy far from the base.
DEFAULT_BETA = 0.1
IGNORE_INDEX = -100  # PyTorch cross-entropy's ignore_index; the recipe's masked labels use it


def token_logps(
    logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = IGNORE_INDEX
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(logps, mask)``, both ``[batch, seq-1]``: log-prob of each label token, and its mask.

    HF convention: ``labels`` align with ``input_ids`` (``labels[:, t]`` is token ``t``), and the
    logits at position ``t`` predict token ``t + 1``, so this function does the shift itself:
    ``logps[:, t] = log softmax(logits[:, t])[labels[:, t + 1]]``. Positions whose label is
    ``ignore_index`` (prompt, padding) get log-prob 0 and mask 0. The softmax and the sums run
    in float32 whatever the logits' dtype (bf16 sums of ~100 tokens lose whole nats); the
    rounding already in bf16 logits stays.
    """
    if logits.dim() != 3 or labels.shape != logits.shape[:2]:
        raise ValueError(
            f"logits [batch, seq, vocab] and labels [batch, seq] expected, got "
            f"{tuple(logits.shape)} and {tuple(labels.shape)}"
        )
    targets = labels[:, 1:]
    nll = F.cross_entropy(
        logits[:, :-1].float().transpose(1, 2),
        targets,
        ignore_index=ignore_index,
        reduction="none",
    )
    mask = targets != ignore_index
    return -nll * mask, mask


def sequence_logps(
    logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = IGNORE_INDEX
) -> torch.Tensor:
    """``[batch]``: summed log-probs of the label tokens (completion positions only).

    ``log pi(y|x)`` of DPO: the sum over the tokens whose label is not ``ignore_index``. See
    ``token_logps`` for the label alignment (labels align with input_ids; shifted here).
    """
    logps, _ = token_logps(logits, labels, ignore_index)
    return logps.sum(dim=1)


def mean_sequence_logps(
    logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = IGNORE_INDEX
) -> torch.Tensor:
    """``[batch]``: per-token mean log-prob of the label tokens (NaN for a row with none).

    Length-neutral: used to rank two completions of different lengths by one model alone.
    """
    logps, mask = token_logps(logits, labels, ignore_index)
    return logps.sum(dim=1) / mask.sum(dim=1)


@dataclass(frozen=True)
class DpoOutput:
    """The DPO loss and its per-pair diagnostics (rewards, margins, ranking)."""

    loss: torch.Tensor  # scalar mean over the batch; carries the policy's gradient
    losses: torch.Tensor  # [batch] per-pair loss
    chosen_rewards: torch.Tensor  # [batch] beta * (policy - ref) log-prob of chosen, detached
    rejected_rewards: torch.Tensor  # [batch] the same for rejected, detached
    margins: torch.Tensor  # [batch] chosen_rewards - rejected_rewards
    accuracies: torch.Tensor  # [batch] 1.0 where chosen_reward > rejected_reward, else 0.0

    @property
    def accuracy(self) -> float:
        """Preference accuracy: the fraction of pairs whose chosen reward is above the rejected."""
        return float(self.accuracies.mean())


def dpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    beta: float = DEFAULT_BETA,
) -> DpoOutput:
    """The DPO loss of a batch of pairs from their summed log-probs (all four ``[batch]``).

    ``loss = mean(-logsigmoid(beta * ((pc - rc) - (pr - rr))))``; rewards and margins come
    back detached (they are for logs and scores, not for the gradient). ``beta`` must be > 0.
    """
    if beta <= 0:
        raise ValueError(f"beta must be positive, got {beta}")
    shape = policy_chosen_logps.shape
    others = (policy_rejected_logps, ref_chosen_logps, ref_rejected_logps)
    if len(shape) != 1 or any(t.shape != shape for t in others):
        raise ValueError("the four log-prob tensors must be 1-D and of equal length")
    chosen_logratios = policy_chosen_logps - ref_chosen_logps
    rejected_logratios = policy_rejected_logps - ref_rejected_logps
    losses = -F.logsigmoid(beta * (chosen_logratios - rejected_logratios))
    chosen_rewards = beta * chosen_logratios.detach()
    rejected_rewards = beta * rejected_logratios.detach()
    return DpoOutput(
        loss=losses.mean(),
        losses=losses,
        chosen_rewards=chosen_rewards,
        rejected_rewards=rejected_rewards,
        margins=chosen_rewards - rejected_rewards,
        accuracies=(chosen_rewards > rejected_rewards).float(),
    )
