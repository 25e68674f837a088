"""The base model every miner's adapter is trained on, and the embedded tiny default.

``load_base(None | "tiny", "cpu")`` gives the embedded base: the 3.3M-parameter byte-level
Llama of ``tiny.py``, pretrained by ``pretrain.py`` to partial competence on the task families
(docs/SCORING.md, "The base"). Pretraining costs minutes on two cores, so the checkpoint ships
in the repo (``data/tiny-base.safetensors``) with its sha256 pinned below; a checkpoint that
does not match the pin is refused. Regenerate it with
``python -m validator.model.pretrain --out validator/model/data`` and update the pin.

If the pretraining recipe in the code no longer matches the shipped checkpoint's (someone
changed ``PretrainRecipe`` without regenerating), the base is pretrained on first use and
cached under ``cache_dir`` by the recipe's key, as a development convenience.

``"tiny-random"`` is the un-pretrained model (fast; for unit tests of mechanics only). Any
other name goes to ``AutoModelForCausalLM`` / ``AutoTokenizer`` (bf16 on CUDA): the same
training and evaluation code paths serve both.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

from validator.model.pretrain import DEFAULT_PRETRAIN, PretrainRecipe, pretrain_tiny
from validator.model.tiny import build_tiny
from validator.model.tokenizer import ByteTokenizer

TINY = "tiny"  # the pretrained embedded base (the default)
TINY_RANDOM = "tiny-random"  # the same architecture at its fixed random init

SHIPPED_DIR = Path(__file__).parent / "data"
SHIPPED_WEIGHTS = SHIPPED_DIR / "tiny-base.safetensors"
SHIPPED_META = SHIPPED_DIR / "tiny-base.json"  # recipe key, per-step losses, competence
# sha256 of SHIPPED_WEIGHTS: every validator running the embedded base runs these bytes.
SHIPPED_SHA256 = "b4a8796038987a00de9f1d2819ee73d36cd02e8692b3cfdcfbe140824194e1bb"

# Where a base pretrained from a changed recipe is cached when no cache_dir is given.
CACHE_ENV = "DATACOMP_MODEL_CACHE"
DEFAULT_CACHE = Path.home() / ".cache" / "datacomp-subnet" / "models"


class CheckpointError(RuntimeError):
    """The shipped checkpoint is missing or does not match its pinned hash."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def shipped_meta() -> dict[str, Any]:
    """The shipped checkpoint's record: its recipe key, per-step losses and competence."""
    meta: dict[str, Any] = json.loads(SHIPPED_META.read_text())
    return meta


def _load_shipped(model: LlamaForCausalLM) -> None:
    if not SHIPPED_WEIGHTS.exists():
        raise CheckpointError(
            f"{SHIPPED_WEIGHTS} is missing (regenerate: validator/model/pretrain.py)"
        )
    digest = _sha256(SHIPPED_WEIGHTS)
    if digest != SHIPPED_SHA256:
        raise CheckpointError(
            f"{SHIPPED_WEIGHTS} has sha256 {digest}, the code pins {SHIPPED_SHA256}"
        )
    model.load_state_dict(load_file(str(SHIPPED_WEIGHTS)))


def pretrained_tiny_base(
    cache_dir: str | Path | None = None, recipe: PretrainRecipe = DEFAULT_PRETRAIN
) -> tuple[LlamaForCausalLM, ByteTokenizer]:
    """The pretrained tiny base: the shipped checkpoint when it is ``recipe``'s, else cached.

    A cache file is written through a temp file and ``os.replace``, so a crash mid-write never
    leaves a half checkpoint behind.
    """
    model = build_tiny()
    if SHIPPED_META.exists() and shipped_meta().get("key") == recipe.key():
        _load_shipped(model)
        return _freeze(model.eval()), ByteTokenizer()
    root = Path(cache_dir or os.environ.get(CACHE_ENV) or DEFAULT_CACHE)
    path = root / f"tiny-base-{recipe.key()}.safetensors"
    if path.exists():
        model.load_state_dict(load_file(str(path)))
    else:
        model, _ = pretrain_tiny(recipe)
        root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=root, suffix=".tmp")
        os.close(fd)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, tmp)
        os.replace(tmp, path)
    return _freeze(model.eval()), ByteTokenizer()


def _freeze(model: torch.nn.Module) -> Any:
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def load_base(
    model: str | None = None,
    device: str = "cpu",
    dtype: torch.dtype | None = None,
    cache_dir: str | Path | None = None,
) -> tuple[Any, Any]:
    """``(model, tokenizer)`` for a name: None/"tiny", "tiny-random", or an HF id or path.

    The model comes back frozen (``requires_grad=False``) and in eval mode. ``dtype`` defaults
    to bf16 on CUDA and float32 elsewhere. An HF tokenizer without a pad token gets eos as pad
    (the runner masks padding by attention mask, so the choice never reaches a loss).
    """
    net: Any
    tok: Any
    if dtype is None:
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    if model in (None, TINY):
        net, tok = pretrained_tiny_base(cache_dir)
    elif model == TINY_RANDOM:
        net, tok = _freeze(build_tiny()), ByteTokenizer()
    else:
        tok = AutoTokenizer.from_pretrained(model)
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token
        net = _freeze(AutoModelForCausalLM.from_pretrained(model, dtype=dtype).eval())
    return net.to(device=device, dtype=dtype), tok
