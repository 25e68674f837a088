"""The base model every miner's adapter is trained on, and the embedded tiny default.

``load_base(None | "tiny", "cpu")`` gives the embedded base: the ~1.4M-parameter Llama of
``tiny.py`` over its own byte-level BPE (``tokenizer.py``), pretrained by ``pretrain.py`` to
partial competence on the task families (docs/SCORING.md, "The base"). Pretraining costs most
of an hour on two cores, so the checkpoint ships in the repo as a Hugging Face model directory
(``data/tiny-base/``: ``config.json``, ``model.safetensors``, the tokenizer files and
``pretrain.json``), with the sha256 of its weights and of its tokenizer pinned below; a
checkpoint that does not match its pins is refused. It loads through
``AutoModelForCausalLM.from_pretrained`` and ``AutoTokenizer.from_pretrained``, the path a GPU
node's ``--model PATH`` takes. Regenerate it with
``python -m validator.model.pretrain --out validator/model/data/tiny-base`` and update the pins.

If the pretraining recipe in the code no longer matches the shipped checkpoint's (someone
changed ``PretrainRecipe`` without regenerating), the base is pretrained on first use and
cached under ``cache_dir`` by the recipe's key, as a development convenience.

``"tiny-random"`` is the same architecture and tokenizer at its fixed random init (fast; for
unit tests of mechanics only). Any other name goes to ``AutoModelForCausalLM`` /
``AutoTokenizer`` (bf16 on CUDA; the embedded two stay float32 everywhere): the same training
and evaluation code paths serve all three.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging as hf_logging

from validator.model.pretrain import (
    DEFAULT_PRETRAIN,
    PRETRAIN_RECORD,
    PretrainRecipe,
    pretrain_tiny,
    save_base,
)
from validator.model.tiny import build_tiny

TINY = "tiny"  # the pretrained embedded base (the default)
TINY_RANDOM = "tiny-random"  # the same architecture at its fixed random init

SHIPPED_DIR = Path(__file__).parent / "data" / "tiny-base"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
# sha256 of the shipped files: every validator running the embedded base runs these bytes.
SHIPPED_SHA256 = {
    WEIGHTS_FILE: "62988dfa846f5b38373c31cebf920d932c5e5e3184cc70938739bad9434429a0",
    TOKENIZER_FILE: "db38d37cb39a8934f6b5eea2cc02c2981433f473fa2e77a7838cd56c9681c1df",
}

# Where a base pretrained from a changed recipe is cached when no cache_dir is given.
CACHE_ENV = "DATACOMP_MODEL_CACHE"
DEFAULT_CACHE = Path.home() / ".cache" / "datacomp-subnet" / "models"


class CheckpointError(RuntimeError):
    """The shipped checkpoint is missing or does not match its pinned hashes."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def shipped_record(directory: Path = SHIPPED_DIR) -> dict[str, Any]:
    """The shipped checkpoint's record: its recipe, key, per-step losses and competence."""
    import json

    record: dict[str, Any] = json.loads((directory / PRETRAIN_RECORD).read_text())
    return record


def verify_shipped(directory: Path = SHIPPED_DIR) -> None:
    """Raise ``CheckpointError`` unless the shipped files exist and match their pins."""
    for name, pin in SHIPPED_SHA256.items():
        path = directory / name
        if not path.exists():
            raise CheckpointError(f"{path} is missing (regenerate: validator/model/pretrain.py)")
        digest = _sha256(path)
        if digest != pin:
            raise CheckpointError(f"{path} has sha256 {digest}, the code pins {pin}")


def _from_dir(source: str | Path, dtype: torch.dtype) -> tuple[Any, Any]:
    """Model and tokenizer of a Hugging Face model id or directory, quietly (no progress bars)."""
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype)
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
    return model, tokenizer


def tiny_base_dir(
    cache_dir: str | Path | None = None, recipe: PretrainRecipe = DEFAULT_PRETRAIN
) -> Path:
    """The directory holding ``recipe``'s base: the shipped one, else a cached pretraining.

    A cache entry is written to a temp directory and renamed into place, so a crash mid-write
    never leaves a half checkpoint behind.
    """
    if (SHIPPED_DIR / PRETRAIN_RECORD).exists() and shipped_record()["key"] == recipe.key():
        verify_shipped()
        return SHIPPED_DIR
    root = Path(cache_dir or os.environ.get(CACHE_ENV) or DEFAULT_CACHE)
    path = root / f"tiny-base-{recipe.key()}"
    if not (path / PRETRAIN_RECORD).exists():
        model, tokenizer, losses = pretrain_tiny(recipe)
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=root, suffix=".tmp"))
        save_base(tmp, model, tokenizer, {"key": recipe.key(), "losses": losses})
        shutil.rmtree(path, ignore_errors=True)
        os.replace(tmp, path)
    return path


def pretrained_tiny_base(
    cache_dir: str | Path | None = None, recipe: PretrainRecipe = DEFAULT_PRETRAIN
) -> tuple[Any, Any]:
    """The pretrained tiny base (frozen, eval mode, float32, CPU)."""
    model, tokenizer = _from_dir(tiny_base_dir(cache_dir, recipe), torch.float32)
    return _freeze(model.eval()), tokenizer


def tiny_random_base() -> tuple[Any, Any]:
    """The embedded architecture and the shipped tokenizer at the fixed init (frozen, eval mode)."""
    verify_shipped()
    tokenizer = AutoTokenizer.from_pretrained(SHIPPED_DIR)
    return _freeze(build_tiny(len(tokenizer))), tokenizer


def _freeze(model: torch.nn.Module) -> Any:
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def default_dtype(model: str | None, device: str) -> torch.dtype:
    """``load_base``'s dtype: float32 for the embedded bases, bf16 for others on CUDA."""
    embedded = model in (None, TINY, TINY_RANDOM)
    return torch.bfloat16 if device.startswith("cuda") and not embedded else torch.float32


def load_base(
    model: str | None = None,
    device: str = "cpu",
    dtype: torch.dtype | None = None,
    cache_dir: str | Path | None = None,
) -> tuple[Any, Any]:
    """``(model, tokenizer)`` for a name: None/"tiny", "tiny-random", or an HF id or path.

    The model comes back frozen (``requires_grad=False``) and in eval mode. ``dtype`` defaults
    to float32 for the embedded bases on every device (their recipe, score weights and figures
    are float32 ones, and a CUDA validator must score as a CPU auditor re-scores: bf16 moved
    the tiny base's contrast margin by 0.35 nats an item on average) and, for any other model,
    to bf16 on CUDA and float32 elsewhere. An HF tokenizer without a pad token gets eos as pad
    (the runner masks padding by attention mask, so the choice never reaches a loss).
    """
    net: Any
    tok: Any
    if dtype is None:
        dtype = default_dtype(model, device)
    if model in (None, TINY):
        net, tok = pretrained_tiny_base(cache_dir)
    elif model == TINY_RANDOM:
        net, tok = tiny_random_base()
    else:
        net, tok = _from_dir(model, dtype)
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token
        net = _freeze(net.eval())
    return net.to(device=device, dtype=dtype), tok
