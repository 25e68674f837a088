"""The embedded base's architecture: a 3.3M-parameter Llama over byte tokens, at a fixed init.

Kept apart from loading (``base.py``) and pretraining (``pretrain.py``): both build the same
model, and neither should import the other.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from validator.model.tokenizer import BOS_ID, EOS_ID, PAD_ID, VOCAB_SIZE

# Llama-style shape at ~3.3M parameters: big enough to learn the task families' skills in a
# CPU pretraining of minutes (docs/SCORING.md, "The base"), small enough that a LoRA step on
# CPU stays < 0.5 s.
TINY_CONFIG: dict[str, Any] = {
    "vocab_size": VOCAB_SIZE,  # bytes + pad/bos/eos
    "hidden_size": 256,  # 8 heads of 32: the smallest head size that still attends usefully
    "intermediate_size": 688,  # ~8/3 * hidden, rounded to a multiple of 16, as Llama does
    "num_hidden_layers": 4,  # enough depth for copy-and-carry patterns in the tasks
    "num_attention_heads": 8,
    "num_key_value_heads": 8,  # plain multi-head attention: GQA saves nothing at this size
    "max_position_embeddings": 512,  # twice the recipe's max_seq_len, room for generation
    "tie_word_embeddings": False,  # separate output head: LoRA targets stay the same as big models
    "pad_token_id": PAD_ID,
    "bos_token_id": BOS_ID,
    "eos_token_id": EOS_ID,
}
TINY_INIT_SEED = 1234  # fixed init: every validator's tiny base starts from the same weights


def build_tiny(seed: int = TINY_INIT_SEED) -> LlamaForCausalLM:
    """The tiny Llama at a fixed random init (float32, eval mode)."""
    torch.manual_seed(seed)
    model = LlamaForCausalLM(LlamaConfig(**TINY_CONFIG))
    return model.eval()
