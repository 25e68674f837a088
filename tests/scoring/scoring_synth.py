"""Seeded text generators for the scoring tests and benchmarks: paragraphs and perturbed copies.

Perturbation model (what a copier does to dodge an exact-hash check): reorder sentences,
swap a share of the words for others (synonyms; numbers are left alone, since changing a
number makes another problem), then change case, punctuation and spacing freely.
"""

from __future__ import annotations

import random
import re

from tasks.families import TaskItem

_SYLLABLES = "ka lo mi ne ru sa ti vo ze pa do fi gu he ja be co".split()
# A Zipf-ish vocabulary of 3000 pseudo-words, like the head of an English word list.
_VOCAB = sorted({"".join(random.Random(i).choices(_SYLLABLES, k=1 + i % 3)) for i in range(6000)})[
    :3000
]
_WEIGHTS = [1.0 / (rank + 1) for rank in range(len(_VOCAB))]
# Stand-ins for synonyms: real words a paraphraser would substitute.
_SUBSTITUTES = (
    "holds owns obtains receives thing item amount quantity remaining large small total count "
    "value figure result sum number piece collection group"
).split()

_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


def paragraph(rng: random.Random, target_chars: int = 1000) -> str:
    """A ~``target_chars`` paragraph of 8-20 word sentences, with an occasional number."""
    sentences: list[str] = []
    size = 0
    while size < target_chars:
        ws = rng.choices(_VOCAB, weights=_WEIGHTS, k=rng.randint(8, 20))
        if rng.random() < 0.3:
            ws[rng.randrange(len(ws))] = str(rng.randint(1, 999))
        sentence = " ".join(ws).capitalize() + "."
        sentences.append(sentence)
        size += len(sentence) + 1
    return " ".join(sentences)


def task_text(item: TaskItem) -> str:
    """The fingerprinted unit of a task item: prompt, chain of thought, answer."""
    return f"{item.prompt}\n{item.chain_of_thought}\n{item.final_answer}"


def perturb(text: str, rng: random.Random, word_share: float = 0.10) -> str:
    """A disguised copy: sentences reordered per line, ``word_share`` of words substituted.

    Case, punctuation and whitespace changes come on top (they do not count in the share:
    normalisation removes them).
    """
    lines = []
    for line in text.split("\n"):
        sentences = _SENTENCE_END.split(line)
        if len(sentences) > 1:
            rng.shuffle(sentences)
        lines.append(" ".join(sentences))
    tokens = "\n".join(lines).split(" ")
    wordy = [i for i, t in enumerate(tokens) if not any(c.isdigit() for c in t) and "\n" not in t]
    k = min(int(word_share * len(tokens)), len(wordy))
    for i in rng.sample(wordy, k):
        tokens[i] = rng.choice(_SUBSTITUTES)
    out = []
    for t in tokens:
        r = rng.random()
        if r < 0.1:
            t = t.upper()
        elif r < 0.15:
            t = t + ","
        elif r < 0.2:
            t = t + "  "
        out.append(t)
    return " ".join(out)


def problem_key(item: TaskItem) -> tuple[str, tuple[str, ...], str]:
    """What makes two task items the same problem: family, prompt numbers, answer.

    Items that differ only in the name or object ("Ana has 57 coins" / "Dee has 57 apples",
    same numbers) are one problem reworded: a copy, not a distinct sample.
    """
    return (item.family, tuple(sorted(re.findall(r"\d+", item.prompt))), item.final_answer)
