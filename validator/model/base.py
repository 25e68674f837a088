"""The base model every miner's adapter is trained on, and the embedded tiny default.

``load_base(None | "tiny", "cpu")`` gives the embedded base: a 3.3M-parameter Llama built from
a config, briefly pretrained on the project's own task generators plus plain English, cached
on disk under a hash of its recipe. DESIGN.md's measurement is why it is pretrained at all: a
random-init base cannot tell good reasoning from bad, while a few dozen steps of pretraining
make it partially competent, so that good data can still improve it and bad data can hurt it.
``"tiny-random"`` is the un-pretrained model (fast; for unit tests of mechanics only).

Any other name goes to ``AutoModelForCausalLM`` / ``AutoTokenizer`` (bf16 on CUDA): the same
training and evaluation code paths serve both.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

from tasks.families import generate_many
from validator.general_text import PRETRAIN_TEXTS
from validator.model.recipe import collate, encode_pair, format_completion, format_prompt
from validator.model.tokenizer import BOS_ID, EOS_ID, PAD_ID, VOCAB_SIZE, ByteTokenizer

TINY = "tiny"  # the pretrained embedded base (the default)
TINY_RANDOM = "tiny-random"  # the same architecture at its fixed random init

# Llama-style shape at ~3.3M parameters (DESIGN.md's measured size): big enough to learn the
# task formats in a few dozen steps, small enough that a LoRA step on CPU stays < 0.5 s.
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

# Where the pretrained checkpoint is cached when no cache_dir is given.
CACHE_ENV = "DATACOMP_MODEL_CACHE"
DEFAULT_CACHE = Path.home() / ".cache" / "datacomp-subnet" / "models"


@dataclass(frozen=True)
class PretrainRecipe:
    """How the embedded base is pretrained. Any change changes the cache key (and the base)."""

    version: str = "tiny-pretrain/2"  # /2: 80 steps (was 200), see ``steps``
    # A fixed seed far from any eval seed: eval seeds are 64-bit hashes of (secret, round).
    task_seed: int = 0xBA5E_0001
    n_tasks: int = 1600  # more than 200 steps x 8 rows take: no task item is seen twice
    general_every: int = 5  # one row in five is plain English: keeps general text in the model
    # Partially competent, so that good data can still improve it and bad data hurt it. At
    # 200 steps the base had learned the task formats so well that 8 LoRA steps of *correct*
    # data no longer moved its held-out loss beyond noise (the honest rung earned 0 in every
    # data seed tried); at 40 the general-text drift of any SFT swamped the gain. Measured
    # with the quality ladder over 8 data seeds at 80: completion-loss gain of correct data
    # +0.041..+0.065, every rung in order (docs/SCORING.md). Greedy accuracy stays 0: a 3.3M
    # model does not learn 3-digit sums; the answer check carries right vs wrong.
    steps: int = 80
    batch_size: int = 8  # more small steps beat fewer big ones at a fixed CPU budget (~0.2 s each)
    lr: float = 3e-3  # a high rate for a tiny model and a short run; cosine-decayed to 10%
    warmup_steps: int = 10  # 5% warmup keeps the first Adam steps from overshooting
    seed: int = 0  # init is TINY_INIT_SEED; this seeds the row order
    # Loss on task completions only: the prompts are random numbers and words, whose bytes
    # a model cannot predict; spending capacity there slows learning the reasoning.
    mask_prompts: bool = True

    def key(self) -> str:
        """A short hash of this recipe, the model shape and the tokenizer: the cache key."""
        blob = json.dumps(
            [asdict(self), TINY_CONFIG, TINY_INIT_SEED, PRETRAIN_TEXTS], sort_keys=True
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


DEFAULT_PRETRAIN = PretrainRecipe()


def build_tiny(seed: int = TINY_INIT_SEED) -> LlamaForCausalLM:
    """The tiny Llama at a fixed random init (float32, eval mode)."""
    torch.manual_seed(seed)
    model = LlamaForCausalLM(LlamaConfig(**TINY_CONFIG))
    return model.eval()


def _pretrain_rows(recipe: PretrainRecipe, tokenizer: ByteTokenizer) -> list[tuple[list[int], int]]:
    """Correct task items interleaved with plain English, as ``(ids, n_prompt)`` rows."""
    items = generate_many(recipe.task_seed, recipe.n_tasks)
    rows: list[tuple[list[int], int]] = []
    general = 0
    for i, item in enumerate(items):
        if i % recipe.general_every == 0:
            text = PRETRAIN_TEXTS[general % len(PRETRAIN_TEXTS)]
            general += 1
            rows.append(encode_pair(tokenizer, "", text, 256)[:2])
        p, c = (
            format_prompt(item.prompt),
            format_completion(item.chain_of_thought, item.final_answer),
        )
        rows.append(encode_pair(tokenizer, p, c, 256)[:2])
    random.Random(recipe.seed).shuffle(rows)
    return rows


def pretrain_tiny(
    recipe: PretrainRecipe = DEFAULT_PRETRAIN,
) -> tuple[LlamaForCausalLM, list[float]]:
    """Pretrain the tiny model from its fixed init; returns the model and per-step losses.

    Full-parameter AdamW on whole sequences (no prompt masking: this is language modelling),
    deterministic on CPU.
    """
    tokenizer = ByteTokenizer()
    model = build_tiny()
    rows = _pretrain_rows(recipe, tokenizer)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=0.0)

    def lr_at(step: int) -> float:
        if step < recipe.warmup_steps:
            return (step + 1) / recipe.warmup_steps
        progress = (step - recipe.warmup_steps) / max(1, recipe.steps - recipe.warmup_steps)
        return 0.1 + 0.9 * 0.5 * (1 + torch.cos(torch.tensor(progress * torch.pi)).item())

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    losses: list[float] = []
    model.train()
    for step in range(recipe.steps):
        start = (step * recipe.batch_size) % len(rows)
        batch = [rows[(start + j) % len(rows)] for j in range(recipe.batch_size)]
        ids, mask, labels = collate(batch, PAD_ID, mask_prompt=recipe.mask_prompts)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # guards the high lr early on
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss.item()))
    return model.eval(), losses


def pretrained_tiny_base(
    cache_dir: str | Path | None = None, recipe: PretrainRecipe = DEFAULT_PRETRAIN
) -> tuple[LlamaForCausalLM, ByteTokenizer]:
    """The pretrained tiny base: built and cached on first use, loaded from the cache after.

    The cache file is named by ``recipe.key()`` and written through a temp file and
    ``os.replace``, so a crash mid-write never leaves a half checkpoint behind.
    """
    root = Path(cache_dir or os.environ.get(CACHE_ENV) or DEFAULT_CACHE)
    path = root / f"tiny-base-{recipe.key()}.pt"
    model = build_tiny()
    if path.exists():
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    else:
        model, _ = pretrain_tiny(recipe)
        root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=root, suffix=".tmp")
        os.close(fd)
        torch.save(model.state_dict(), tmp)
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
