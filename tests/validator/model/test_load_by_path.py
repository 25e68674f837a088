"""``load_base(PATH)`` on a Qwen2-class checkpoint: what differs from the embedded Llama base.

The GPU validator's ``--model <HF id or path>`` loads through ``AutoModelForCausalLM`` and
``AutoTokenizer``. The embedded base has a bos (``<s>``), a pad of its own (id 0), ids for every
token the model has rows for, and a BPE that glues a leading space to a number. A Qwen2
checkpoint (``tests/support/qwen2_checkpoint.py``, built here at a random init) has none of
that: no bos, ``<|endoftext|>`` as both eos and pad (ids after the BPE vocab), more embedding
rows than tokenizer ids, a chat template, bf16 weights on disk, a pre-tokeniser that splits
every digit apart and glues a space to a word, and a ``generation_config.json``. Each test here
names one of those differences and checks what the recipe, the losses and the generation make
of it.
"""

from __future__ import annotations

import json
import math
import shutil
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from transformers import GenerationConfig, Qwen2ForCausalLM
from transformers.models.qwen2.tokenization_qwen2 import Qwen2Tokenizer

from scoring.dpo import token_logps
from tasks.families import generate_many
from tests.support.qwen2_checkpoint import (
    BPE_VOCAB,
    EMBEDDING_ROWS,
    ENDOFTEXT,
    IM_END,
    IM_START,
    MAX_POSITIONS,
    build_tokenizer,
    corpus,
)
from validator.api.schemas import ATTRIBUTION_MAX_TOKENS
from validator.evalsets.cot import draw_eval_set
from validator.model.base import load_base
from validator.model.evaluate import (
    MAX_NEW_TOKENS,
    _answer_positions,
    _completion_token_losses,
    evaluate,
    forward_pass,
    text_loss,
)
from validator.model.general_text import GUARD_TEXTS
from validator.model.recipe import (
    DEFAULT_RECIPE,
    IGNORE_INDEX,
    collate,
    encode_pair,
    format_completion,
    format_pair,
    format_prompt,
)
from validator.model.train import select_rows

# Generation defaults a checkpoint may ship: Qwen2.5-0.5B-Instruct's generation_config.json
# (sampling on, and a repetition penalty that reshapes greedy decoding too), and the n-gram
# blocking and beam search some others carry.
SHIPPED_GENERATION: dict[str, dict[str, Any]] = {
    "qwen2.5-instruct": {
        "do_sample": True,
        "temperature": 0.7,
        "top_p": 0.8,
        "top_k": 20,
        "repetition_penalty": 1.1,
    },
    "ngram-beams": {"no_repeat_ngram_size": 2, "num_beams": 2},
}


# Torch at one thread (tests/conftest.py): two shared cores, no spinning against other jobs.
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def checkpoint(qwen2_checkpoint: Path) -> Path:
    return qwen2_checkpoint  # built once per session (tests/conftest.py)


@pytest.fixture(scope="module")
def loaded(checkpoint: Path) -> tuple[Any, Any]:
    return load_base(str(checkpoint), "cpu")


def _eos(tok: Any) -> int:
    eos = tok.eos_token_id
    assert isinstance(eos, int)
    return eos


def test_loads_through_the_auto_classes_as_qwen2(checkpoint: Path, loaded: tuple[Any, Any]) -> None:
    model, tok = loaded
    assert isinstance(model, Qwen2ForCausalLM)
    # tokenizer_config.json names Qwen2Tokenizer, as a hub checkpoint does: AutoTokenizer
    # rebuilds Qwen2's own pipeline around the saved vocab and merges, and it is fast (offsets).
    assert isinstance(tok, Qwen2Tokenizer) and tok.is_fast
    built = build_tokenizer()
    for text in [*list(corpus(tasks=30, safety=5))[::7], "é e\u0301 😀 <|im_end|> -12"]:
        assert tok.encode(text, add_special_tokens=False) == built.encode(
            text, add_special_tokens=False
        ), text
    assert not model.training and not any(p.requires_grad for p in model.parameters())


def test_dtype_argument_beats_the_checkpoint_dtype(
    checkpoint: Path, loaded: tuple[Any, Any]
) -> None:
    """The weights are bf16 on disk (as on the hub); ``load_base`` gives what ``dtype`` asks."""
    assert json.loads((checkpoint / "config.json").read_text())["dtype"] == "bfloat16"
    model, tok = loaded
    assert {p.dtype for p in model.parameters()} == {torch.float32}  # the CPU default
    bf16, _ = load_base(str(checkpoint), "cpu", dtype=torch.bfloat16)  # the CUDA default's dtype
    assert {p.dtype for p in bf16.parameters()} == {torch.bfloat16}
    items = list(draw_eval_set("dtype", "r1", 8).items)[:4]
    for net in (model, bf16):
        result = evaluate(net, tok, items, GUARD_TEXTS[:2], max_new_tokens=4)
        numbers = result.completion_loss + result.answer_loss + result.general_loss
        assert all(math.isfinite(x) for x in numbers), numbers


def test_special_tokens_are_qwen2s(loaded: tuple[Any, Any]) -> None:
    model, tok = loaded
    eos = _eos(tok)
    assert tok.bos_token_id is None and tok.unk_token_id is None
    # eos and pad are one token, and it comes after the BPE vocab (the embedded pad is id 0).
    assert tok.convert_tokens_to_ids(ENDOFTEXT) == eos == tok.pad_token_id == BPE_VOCAB
    assert {eos, *tok.convert_tokens_to_ids([IM_START, IM_END])} <= set(tok.all_special_ids)
    # The config names a bos (the eos id, as Qwen2's does) that the tokenizer never adds.
    assert model.config.bos_token_id == model.config.eos_token_id == eos
    # More embedding rows than tokenizer ids: Qwen pads its vocab (151,936 rows, 151,665 ids).
    assert len(tok) == BPE_VOCAB + 3 < model.config.vocab_size == EMBEDDING_ROWS
    assert model.get_input_embeddings().weight.shape[0] == EMBEDDING_ROWS
    # A model can emit an id of the padded rows; it decodes to nothing rather than failing.
    assert tok.decode([len(tok), EMBEDDING_ROWS - 1], skip_special_tokens=True) == ""


def test_a_tokenizer_without_a_pad_gets_eos_as_pad(checkpoint: Path, tmp_path: Path) -> None:
    """As Llama-3's and others ship: no pad. ``load_base`` pads with eos (masked by position)."""
    bare = tmp_path / "no-pad"
    shutil.copytree(checkpoint, bare)
    path = bare / "tokenizer_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "pad_token": None}))
    _, tok = load_base(str(bare), "cpu")
    assert tok.pad_token_id == tok.eos_token_id == BPE_VOCAB


def test_rows_have_no_bos_and_one_eos(loaded: tuple[Any, Any]) -> None:
    """``encode_pair`` (training, losses, DPO) adds nothing at the head and eos once at the end."""
    _, tok = loaded
    eos = _eos(tok)
    items = generate_many(5, 12)
    for item in items:
        prompt, completion = format_pair(item)
        ids, n_prompt, cut = encode_pair(tok, prompt, completion, DEFAULT_RECIPE.max_seq_len)
        p_ids = tok.encode(prompt, add_special_tokens=False)
        c_ids = tok.encode(completion, add_special_tokens=False)
        assert ids == p_ids + c_ids + [eos] and n_prompt == len(p_ids) and not cut
        assert ids.count(eos) == 1
        # The tokenizer itself adds nothing either (Qwen2 has no template post-processor).
        assert tok.encode(prompt) == p_ids
    rows, _, _, _ = select_rows(tok, [format_pair(it) for it in items], DEFAULT_RECIPE)
    assert all(ids[-1] == eos and ids.count(eos) == 1 for ids, _ in rows)


def test_generation_rows_have_no_bos_and_pad_with_eos_under_the_mask(
    loaded: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Left padding by the eos id is masked out; each row starts at its prompt's first token."""
    model, tok = loaded
    eos = _eos(tok)
    prompts = ["Sum of 27 and 56\n", "Arrange ember, zinc, lark alphabetically.\n"]
    seen: dict[str, torch.Tensor] = {}
    generate = model.generate

    def spy(**kwargs: Any) -> Any:
        seen.update(ids=kwargs["input_ids"], mask=kwargs["attention_mask"])
        return generate(**kwargs)

    monkeypatch.setattr(model, "generate", spy)
    forward_pass(model, tok, prompts, max_new_tokens=2)
    for r, prompt in enumerate(prompts):
        expected = tok.encode(prompt, add_special_tokens=False)
        row, mask = seen["ids"][r].tolist(), seen["mask"][r].tolist()
        pad = len(row) - len(expected)
        assert row[pad:] == expected and row[:pad] == [eos] * pad
        assert mask == [0] * pad + [1] * len(expected)
    assert sum(seen["mask"][0].tolist()) != sum(seen["mask"][1].tolist())  # one row was padded


def test_chat_template_is_shipped_but_never_applied(
    checkpoint: Path, loaded: tuple[Any, Any]
) -> None:
    """The recipe's format is raw text; ChatML tokens never reach a row the validator builds."""
    _, tok = loaded
    assert (checkpoint / "chat_template.jinja").exists()
    chat = tok.apply_chat_template(
        [{"role": "user", "content": "add 37 43"}], tokenize=False, add_generation_prompt=True
    )
    assert chat.endswith(f"{IM_START}user\nadd 37 43{IM_END}\n{IM_START}assistant\n")
    chatml = set(tok.convert_tokens_to_ids([IM_START, IM_END]))
    for item in generate_many(6, 8):
        ids, _, _ = encode_pair(tok, *format_pair(item), DEFAULT_RECIPE.max_seq_len)
        assert not chatml & set(ids)
        assert tok.decode(ids, skip_special_tokens=True) == "".join(format_pair(item))


def test_pad_equal_to_eos_keeps_the_real_eos_in_the_loss(loaded: tuple[Any, Any]) -> None:
    """Labels come from positions, not from the pad id: the real eos stays a target."""
    model, tok = loaded
    eos = _eos(tok)
    assert tok.pad_token_id == eos
    items = generate_many(8, 3)
    pairs = [format_pair(it) for it in items]
    rows = [encode_pair(tok, p, c, DEFAULT_RECIPE.max_seq_len)[:2] for p, c in pairs]
    assert len({len(ids) for ids, _ in rows}) > 1  # padding happens
    ids, mask, labels = collate(rows, eos, mask_prompt=True)
    for r, (row, n_prompt) in enumerate(rows):
        n = len(row)
        assert labels[r, n - 1] == eos and mask[r, n - 1] == 1  # the real eos: a target
        assert (ids[r, n:] == eos).all() and (labels[r, n:] == IGNORE_INDEX).all()
        assert (mask[r, n:] == 0).all()
        assert (labels[r, :n_prompt] == IGNORE_INDEX).all()
    # The DPO step's per-token log-probs count every completion token and the eos, no padding.
    _, counted = token_logps(model(input_ids=ids, attention_mask=mask).logits, labels)
    assert counted.sum(1).tolist() == [len(row) - n_prompt for row, n_prompt in rows]
    # The eval's per-token losses: the same in a padded batch as alone, eos loss included.
    batched = _completion_token_losses(model, tok, pairs, DEFAULT_RECIPE.max_seq_len, 3)
    for (p, c), (row, n_prompt), losses in zip(pairs, rows, batched, strict=True):
        [alone] = _completion_token_losses(model, tok, [(p, c)], DEFAULT_RECIPE.max_seq_len, 1)
        assert len(losses) == len(row) - n_prompt
        assert torch.allclose(losses, alone, atol=1e-5)
        logits = model(input_ids=torch.tensor([row])).logits[0].float()
        eos_nll = -F.log_softmax(logits[-2], -1)[eos]
        assert float(losses[-1]) == pytest.approx(float(eos_nll), abs=1e-4)


def test_text_loss_without_a_bos_scores_every_token_after_the_first(
    loaded: tuple[Any, Any],
) -> None:
    """The do-no-harm guard's text loss: no bos means the first token has no context.

    With a bos, ``text_loss`` scores every token of the text. Without one it must score every
    token after the first (and the eos), whatever the batch: it used to slice from position
    -1, so a padded row came out NaN and a full-width row scored its eos alone.
    """
    model, tok = loaded
    eos = _eos(tok)
    texts = list(GUARD_TEXTS[:4])
    batched = text_loss(model, tok, texts)
    for text, loss in zip(texts, batched, strict=True):
        ids = tok.encode(text, add_special_tokens=False) + [eos]
        logits = model(input_ids=torch.tensor([ids])).logits[0].float()
        expected = F.cross_entropy(logits[:-1], torch.tensor(ids[1:]))
        assert math.isfinite(loss) and loss == pytest.approx(float(expected), abs=1e-4), text
        assert text_loss(model, tok, [text]) == pytest.approx([loss], abs=1e-5)


def _check_occurrences(tok: Any, completion: str, answer: str) -> list[tuple[int, int]]:
    """Every occurrence's positions are exactly the tokens overlapping it; ``(start, lo)`` each.

    The tokens' characters cover the answer, and anything they cover beyond it is whitespace
    a merge glued on (Qwen2 glues a leading space to a word). Returns, per occurrence, where
    its first token starts and where the answer starts.
    """
    offsets = tok(completion, add_special_tokens=False, return_offsets_mapping=True)[
        "offset_mapping"
    ]
    occurrences = _answer_positions(tok, completion, answer)
    spans, at = [], completion.find(answer)
    while at >= 0:
        spans.append((at, at + len(answer)))
        at = completion.find(answer, at + len(answer))
    assert len(occurrences) == len(spans) > 0
    starts = []
    for (lo, hi), positions in zip(spans, occurrences, strict=True):
        assert positions == [i for i, (a, b) in enumerate(offsets) if a < hi and b > lo]
        start, end = offsets[positions[0]][0], offsets[positions[-1]][1]
        assert start <= lo and end >= hi
        assert completion[start:lo].strip() == "" and completion[hi:end].strip() == ""
        starts.append((start, lo))
    return starts


def test_answer_positions_follow_a_merge_that_straddles_the_answer(
    loaded: tuple[Any, Any],
) -> None:
    """``Ġember`` begins on the space before the answer: offsets count it, prefix counts miss it."""
    _, tok = loaded
    answer = "ember lark zinc"
    completion = format_completion("By first letters: ember lark zinc.", answer)
    pieces = tok.convert_ids_to_tokens(tok.encode(completion, add_special_tokens=False))
    starts = _check_occurrences(tok, completion, answer)
    assert all(start == lo - 1 for start, lo in starts)  # both occurrences: the space is merged
    occurrences = _answer_positions(tok, completion, answer)
    assert tok.convert_tokens_to_string([pieces[i] for i in occurrences[-1]]) == " " + answer
    # What a tokenizer without offsets would get (token counts of prefixes): the prefix ends in
    # a lone space token, so the count lands one past the merge and misses the answer's head.
    lo = completion.rfind(answer)
    by_count = len(tok.encode(completion[:lo], add_special_tokens=False))
    assert by_count == occurrences[-1][0] + 1


def test_answer_positions_index_the_text_as_given_under_nfc(loaded: tuple[Any, Any]) -> None:
    """Qwen2 normalises to NFC before it splits; offsets still index the text as it was given."""
    _, tok = loaded
    answer = "cafe\u0301 bar"  # a decomposed é: two characters NFC makes one
    completion = format_completion(f"Sorted: {answer}.", answer)
    ids = tok.encode(completion, add_special_tokens=False)
    assert tok.decode(ids) == unicodedata.normalize("NFC", completion) != completion
    starts = _check_occurrences(tok, completion, answer)
    assert all(start == lo - 1 for start, lo in starts)
    # The composed é is two byte tokens, both mapped to the "e"; the combining mark after it
    # belongs to no token, yet both bytes count, since they overlap the answer.
    offsets = tok(completion, add_special_tokens=False, return_offsets_mapping=True)[
        "offset_mapping"
    ]
    accent = completion.rfind("\u0301")
    assert not any(a <= accent < b for a, b in offsets)
    e_bytes = [i for i, span in enumerate(offsets) if span == (accent - 1, accent)]
    assert len(e_bytes) == 2 and set(e_bytes) <= set(_answer_positions(tok, completion, answer)[-1])


def test_answer_positions_over_a_whole_eval_set(loaded: tuple[Any, Any]) -> None:
    _, tok = loaded
    items = draw_eval_set("positions", "r1", 48).items
    straddles = digits = 0
    for item in items:
        completion = format_completion(item.chain_of_thought, item.final_answer)
        starts = _check_occurrences(tok, completion, item.final_answer)
        straddles += sum(start < lo for start, lo in starts)
        digits += item.final_answer.isdigit()
    assert straddles > 0 and digits > 0  # word answers straddle; numbers split into digits
    # Qwen2 gives a number one token per digit (the embedded BPE: one token per 2-digit number).
    number = next(it.final_answer for it in items if it.final_answer.isdigit())
    assert len(tok.encode(number, add_special_tokens=False)) == len(number)


@pytest.mark.parametrize("shipped_name", SHIPPED_GENERATION)
def test_generation_is_greedy_whatever_the_checkpoint_generation_config(
    checkpoint: Path, tmp_path: Path, shipped_name: str
) -> None:
    """An instruct checkpoint's sampling and repetition penalty must not reach the measurement.

    ``generate`` fills every field the caller leaves unset from the checkpoint's
    ``generation_config.json``; ``forward_pass`` is greedy and unpenalised by contract, so the
    same weights answer the same, whichever generation defaults ship beside them.
    """
    instruct = tmp_path / shipped_name
    shutil.copytree(checkpoint, instruct)
    model, tok = load_base(str(checkpoint), "cpu")
    eos = _eos(tok)
    fields = SHIPPED_GENERATION[shipped_name]
    GenerationConfig(
        bos_token_id=eos, pad_token_id=eos, eos_token_id=[eos], **fields
    ).save_pretrained(instruct)
    shipped, _ = load_base(str(instruct), "cpu")
    assert all(getattr(shipped.generation_config, k) == v for k, v in fields.items())
    prompts = [format_prompt(it.prompt) for it in draw_eval_set("gen", "r1", 8).items]
    plain = forward_pass(model, tok, prompts, max_new_tokens=16)
    assert forward_pass(shipped, tok, prompts, max_new_tokens=16) == plain


def test_rows_fit_the_model_positions(loaded: tuple[Any, Any]) -> None:
    """The recipe, not the model, bounds a row; every length the validator builds fits."""
    model, tok = loaded
    assert model.config.max_position_embeddings == MAX_POSITIONS
    assert tok.model_max_length >= MAX_POSITIONS  # the tokenizer never cuts or warns first
    long = "Read from the end: " + " ".join(str(n) for n in range(400))
    ids, _, cut = encode_pair(tok, "Reverse 0 to 399\n", long, DEFAULT_RECIPE.max_seq_len)
    assert cut and len(ids) == DEFAULT_RECIPE.max_seq_len
    longest_prompt = max(
        len(tok.encode(format_prompt(it.prompt), add_special_tokens=False))
        for it in draw_eval_set("positions", "r1", 64).items
    )
    limits = (DEFAULT_RECIPE.max_seq_len, longest_prompt + MAX_NEW_TOKENS, ATTRIBUTION_MAX_TOKENS)
    assert max(limits) <= MAX_POSITIONS
    logits = model(input_ids=torch.tensor([ids])).logits
    assert torch.isfinite(logits).all()
