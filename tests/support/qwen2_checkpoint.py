"""A small Qwen2-class checkpoint on disk, built locally: what a GPU node's ``--model PATH`` loads.

The README's GPU validator runs ``--model Qwen/Qwen2.5-0.5B --device cuda``: a Hugging Face
directory whose model is a ``Qwen2ForCausalLM`` and whose tokenizer is Qwen2's byte-level BPE.
Nothing may download in a test, so this builds the same *kind* of checkpoint, small and at a
random init, and saves it with ``save_pretrained`` the way a real one is laid out:

- the tokenizer: a byte-level BPE trained here with the ``tokenizers`` library on text of the
  project's own task families and safety prompts, with Qwen2's pipeline (NFC normaliser, the
  Qwen2 pre-tokenisation regex that splits every digit apart and glues a leading space or
  punctuation mark to a word, byte-level without a prefix space, no offset trimming), its three
  special tokens appended *after* the BPE vocabulary (``<|endoftext|>``, ``<|im_start|>``,
  ``<|im_end|>``), no bos, ``<|endoftext|>`` as both eos and pad, no unk, Qwen2's ChatML chat
  template, and ``tokenizer_class: Qwen2Tokenizer`` in ``tokenizer_config.json``, so that
  ``AutoTokenizer`` loads it through transformers' own Qwen2 class as it does a hub checkpoint;
- the model: ``Qwen2Config`` as Qwen2.5-0.5B has it, shrunk (2 layers, 64 wide, grouped-query
  attention, q/k/v biases, tied embeddings, bos and eos ids both ``<|endoftext|>``, an embedding
  table padded past the tokenizer's length as Qwen pads its vocab), saved in bf16 like the hub
  weights, with a ``generation_config.json`` like Qwen2.5-0.5B's.

It is not competent at anything; it exists so that every part of a round runs through the
path-loading code on a checkpoint that differs from the embedded Llama base everywhere a real
one does (``tests/validator/model/test_load_by_path.py`` names each difference).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import GenerationConfig, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

from tasks.families import generate_many
from tasks.quality import Quality, degrade
from tasks.safety_pairs import generate_pairs
from tasks.safety_prompts import Label, Split
from tasks.safety_prompts import generate as safety_generate
from validator.model.general_text import GUARD_TEXTS
from validator.model.recipe import format_completion, format_prompt

ENDOFTEXT, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
SPECIAL_TOKENS = (ENDOFTEXT, IM_START, IM_END)  # appended after the BPE vocab, as in Qwen2

# transformers' Qwen2Tokenizer.PRETOKENIZE_REGEX, the split Qwen2's tokenizer.json carries.
QWEN2_PRETOKENIZE = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

# The chat template of Qwen2 checkpoints (ChatML, a default system turn).
QWEN2_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

BPE_VOCAB = 1024  # ids of the BPE itself (256 bytes + merges); the specials come after
EMBEDDING_ROWS = 1152  # the model's vocab_size: padded to a multiple of 128 past the tokenizer
MAX_POSITIONS = 1024  # room for the attribution window (512) and recipe rows plus generation
INIT_SEED = 2024
CORPUS_SEED = 13
PAIRS = 80  # the train split holds 45 distinct harmful requests: 40 of them, 40 benign

# Qwen2.5-0.5B's config, shrunk: the field names and the kinds of values are the real ones.
QWEN2_SHAPE: dict[str, Any] = {
    "hidden_size": 64,
    "intermediate_size": 176,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,  # grouped-query attention, as every Qwen2 size has it
    "max_position_embeddings": MAX_POSITIONS,
    "max_window_layers": 2,
    "use_sliding_window": False,
    "rope_theta": 1000000.0,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,  # the small Qwen2 sizes tie the output head to the embeddings
}


def corpus(tasks: int = 1500, safety: int = 120) -> Iterator[str]:
    """Training text for the BPE: task items at several qualities, safety prompts and pairs."""
    rng = random.Random(CORPUS_SEED)
    for i, item in enumerate(generate_many(CORPUS_SEED, tasks)):
        quality = (Quality.CORRECT, Quality.CORRECT_OTHER_WORDS, Quality.WRONG)[i % 3]
        prompt, cot, answer = degrade(item, quality, rng)
        yield format_prompt(prompt) + format_completion(cot, answer)
    for label in Label:
        for request in safety_generate(label, safety, CORPUS_SEED, Split.EVAL):
            yield format_prompt(request.prompt)
    for pair in generate_pairs(PAIRS, CORPUS_SEED):
        yield format_prompt(pair.prompt) + pair.chosen
        yield pair.rejected
    yield from GUARD_TEXTS


def build_tokenizer() -> PreTrainedTokenizerFast:
    """Qwen2's tokenizer pipeline over a BPE learned here (module docstring)."""
    core = Tokenizer(models.BPE())
    core.normalizer = normalizers.NFC()
    core.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PRETOKENIZE), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=BPE_VOCAB,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte: nothing unknown
        show_progress=False,
    )
    core.train_from_iterator(corpus(), trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token=ENDOFTEXT,
        pad_token=ENDOFTEXT,
        additional_special_tokens=[IM_START, IM_END],
        clean_up_tokenization_spaces=False,
        model_max_length=32768,
    )
    tokenizer.chat_template = QWEN2_CHAT_TEMPLATE
    return tokenizer


def build_model(tokenizer: PreTrainedTokenizerFast) -> Qwen2ForCausalLM:
    """The shrunk Qwen2 at a fixed random init."""
    eos = tokenizer.eos_token_id
    assert isinstance(eos, int) and tokenizer.convert_tokens_to_ids(ENDOFTEXT) == eos
    config = Qwen2Config(
        vocab_size=EMBEDDING_ROWS, bos_token_id=eos, eos_token_id=eos, **QWEN2_SHAPE
    )
    torch.manual_seed(INIT_SEED)
    return Qwen2ForCausalLM(config).eval()


def build_checkpoint(directory: Path) -> Path:
    """Write the checkpoint to ``directory`` (created) and return it."""
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer()
    if len(tokenizer) > EMBEDDING_ROWS:
        raise RuntimeError(f"{len(tokenizer)} ids do not fit {EMBEDDING_ROWS} embedding rows")
    model: Any = build_model(tokenizer)  # Any: mypy reads PreTrainedModel.to as a wrapper
    eos = tokenizer.eos_token_id
    model.generation_config = GenerationConfig(
        bos_token_id=eos, eos_token_id=eos, do_sample=False, max_new_tokens=2048
    )
    model.to(dtype=torch.bfloat16).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    config_path = directory / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config.update(tokenizer_class="Qwen2Tokenizer", bos_token=None, unk_token=None)
    config_path.write_text(json.dumps(config, indent=2))
    return directory
