"""Base vs tuned token attributions on eval items, in the terminal or as an HTML page.

    python -m validator.attribution --model tiny --samples 3 [--adapter DIR] [--html OUT.html]

For each of ``--samples`` eval items (``tasks.families.generate_many(--seed, N)``, formatted as
in training), it shows how much each prompt token drives the log-probability of the reference
completion (``validator.attribution.methods``), once under the base model and once under the
tuned one. "Tuned" is the base with a LoRA adapter: loaded from ``--adapter`` (a directory
written by PEFT's ``save_pretrained``), or, without one, trained here by ``train_lora`` with
the validators' recipe on ``TRAIN_SAMPLES`` correct samples of the task families, so that the
comparison shows what one honest miner's data changes. Colour follows the terminal (plain
text in a pipe); ``--html`` also writes a self-contained page.
"""

from __future__ import annotations

import argparse
import html
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peft import PeftModel

from tasks.families import TaskItem, generate_many
from validator.attribution.methods import METHODS, Attribution, Method, attribute
from validator.attribution.view import html_page, html_tokens, render_terminal, use_colour
from validator.model.base import load_base
from validator.model.recipe import DEFAULT_RECIPE, TrainRecipe, format_completion, format_pair
from validator.model.train import lora_adapter

# Eval items for this view: a fixed seed, away from the tiny base's pretraining seed
# (0xBA5E_0001), whose items the base has already seen.
EVAL_SEED = 0xA77_0001
TRAIN_SEED = 0xA77_0002  # the quick adapter's samples: a different stream from the eval items
TRAIN_SAMPLES = 64  # one typical submission (the recipe's token budget admits ~64 samples)


@dataclass(frozen=True)
class Comparison:
    """One eval item's attributions under the base and the tuned model."""

    item: TaskItem
    base: Attribution
    tuned: Attribution


def _attribute_all(
    model: Any, tokenizer: Any, items: Sequence[TaskItem], method: Method
) -> list[Attribution]:
    return [
        attribute(
            model,
            tokenizer,
            it.prompt,
            format_completion(it.chain_of_thought, it.final_answer),
            method,
        )
        for it in items
    ]


def adapter_dir(path: Path) -> Path:
    """The folder holding ``adapter_config.json``: ``path``, or its one adapter subfolder.

    PEFT saves a named adapter (``train.ADAPTER_NAME`` is "miner") under ``path/<name>/``.
    """
    if (path / "adapter_config.json").exists():
        return path
    found = sorted(p.parent for p in path.glob("*/adapter_config.json"))
    if len(found) != 1:
        raise FileNotFoundError(f"no single PEFT adapter under {path} (found {len(found)})")
    return found[0]


@contextmanager
def tuned_model(
    base: Any, tokenizer: Any, adapter: Path | None, recipe: TrainRecipe = DEFAULT_RECIPE
) -> Iterator[Any]:
    """The base with an adapter active: loaded from ``adapter``, else trained on correct data.

    Either way the adapter is removed on exit and ``base`` is left as it was.
    """
    if adapter is None:
        samples = [format_pair(it) for it in generate_many(TRAIN_SEED, TRAIN_SAMPLES)]
        with lora_adapter(base, tokenizer, samples, recipe) as result:
            yield result.model
        return
    with warnings.catch_warnings():
        # peft 0.21 probes a property transformers 5 deprecated (as in train.py); not ours.
        warnings.filterwarnings(
            "ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning
        )
        model = PeftModel.from_pretrained(base, str(adapter_dir(adapter)))
    try:
        yield model.eval()
    finally:
        model.unload()
        if hasattr(base, "peft_config"):
            del base.peft_config  # a later adapter starts clean


def compare(
    base: Any,
    tokenizer: Any,
    items: Sequence[TaskItem],
    adapter: Path | None = None,
    method: Method = "occlusion",
    recipe: TrainRecipe = DEFAULT_RECIPE,
) -> list[Comparison]:
    """Attributions of ``items`` under ``base``, then under ``base`` with the adapter."""
    before = _attribute_all(base, tokenizer, items, method)
    with tuned_model(base, tokenizer, adapter, recipe) as tuned:
        after = _attribute_all(tuned, tokenizer, items, method)
    return [Comparison(it, b, a) for it, b, a in zip(items, before, after, strict=True)]


def _heading(n: int, c: Comparison) -> str:
    return (
        f"sample {n} ({c.item.family}): completion log-prob "
        f"base {c.base.completion_logprob:.2f} -> tuned {c.tuned.completion_logprob:.2f}"
    )


def terminal_report(rows: Sequence[Comparison], colour: bool) -> str:
    """Per item: a heading, the base view and the tuned view."""
    out = []
    for n, c in enumerate(rows, 1):
        out.append(_heading(n, c))
        for name, a in (("base ", c.base), ("tuned", c.tuned)):
            out.append(f"  {name}: {render_terminal(a.pairs(), a.special, colour)}")
    return "\n".join(out) + "\n"


def html_report(rows: Sequence[Comparison], title: str) -> str:
    """The same, as one self-contained page (the reference completion under each heading)."""
    sections = []
    for n, c in enumerate(rows, 1):
        completion = format_completion(c.item.chain_of_thought, c.item.final_answer)
        body = (
            f'<p class="meta">completion: {html.escape(completion)}</p>'
            f"<h3>base</h3>{html_tokens(c.base.pairs(), c.base.special)}"
            f"<h3>tuned</h3>{html_tokens(c.tuned.pairs(), c.tuned.special)}"
        )
        sections.append((_heading(n, c), body))
    return html_page(title, sections)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, load, compare, print (and write the page)."""
    parser = argparse.ArgumentParser(description="Token attributions, base vs tuned.")
    parser.add_argument("--model", default="tiny", help="tiny, tiny-random, or an HF id/path")
    parser.add_argument("--samples", type=int, default=3, help="eval items to show")
    parser.add_argument("--seed", type=int, default=EVAL_SEED, help="eval item seed")
    parser.add_argument("--adapter", type=Path, help="PEFT adapter dir (default: train one)")
    parser.add_argument("--method", choices=METHODS, default="occlusion")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--html", type=Path, help="also write a self-contained HTML page here")
    args = parser.parse_args(argv)
    if args.samples < 1:
        parser.error("--samples must be at least 1")

    base, tokenizer = load_base(args.model, args.device)
    rows = compare(
        base, tokenizer, generate_many(args.seed, args.samples), args.adapter, args.method
    )
    sys.stdout.write(terminal_report(rows, use_colour(sys.stdout)))
    if args.html:
        title = f"Token attribution ({args.method}): {args.model}, base vs tuned"
        args.html.write_text(html_report(rows, title), encoding="utf-8")
        print(f"wrote {args.html}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
