"""``validator/model/base.py``: which dtype a base loads in, by name and device."""

from __future__ import annotations

import pytest
import torch

from validator.model.base import TINY, TINY_RANDOM, default_dtype, load_base


@pytest.mark.parametrize("name", [None, TINY, TINY_RANDOM])
@pytest.mark.parametrize("device", ["cpu", "cuda", "cuda:1"])
def test_the_embedded_bases_stay_float32_on_every_device(name: str | None, device: str) -> None:
    # A CUDA validator scores as a CPU auditor re-scores: the recipe and figures are float32.
    assert default_dtype(name, device) == torch.float32


def test_another_model_is_bf16_on_cuda_and_float32_elsewhere() -> None:
    assert default_dtype("Qwen/Qwen2.5-0.5B", "cuda") == torch.bfloat16
    assert default_dtype("/models/qwen", "cuda:0") == torch.bfloat16
    assert default_dtype("Qwen/Qwen2.5-0.5B", "cpu") == torch.float32


def test_the_tiny_base_loads_frozen_in_eval_mode_and_float32() -> None:
    model, tokenizer = load_base(TINY_RANDOM, "cpu")
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert not any(p.requires_grad for p in model.parameters())
    assert not model.training
    assert tokenizer.pad_token_id is not None
