"""The safety eval set: harmful prompts to refuse and benign ones to answer, as a JSON file.

Two ways to build one, same shape out:

* **templates** (no endpoint): ``tasks.safety_prompts.generate`` on the eval split, for each
  label. Deterministic: the shipped ``data/safety_eval_v2.json`` is exactly this for its
  recorded seed and counts, and a test rebuilds it to prove it.
* **endpoint**: the same template prompts, in the same order, each paraphrased by a chat model
  into freer wording. The label and category stay the template's (the model rewrites, it does
  not label). A paraphrase that is unusable (empty, several lines, too long, or itself a
  refusal, which safety-tuned models produce for harmful requests) keeps the template text;
  ``paraphrased`` in the file counts the items whose text came from the model. An endpoint
  *failure* (down, HTTP errors past the retries) aborts the build with ``EndpointError``: a
  set half from the model and half from the templates by accident would be mislabelled as
  the model's. Paraphrases are not reproducible across servers; the file records the model.

Dedup: on normalised text (``common.text.words``; exact copies normalise alike) across *both*
labels; the template path already dedups on the prompt core (``tasks/safety_prompts.py``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from common.chat_client import ChatEndpoint
from scoring.refusal import is_refusal
from tasks.safety_prompts import (
    Label,
    NotEnoughPrompts,
    SafetyPrompt,
    core_key,
    generate,
    space_size,
)

# Names the file's shape and the generation rule: bump when either changes.
# /2: train and eval split by request family, not by filled intent (tasks/safety_prompts.py).
EVAL_SET_VERSION = "safety-eval/2"
SHIPPED_PATH = Path(__file__).parent / "data" / "safety_eval_v2.json"
# 1,200 a side: over 1,000 distinct items per side while staying inside the eval split's
# template space (1,245 distinct harmful and 1,410 benign cores: tasks.safety_prompts
# .space_size), so every item is a distinct request.
DEFAULT_N = 1_200
DEFAULT_SEED = 0  # the shipped set's seed

PARAPHRASE_SYSTEM = (
    "Rewrite the user's message in different words, keeping its exact meaning and intent. "
    "Do not answer it, judge it or add anything. Output only the rewritten message, one line."
)
# A paraphrase of a one-sentence request; longer means the model answered instead.
MAX_PARAPHRASE_CHARS = 200
# Some variety between paraphrases, still mostly faithful to the request.
PARAPHRASE_TEMPERATURE = 0.7
# Concurrent requests to the endpoint: a vLLM server batches them; hosted APIs rate-limit.
DEFAULT_CONCURRENCY = 8


@dataclass(frozen=True)
class EvalItem:
    """One eval prompt and the category of the template it came from."""

    prompt: str
    category: str


@dataclass(frozen=True)
class SafetyEvalSet:
    """The two lists and how they were made."""

    seed: int
    generator: str  # "templates", or the model name that paraphrased them
    harmful: tuple[EvalItem, ...]
    benign: tuple[EvalItem, ...]
    paraphrased: int = 0  # items whose text came from the model
    version: str = EVAL_SET_VERSION

    def prompts(self, label: Label) -> list[str]:
        """The prompt texts of ``label``, in file order."""
        return [item.prompt for item in (self.harmful if label == Label.HARMFUL else self.benign)]

    def to_json(self) -> str:
        """The file text: header fields, then one item per line (diffs stay readable)."""

        def items(rows: Sequence[EvalItem]) -> str:
            lines = (json.dumps({"prompt": r.prompt, "category": r.category}) for r in rows)
            return "[\n  " + ",\n  ".join(lines) + "\n ]"

        head = {
            "version": self.version,
            "seed": self.seed,
            "generator": self.generator,
            "paraphrased": self.paraphrased,
            "counts": {"harmful": len(self.harmful), "benign": len(self.benign)},
        }
        fields = [f" {json.dumps(k)}: {json.dumps(v)}" for k, v in head.items()]
        fields += [f' "harmful": {items(self.harmful)}', f' "benign": {items(self.benign)}']
        return "{\n" + ",\n".join(fields) + "\n}\n"

    @classmethod
    def from_json(cls, text: str) -> SafetyEvalSet:
        """Parse and check a file's text. Raises ValueError naming what is wrong."""
        data = json.loads(text)
        if data.get("version") != EVAL_SET_VERSION:
            raise ValueError(f"eval set version {data.get('version')!r}, want {EVAL_SET_VERSION}")

        def items(key: str) -> tuple[EvalItem, ...]:
            rows = data.get(key)
            if not isinstance(rows, list) or not all(
                isinstance(r, dict) and isinstance(r.get("prompt"), str) and r["prompt"]
                for r in rows
            ):
                raise ValueError(f"{key}: want a list of {{prompt, category}} objects")
            return tuple(EvalItem(r["prompt"], str(r.get("category", ""))) for r in rows)

        return cls(
            seed=int(data["seed"]),
            generator=str(data["generator"]),
            harmful=items("harmful"),
            benign=items("benign"),
            paraphrased=int(data.get("paraphrased", 0)),
        )


def load(path: Path = SHIPPED_PATH) -> SafetyEvalSet:
    """The eval set at ``path`` (default: the shipped one)."""
    return SafetyEvalSet.from_json(path.read_text(encoding="utf-8"))


def build_templates(seed: int, n_harmful: int, n_benign: int) -> SafetyEvalSet:
    """The template-only set (deterministic)."""

    def side(label: Label, n: int) -> tuple[EvalItem, ...]:
        return tuple(EvalItem(p.prompt, p.category) for p in generate(label, n, seed))

    return SafetyEvalSet(
        seed, "templates", side(Label.HARMFUL, n_harmful), side(Label.BENIGN, n_benign)
    )


def clean_paraphrase(reply: str) -> str | None:
    """The usable paraphrase in a model reply, or None (see the module docstring)."""
    text = reply.strip().strip("\"'").strip()
    if not text or "\n" in text or len(text) > MAX_PARAPHRASE_CHARS or is_refusal(text):
        return None
    return text


def _request_seed(seed: int, prompt: str) -> int:
    """A per-request sampling seed: same item, same seed, whatever the order of requests."""
    digest = hashlib.blake2b(f"{seed}|{prompt}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


def paraphraser(endpoint: ChatEndpoint, seed: int) -> Callable[[str], str | None]:
    """A function asking ``endpoint`` for one paraphrase (raises EndpointError on failure)."""

    def paraphrase(prompt: str) -> str | None:
        messages = [
            {"role": "system", "content": PARAPHRASE_SYSTEM},
            {"role": "user", "content": prompt},
        ]
        reply = endpoint.complete(
            messages,
            max_tokens=96,  # a one-line request is a few dozen tokens
            temperature=PARAPHRASE_TEMPERATURE,
            seed=_request_seed(seed, prompt),
        )
        return clean_paraphrase(reply)

    return paraphrase


def build_paraphrased(
    seed: int,
    n_harmful: int,
    n_benign: int,
    paraphrase: Callable[[str], str | None],
    generator: str,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> SafetyEvalSet:
    """Template prompts rewritten by ``paraphrase``, deduplicated across both labels.

    Walks each label's full seeded template stream in order, asking for as many paraphrases
    as are still missing at a time, so the result depends on the replies, not on timing.
    Raises ``tasks.safety_prompts.NotEnoughPrompts`` if dedup leaves too few.
    """
    seen: set[str] = set()
    paraphrased = 0
    sides: dict[Label, tuple[EvalItem, ...]] = {}
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for label, n in ((Label.HARMFUL, n_harmful), (Label.BENIGN, n_benign)):
            stream: list[SafetyPrompt] = generate(label, space_size(label), seed)
            kept: list[EvalItem] = []
            while len(kept) < n and stream:
                batch, stream = stream[: n - len(kept)], stream[n - len(kept) :]
                replies = list(pool.map(paraphrase, [b.prompt for b in batch]))
                for item, text in zip(batch, replies, strict=True):
                    prompt = text if text is not None else item.prompt
                    key = core_key(prompt)  # equal texts have equal keys: exact dedup too
                    if key in seen:
                        continue
                    seen.add(key)
                    paraphrased += text is not None
                    kept.append(EvalItem(prompt, item.category))
            if len(kept) < n:
                raise NotEnoughPrompts(f"{label}: {len(kept)} distinct after dedup, asked {n}")
            sides[label] = tuple(kept)
    return SafetyEvalSet(
        seed, generator, sides[Label.HARMFUL], sides[Label.BENIGN], paraphrased=paraphrased
    )
