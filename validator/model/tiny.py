"""The embedded base's architecture: a ~1.4M-parameter Llama over the base's own BPE, at a fixed init.

Kept apart from loading (``base.py``) and pretraining (``pretrain.py``): both build the same
model, and neither should import the other.

The shape was chosen by measurement on 2 CPU cores (docs/SCORING.md, "The base"): at equal
CPU minutes, a 128-wide model took ~2.5x the optimiser steps of a 256-wide one and reached
partial competence sooner (0.22 against 0.02 greedy accuracy at 2,000 steps x 32 rows, the
256-wide model at ~2.6x the seconds per step); depth is nearly free at this width (6 layers
cost ~5% more per step than 4 on this CPU, where small matmuls are overhead-bound) and the
families are multi-step (find the list, read it back, restate the result).
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from validator.model.tokenizer import BOS_ID, EOS_ID, PAD_ID

TINY_SHAPE: dict[str, Any] = {
    "hidden_size": 128,  # 4 heads of 32: a head narrower than 32 attends poorly by content
    "intermediate_size": 336,  # ~8/3 * hidden, rounded to a multiple of 16, as Llama does
    "num_hidden_layers": 6,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,  # plain multi-head attention: GQA saves nothing at this size
    "max_position_embeddings": 512,  # twice the recipe's max_seq_len, room for generation
    "tie_word_embeddings": False,  # separate output head: LoRA targets stay the same as big models
}
TINY_INIT_SEED = 1234  # fixed init: every validator's tiny base starts from the same weights


def tiny_config(vocab_size: int) -> LlamaConfig:
    """The embedded shape over a tokenizer of ``vocab_size`` ids (specials at 0, 1, 2)."""
    return LlamaConfig(
        vocab_size=vocab_size,
        pad_token_id=PAD_ID,
        bos_token_id=BOS_ID,
        eos_token_id=EOS_ID,
        **TINY_SHAPE,
    )


def build_tiny(vocab_size: int, seed: int = TINY_INIT_SEED) -> LlamaForCausalLM:
    """The tiny Llama at a fixed random init (float32, eval mode)."""
    torch.manual_seed(seed)
    model = LlamaForCausalLM(tiny_config(vocab_size))
    return model.eval()
