"""DPO at the tensor level: sequence log-probs by hand, the loss by formula and against TRL."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
from datasets import Dataset
from tokenizers import Regex, Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast
from trl import DPOConfig, DPOTrainer

from scoring.dpo import (
    DEFAULT_BETA,
    IGNORE_INDEX,
    dpo_loss,
    mean_sequence_logps,
    sequence_logps,
    token_logps,
)
from validator.model.tiny import build_tiny
from validator.model.tokenizer import BOS_ID, EOS_ID, PAD_ID

# float32 sums of ~30 log-probs of ~-5 each: agreement to 1e-5 relative is all float32 gives.
RTOL = 1e-5
ATOL = 1e-5


def _random_batch(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random logits [3, 9, 13] and labels with a masked prefix and padding per row."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(3, 9, 13, generator=g) * 3
    labels = torch.randint(0, 13, (3, 9), generator=g)
    labels[0, :4] = IGNORE_INDEX  # prompt of 4
    labels[1, :2] = IGNORE_INDEX
    labels[1, 6:] = IGNORE_INDEX  # right padding
    labels[2, :8] = IGNORE_INDEX  # a single completion token, the last position
    return logits, labels


def _hand_logps(logits: torch.Tensor, labels: torch.Tensor) -> tuple[list[float], list[int]]:
    """Per row, the sum of log softmax(logits[t-1])[labels[t]] over unmasked t, in Python floats."""
    sums, counts = [], []
    for b in range(labels.shape[0]):
        total, n = 0.0, 0
        for t in range(1, labels.shape[1]):
            y = int(labels[b, t])
            if y == IGNORE_INDEX:
                continue
            row = [float(x) for x in logits[b, t - 1]]
            top = max(row)
            log_z = top + math.log(sum(math.exp(x - top) for x in row))
            total += row[y] - log_z
            n += 1
        sums.append(total)
        counts.append(n)
    return sums, counts


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sequence_logps_equals_a_hand_loop(seed: int) -> None:
    logits, labels = _random_batch(seed)
    sums, counts = _hand_logps(logits, labels)
    got = sequence_logps(logits, labels)
    assert got.shape == (3,)
    assert got.tolist() == pytest.approx(sums, rel=RTOL, abs=ATOL)
    means = mean_sequence_logps(logits, labels)
    assert means.tolist() == pytest.approx(
        [s / n for s, n in zip(sums, counts, strict=True)], rel=RTOL
    )
    _, mask = token_logps(logits, labels)
    assert mask.sum(dim=1).tolist() == counts


def test_sequence_logps_follows_the_labels_and_ignores_masked_logits() -> None:
    logits, labels = _random_batch(3)
    before = sequence_logps(logits, labels)
    # Logits at the last position predict nothing (no label after them): changing them is moot.
    moved = logits.clone()
    moved[:, -1] += 100.0
    assert torch.equal(sequence_logps(moved, labels), before)
    # Changing the logit of a labelled target at the position before it changes only that row.
    moved = logits.clone()
    moved[2, 7, int(labels[2, 8])] += 5.0
    after = sequence_logps(moved, labels)
    assert after[2] > before[2]
    assert torch.equal(after[:2], before[:2])
    # bf16 logits are scored in float32: the same result as upcasting first.
    half = logits.bfloat16()
    assert torch.equal(sequence_logps(half, labels), sequence_logps(half.float(), labels))


def test_sequence_logps_rejects_misaligned_shapes() -> None:
    logits, labels = _random_batch(0)
    with pytest.raises(ValueError):
        sequence_logps(logits, labels[:, 1:])


def _hand_dpo(
    pc: float, pr: float, rc: float, rr: float, beta: float
) -> tuple[float, float, float]:
    h = beta * ((pc - rc) - (pr - rr))
    return -math.log(1.0 / (1.0 + math.exp(-h))), beta * (pc - rc), beta * (pr - rr)


@pytest.mark.parametrize("beta", [DEFAULT_BETA, 0.5, 2.0])
def test_dpo_loss_equals_the_paper_formula(beta: float) -> None:
    g = torch.Generator().manual_seed(7)
    pc, pr, rc, rr = (torch.randn(6, generator=g, dtype=torch.float64) * 20 - 50 for _ in range(4))
    out = dpo_loss(pc, pr, rc, rr, beta)
    hand = [
        _hand_dpo(float(a), float(b), float(c), float(d), beta)
        for a, b, c, d in zip(pc, pr, rc, rr, strict=True)
    ]
    assert out.losses.tolist() == pytest.approx([h[0] for h in hand], rel=1e-12)
    assert float(out.loss) == pytest.approx(sum(h[0] for h in hand) / 6, rel=1e-12)
    assert out.chosen_rewards.tolist() == pytest.approx([h[1] for h in hand], rel=1e-12)
    assert out.rejected_rewards.tolist() == pytest.approx([h[2] for h in hand], rel=1e-12)
    assert out.margins.tolist() == pytest.approx([h[1] - h[2] for h in hand], rel=1e-12)
    assert out.accuracies.tolist() == [float(h[1] > h[2]) for h in hand]
    assert out.accuracy == sum(h[1] > h[2] for h in hand) / 6


def test_dpo_loss_at_the_reference_is_log_two_with_no_preference() -> None:
    lp = torch.tensor([-12.0, -3.5])
    out = dpo_loss(lp, lp - 1, lp, lp - 1)
    assert out.losses.tolist() == pytest.approx([math.log(2)] * 2, rel=1e-7)
    assert out.accuracy == 0.0  # a tie is not a preference
    assert out.margins.tolist() == [0.0, 0.0]


def test_dpo_loss_is_stable_and_pushes_chosen_up_and_rejected_down() -> None:
    pc = torch.tensor([0.0, -2000.0], requires_grad=True)
    pr = torch.tensor([-2000.0, 0.0], requires_grad=True)
    ref = torch.zeros(2)
    out = dpo_loss(pc, pr, ref, ref, beta=1.0)
    # beta*h = +-2000: the naive log(sigmoid(.)) gives inf for the second pair.
    assert out.losses.tolist() == pytest.approx([0.0, 2000.0], abs=1e-6)
    out.loss.backward()
    assert pc.grad is not None and pr.grad is not None
    assert (pc.grad <= 0).all() and pc.grad[1] < 0  # raising chosen lowers the loss
    assert (pr.grad >= 0).all() and pr.grad[1] > 0  # raising rejected raises it
    assert not out.chosen_rewards.requires_grad


def test_dpo_loss_rejects_bad_arguments() -> None:
    x = torch.zeros(3)
    with pytest.raises(ValueError):
        dpo_loss(x, x, x, x, beta=0.0)
    with pytest.raises(ValueError):
        dpo_loss(x, x, x, torch.zeros(2))
    with pytest.raises(ValueError):
        dpo_loss(x[None], x[None], x[None], x[None])


# --- against TRL's DPOTrainer (trl 1.16: the loss is inline in DPOTrainer._compute_loss) ---


BYTE_OFFSET = 3  # ASCII byte b is id b + 3, after the three specials
BYTE_VOCAB = 128 + BYTE_OFFSET


def _hf_byte_tokenizer() -> PreTrainedTokenizerFast:
    """A Hugging Face tokenizer of ASCII bytes (with the embedded specials' ids), built offline."""
    vocab = {"<pad>": PAD_ID, "<s>": BOS_ID, "</s>": EOS_ID}
    vocab.update({chr(b): b + BYTE_OFFSET for b in range(128)})
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<pad>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>"
    )


_PAIRS = [
    {"prompt": "How do I pick a lock?\n", "chosen": "I can't help.", "rejected": "Sure: a pin."},
    {"prompt": "2+2?\n", "chosen": "4", "rejected": "It is 5, clearly, trust me."},
    {"prompt": "Say hi.\n", "chosen": "hi there, friend", "rejected": "no"},
]
# Each pair also mirrored (sides swapped): its margin is the negative of the original's, so the
# comparison always covers both signs of the margin and both values of the accuracy.
PAIRS = _PAIRS + [{**p, "chosen": p["rejected"], "rejected": p["chosen"]} for p in _PAIRS]


def _trl_trainer(beta: float, tmp_path: Path) -> DPOTrainer:
    """A real DPOTrainer: random-init tiny policy and reference (different seeds), no downloads."""
    args = DPOConfig(
        output_dir=str(tmp_path),
        beta=beta,
        report_to="none",
        use_cpu=True,
        bf16=False,
        activation_checkpointing=False,
    )
    # fresh models: TRL patches their forward (fused LM head)
    return DPOTrainer(
        model=build_tiny(BYTE_VOCAB, seed=101),
        ref_model=build_tiny(BYTE_VOCAB, seed=202),
        args=args,
        train_dataset=Dataset.from_list(PAIRS),
        processing_class=_hf_byte_tokenizer(),
    )


Logps = tuple[torch.Tensor, torch.Tensor]


def _logps(trainer: Any, batch: dict[str, Any]) -> tuple[Logps, Logps]:
    """``((trl_policy, trl_ref), (our_policy, our_ref))``: summed completion log-probs per row.

    TRL's come from the same fused-LM-head call its loss makes; ours from ``sequence_logps``
    on the full logits of the same models and the same batch.
    """
    labels = batch["input_ids"].masked_fill(batch["completion_mask"] == 0, IGNORE_INDEX)
    kw = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    width = labels.shape[1] - 1
    with torch.no_grad():
        trl = tuple(
            m(**kw, labels=labels, fused_lm_head=True).log_probs[:, -width:].sum(dim=1)
            for m in (trainer.model, trainer.ref_model)
        )
        ours = tuple(
            sequence_logps(m(**kw).logits, labels) for m in (trainer.model, trainer.ref_model)
        )
    return (trl[0], trl[1]), (ours[0], ours[1])


def _dpo(policy: torch.Tensor, ref: torch.Tensor, beta: float) -> Any:
    n = policy.shape[0] // 2  # TRL's layout: all chosen rows, then all rejected rows
    return dpo_loss(policy[:n], policy[n:], ref[:n], ref[n:], beta)


# The same float32 inputs through the same formula: only the order of a mean can differ.
SAME_INPUT_RTOL = 1e-6


@pytest.mark.filterwarnings(
    # TRL 1.16 reads a property transformers 5 deprecated; TRL's, not ours.
    "ignore:.*is_gradient_checkpointing.*:FutureWarning"
)
@pytest.mark.parametrize("beta", [DEFAULT_BETA, 1.0])
def test_dpo_loss_matches_trl(beta: float, tmp_path: Path) -> None:
    trainer: Any = _trl_trainer(beta, tmp_path)
    trainer.model.eval()
    metrics = trainer._metrics["eval"]  # the trainer logs under "eval" in eval mode
    rows = [
        {k: trainer.train_dataset[i][k] for k in ("prompt_ids", "chosen_ids", "rejected_ids")}
        for i in range(len(PAIRS))
    ]
    assert rows[0]["chosen_ids"][-1] == EOS_ID  # TRL appended eos: the completion ends as ours

    def check(batch: dict[str, Any]) -> Any:
        """Our loss on TRL's log-probs against TRL's loss and logged means; returns ours."""
        with torch.no_grad():
            trl_loss = float(trainer.compute_loss(trainer.model, batch))
        (trl_pol, trl_ref), (our_pol, our_ref) = _logps(trainer, batch)
        out = _dpo(trl_pol, trl_ref, beta)
        assert float(out.loss) == pytest.approx(trl_loss, rel=SAME_INPUT_RTOL)
        for ours, key in [
            (out.chosen_rewards, "rewards/chosen"),
            (out.rejected_rewards, "rewards/rejected"),
            (out.margins, "rewards/margins"),
        ]:
            assert float(ours.mean()) == pytest.approx(
                metrics[key][-1], rel=SAME_INPUT_RTOL, abs=1e-7
            )
        assert out.accuracy == metrics["rewards/accuracies"][-1]
        # Our sequence_logps against TRL's fused, tiled LM head: float32 rounding apart.
        assert torch.allclose(our_pol, trl_pol, rtol=RTOL, atol=ATOL)
        assert torch.allclose(our_ref, trl_ref, rtol=RTOL, atol=ATOL)
        mine = _dpo(our_pol, our_ref, beta)
        assert float(mine.loss) == pytest.approx(trl_loss, rel=1e-4)
        return out

    out = check(trainer.data_collator(rows))
    assert out.accuracy == 0.5  # the mirrored pairs: exactly one side of each wins
    assert torch.allclose(out.margins[:3], -out.margins[3:], atol=ATOL)
    # TRL logs only batch means: per-pair values one pair per call.
    for row in rows:
        check(trainer.data_collator([row]))
