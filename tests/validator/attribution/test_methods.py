from __future__ import annotations

import copy
import math
import random
import string
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

from tests.support.byte_tokenizer import PAD_ID, VOCAB_SIZE, ByteTokenizer
from validator.attribution.methods import METHODS, attribute, decode_pieces, token_attribution
from validator.model.recipe import PROMPT_SUFFIX, TrainRecipe, collate, encode_pair, format_prompt
from validator.model.tiny import build_tiny, tiny_config
from validator.model.train import lora_adapter

PROMPT = "Reverse the list: 55 98 93 77"
COMPLETION = "Read from the end: 77, 93, 98, 55.\nAnswer: 77 93 98 55"


# Torch at one thread (tests/conftest.py): two shared cores, no spinning against other jobs.
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def byte_random() -> tuple[Any, Any]:
    """The embedded architecture over a byte tokenizer at its fixed init: one token per byte,
    so positions in these tests are byte offsets."""
    return build_tiny(VOCAB_SIZE).requires_grad_(False), ByteTokenizer()


def _state(model: Any) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("method", METHODS)
def test_one_finite_score_per_prompt_token_in_order(
    byte_random: tuple[Any, Any], method: str
) -> None:
    model, tok = byte_random
    pairs = token_attribution(model, tok, PROMPT, COMPLETION, method)  # type: ignore[arg-type]
    assert len(pairs) == len(tok.encode(PROMPT)) == len(PROMPT)  # bytes; bos and "\n" apart
    assert "".join(t for t, _ in pairs) == PROMPT
    assert all(math.isfinite(s) for _, s in pairs)
    assert len({s for _, s in pairs}) > len(pairs) // 2  # real per-token values, not a constant


def test_non_ascii_prompt_joins_back_with_one_score_per_byte(byte_random: tuple[Any, Any]) -> None:
    model, tok = byte_random
    prompt = "héllo ☃ 😀 <s>"
    result = attribute(model, tok, prompt, "x")
    assert len(result.tokens) == len(prompt.encode("utf-8"))
    assert "".join(result.tokens) == prompt
    assert result.tokens[1:3] == ["", "é"]  # a two-byte character goes to its last byte
    assert not any(result.special)  # "<s>" typed as text is three bytes, not the bos id
    assert result.separator_score is not None and math.isfinite(result.separator_score)


@pytest.mark.parametrize("method", METHODS)
def test_weights_grads_and_mode_untouched(byte_random: tuple[Any, Any], method: str) -> None:
    model, tok = byte_random
    before = _state(model)
    model.train()
    try:
        attribute(model, tok, PROMPT, COMPLETION, method)  # type: ignore[arg-type]
        assert model.training  # the caller's mode comes back
    finally:
        model.eval()
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None and not p.requires_grad for p in model.parameters())


def test_gradient_on_a_peft_model_leaves_no_grad_on_the_adapter(
    byte_random: tuple[Any, Any],
) -> None:
    model, tok = byte_random
    recipe = TrainRecipe(steps=1, batch_size=2)
    with lora_adapter(model, tok, [(format_prompt(PROMPT), COMPLETION)] * 2, recipe) as result:
        lora = {n: p for n, p in result.model.named_parameters() if p.requires_grad}
        assert lora  # the adapter's weights do require grad
        before = {n: p.detach().clone() for n, p in lora.items()}
        scores = attribute(result.model, tok, PROMPT, COMPLETION, "gradient").scores
        assert all(p.grad is None for p in lora.values())
        assert all(torch.equal(before[n], p) for n, p in lora.items())
        assert len(scores) == len(PROMPT)


@pytest.mark.parametrize("method", METHODS)
def test_deterministic(byte_random: tuple[Any, Any], method: str) -> None:
    model, tok = byte_random
    runs = [attribute(model, tok, PROMPT, COMPLETION, method) for _ in range(2)]  # type: ignore[arg-type]
    assert runs[0] == runs[1]


def _completion_logprob_from(
    model: Any, ids: list[int], n_prompt: int, embeds: Any = None
) -> float:
    """Independent reference: summed log p of ids[n_prompt:], by cross-entropy."""
    batch = torch.tensor([ids])
    kwargs = {"inputs_embeds": embeds} if embeds is not None else {"input_ids": batch}
    logits = model(**kwargs).logits[0, n_prompt - 1 : -1]
    return -float(F.cross_entropy(logits.double(), batch[0, n_prompt:], reduction="sum"))


def test_occlusion_is_the_drop_when_the_token_is_padded(byte_random: tuple[Any, Any]) -> None:
    model, tok = byte_random
    result = attribute(model, tok, PROMPT, COMPLETION, "occlusion")
    ids, n_prompt, _ = encode_pair(tok, format_prompt(PROMPT), COMPLETION, 256)
    with torch.no_grad():
        original = _completion_logprob_from(model, ids, n_prompt)
        assert result.completion_logprob == pytest.approx(original, abs=1e-4)
        for i in (1, 7, len(PROMPT)):  # first, middle, last prompt byte (position 0 is bos)
            occluded = [*ids[:i], PAD_ID, *ids[i + 1 :]]
            drop = original - _completion_logprob_from(model, occluded, n_prompt)
            assert result.scores[i - 1] == pytest.approx(drop, abs=1e-4)


def test_gradient_x_input_is_the_directional_derivative(byte_random: tuple[Any, Any]) -> None:
    model64 = copy.deepcopy(byte_random[0]).double()
    tok = byte_random[1]
    result = attribute(model64, tok, PROMPT, COMPLETION, "gradient")
    ids, n_prompt, _ = encode_pair(tok, format_prompt(PROMPT), COMPLETION, 256)
    # Llama's RMSNorm computes in float32 even in a float64 model: a step of 1% keeps that
    # rounding (~1e-5 nats on a ~300-nat log-prob) far below the derivative being checked.
    eps = 1e-2
    with torch.no_grad():
        base = model64.get_input_embeddings()(torch.tensor([ids]))
        for i in (1, 12, len(PROMPT)):
            up, down = base.clone(), base.clone()
            up[0, i] *= 1 + eps
            down[0, i] *= 1 - eps
            derivative = (
                _completion_logprob_from(model64, ids, n_prompt, up)
                - _completion_logprob_from(model64, ids, n_prompt, down)
            ) / (2 * eps)  # d/dt log p(e_i * t) at t = 1, which is <grad, e_i>
            assert result.scores[i - 1] == pytest.approx(derivative, rel=2e-3, abs=1e-4)


def test_completion_is_cut_never_the_prompt(byte_random: tuple[Any, Any]) -> None:
    model, tok = byte_random
    result = attribute(model, tok, PROMPT, COMPLETION * 4, max_seq_len=64)
    n_prompt = 1 + len(PROMPT) + len(PROMPT_SUFFIX)
    assert result.truncated and result.completion_tokens == 64 - n_prompt
    assert "".join(result.tokens) == PROMPT
    with pytest.raises(ValueError, match="leave room"):
        attribute(model, tok, "x" * 62, COMPLETION, max_seq_len=64)
    with pytest.raises(ValueError, match="unknown attribution method"):
        attribute(model, tok, PROMPT, COMPLETION, "saliency")  # type: ignore[arg-type]


def test_empty_prompt_and_completion(byte_random: tuple[Any, Any]) -> None:
    model, tok = byte_random
    empty_completion = attribute(model, tok, PROMPT, "")
    assert empty_completion.completion_tokens == 1  # the eos alone
    assert len(empty_completion.scores) == len(PROMPT)
    empty_prompt = attribute(model, tok, "", COMPLETION)
    assert empty_prompt.tokens == [] and empty_prompt.separator_score is not None


def test_occlusion_budget_falls_back_to_gradient(byte_random: tuple[Any, Any]) -> None:
    model, tok = byte_random
    n = len(tok.encode(format_prompt(PROMPT) + COMPLETION)) + 2  # bos + eos
    rows = 1 + len(PROMPT) + 1
    assert attribute(model, tok, PROMPT, COMPLETION, occlusion_budget=rows * n).method == (
        "occlusion"
    )
    fallback = attribute(model, tok, PROMPT, COMPLETION, occlusion_budget=rows * n - 1)
    assert fallback == attribute(model, tok, PROMPT, COMPLETION, "gradient")


def _hf_pair() -> tuple[Any, Any]:
    """A real HF fast tokenizer (byte-level BPE, no bos, eos as pad) and a model to match."""
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator([PROMPT, COMPLETION, "the quick brown fox"] * 10, trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|endoftext|>", pad_token="<|endoftext|>"
    )
    torch.manual_seed(0)
    config = tiny_config(len(tok))
    config.bos_token_id = None
    model = LlamaForCausalLM(config).eval()
    return model.requires_grad_(False), tok


@pytest.mark.parametrize("method", METHODS)
def test_hf_tokenizer_without_bos(method: str) -> None:
    model, tok = _hf_pair()
    prompt = "Reverse the list: 55 <|endoftext|> héllo ☃"
    result = attribute(model, tok, prompt, COMPLETION, method)  # type: ignore[arg-type]
    ids = tok.encode(prompt, add_special_tokens=False)
    assert len(result.tokens) == len(ids) < len(prompt)  # merges: fewer tokens than characters
    assert "".join(result.tokens) == prompt
    assert result.special == [i == tok.eos_token_id for i in ids] and any(result.special)
    assert all(math.isfinite(s) for s in result.scores)


def test_decode_pieces_join_back_for_both_tokenizers() -> None:
    text = "a☃\n😀b"
    byte_tok = ByteTokenizer()
    assert "".join(decode_pieces(byte_tok, byte_tok.encode(text))) == text
    _, hf_tok = _hf_pair()
    assert "".join(decode_pieces(hf_tok, hf_tok.encode(text, add_special_tokens=False))) == text


# The copy task: the completion is one letter of the prompt, at a fixed position among filler.
LETTER_AT = 7  # "abcd X=" is 7 bytes: the letter is byte 7 of every prompt
# Full-parameter steps: after 120 the held-out completion log-prob is > -0.07 (40 prompts,
# measured); after 80 some letters still sat near -1.8.
COPY_STEPS = 120
COPY_LR = 1e-3  # AdamW on the whole ~1.2M-parameter byte model; 3e-3 is noisier for the same steps
COPY_BATCH = 16
# Not "X": the marker's own X would be a second copy of the answer, and occluding one of two
# copies rightly costs little (measured: that case is the only one occlusion got wrong).
LETTERS = string.ascii_uppercase.replace("X", "")


def _copy_item(rng: random.Random) -> tuple[str, str]:
    filler = ["".join(rng.choice(string.ascii_lowercase) for _ in range(4)) for _ in range(2)]
    letter = rng.choice(LETTERS)
    return f"{filler[0]} X={letter} {filler[1]}", letter


@pytest.fixture(scope="module")
def copy_model() -> Any:
    """tiny-random trained, all parameters, until it copies the letter (seeded; ~9 s CPU)."""
    tok = ByteTokenizer()
    rng = random.Random(0)
    torch.manual_seed(0)
    model = build_tiny(VOCAB_SIZE)
    opt = torch.optim.AdamW(model.parameters(), lr=COPY_LR)
    model.train()
    for _ in range(COPY_STEPS):
        rows = [
            encode_pair(tok, format_prompt(p), c, 64)[:2]
            for p, c in (_copy_item(rng) for _ in range(COPY_BATCH))
        ]
        ids, mask, labels = collate(rows, PAD_ID)
        model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return model.eval().requires_grad_(False)


def test_the_copied_letter_gets_the_highest_attribution(copy_model: Any) -> None:
    tok = ByteTokenizer()
    rng = random.Random(99)  # held-out prompts: a different stream from training's
    for _ in range(12):
        prompt, letter = _copy_item(rng)
        result = attribute(copy_model, tok, prompt, letter)
        assert result.completion_logprob > math.log(0.5)  # chance is 1/25: it learned to copy
        assert result.tokens[LETTER_AT] == letter
        best = max(range(len(result.scores)), key=result.scores.__getitem__)
        assert best == LETTER_AT, (prompt, result.scores)
        others = [s for i, s in enumerate(result.scores) if i != LETTER_AT]
        assert result.scores[LETTER_AT] > 0.5 > max(others)  # nats: a clear margin
