"""A perturber of task items and free text: what a copier does to dodge screening.

Every kind is meant to keep the meaning for a reader (and a model): look-alike letters,
invisible characters, whitespace and punctuation edits, added numbers and ids, casing,
sentence/step reordering, synonym swaps, and ``all`` of them at once. The look-alike and
invisible tables here are the *attacker's*, written out by hand from common homoglyph lists,
not taken from the confusables data the defence uses: a test of the defence against its own
table would prove nothing.

Final answers are only touched by the character-level kinds (look-alikes, invisible
characters, whitespace, casing): an id or a synonym added to an answer changes the answer.
Numbers are never changed, only added: changing one makes another problem.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from tasks.families import TaskItem

# Latin letter -> look-alikes from other scripts (Cyrillic, Greek, Armenian, Cherokee).
_LOOKALIKES: dict[str, str] = {
    "a": "аɑα",
    "c": "сϲ",
    "d": "ԁ",
    "e": "еҽ",
    "h": "һ",
    "i": "іɩ",
    "j": "ј",
    "k": "κ",
    "l": "ӏ",
    "n": "ո",
    "o": "оοօ",
    "p": "рρ",
    "q": "ԛ",
    "r": "г",
    "s": "ѕ",
    "u": "υս",
    "v": "ν",
    "w": "ԝ",
    "x": "хχ",
    "y": "уү",
    "A": "АΑᎪ",
    "B": "ВΒᏴ",
    "C": "СϹᏟ",
    "D": "Ꭰ",
    "E": "ЕΕᎬ",
    "G": "Ԍ",
    "H": "НΗᎻ",
    "I": "ІΙ",
    "J": "ЈᎫ",
    "K": "КΚᏦ",
    "M": "МΜᎷ",
    "N": "Ν",
    "O": "ОΟ",
    "P": "РΡᏢ",
    "S": "ЅᏚ",
    "T": "ТΤᎢ",
    "X": "ХΧ",
    "Y": "ҮΥ",
    "Z": "ΖᏃ",
}
# Zero-width and other invisible code points: spaces, joiners, word joiner, soft hyphen, BOM,
# a variation selector, the combining grapheme joiner, invisible times, a tag character.
_INVISIBLE = "\u200b\u200c\u200d\u2060\u00ad\ufeff\ufe0f\u034f\u2062\U000e0041"
# Runs that read as one space.
_SPACES = ("  ", "\t", "\u00a0", "\u2003", "\u3000", " \n ", "\u2009 ")
# Sentence ends and separators that can stand for one another.
_PUNCT = (".", ";", "!", " -", ",", ":", "...")
# Synonyms of the task families' wording (a paraphraser's choices), and stand-ins for the
# free-text pseudo-words (scoring_synth), which have no synonyms of their own.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "what": ("which",),
    "largest": ("biggest", "greatest", "highest"),
    "number": ("value", "figure"),
    "numbers": ("values", "figures"),
    "order": ("sequence", "arrangement"),
    "alphabetically": ("in alphabetical order", "from a to z"),
    "these": ("the following", "the"),
    "give": ("write", "produce"),
    "list": ("sequence", "series"),
    "opposite": ("reverse", "backward"),
    "read": ("go", "count"),
    "end": ("back", "last one"),
    "compute": ("calculate", "work out"),
    "sum": ("total",),
    "plus": ("added to",),
    "running": ("current",),
    "max": ("maximum",),
    "first": ("initial", "starting"),
    "letters": ("initials", "characters"),
    "carry": ("carried", "carrying"),
    "ones": ("units",),
    "so": ("thus", "hence", "therefore"),
    "many": ("much",),
    "more": ("additional", "extra"),
    "then": ("and then", "after that"),
    "walked": ("strolled", "went"),
    "steps": ("paces",),
    "has": ("holds", "owns"),
    "gets": ("receives", "obtains"),
    "how": ("tell me how",),
    "sort": ("arrange", "order"),
    "reverse": ("invert", "flip"),
    "in": ("into",),
    "the": ("this",),
    "is": ("equals",),
    "add": ("sum", "total up"),
    "highest": ("largest", "biggest"),
    "most": ("largest", "biggest"),
    "backwards": ("in reverse", "back to front"),
    "flip": ("reverse", "invert"),
    "holds": ("contains", "has"),
    "all": ("total",),
    "wrote": ("put", "listed"),
    "name": ("state", "give"),
    "alphabetize": ("sort alphabetically", "order alphabetically"),
    "put": ("place", "arrange"),
    "lines": ("sets",),
}
_FREE_SUBSTITUTES = (
    "holds owns obtains receives thing item amount quantity remaining large small total count "
    "value figure result sum piece collection group"
).split()
# Share of free-text words swapped: a paraphraser's rate (task items swap every word of the
# families' wording that has a synonym with probability 1/2, more than this on their short
# templates; their other words, operands and names, have none).
FREE_SYNONYM_SHARE = 0.15

_SENTENCE = re.compile(r"(?<=[.?!])\s+")
_WORD = re.compile(r"[A-Za-z]+")


def lookalike(text: str, rng: random.Random, share: float = 0.5) -> str:
    """Latin letters replaced by look-alikes from other scripts, or fullwidth/bold forms."""
    out = []
    for ch in text:
        if ch.isascii() and ch.isalpha() and rng.random() < share:
            r = rng.random()
            if ch in _LOOKALIKES and r < 0.7:
                ch = rng.choice(_LOOKALIKES[ch])
            elif r < 0.85:
                ch = chr(ord(ch) + 0xFEE0)  # fullwidth
            else:
                base = 0x1D400 if ch.isupper() else 0x1D41A  # mathematical bold
                ch = chr(base + ord(ch.upper()) - ord("A"))
        elif ch.isdigit() and rng.random() < share / 2:
            ch = chr(ord(ch) + 0xFEE0) if rng.random() < 0.5 else chr(0x1D7CE + int(ch))
        out.append(ch)
    return "".join(out)


def invisible(text: str, rng: random.Random, share: float = 0.25) -> str:
    """Invisible characters inserted after a ``share`` of characters (inside words too)."""
    out = []
    for ch in text:
        out.append(ch)
        if rng.random() < share:
            out.append(rng.choice(_INVISIBLE))
    return "".join(out)


def whitespace(text: str, rng: random.Random) -> str:
    """Every space a random run that reads as one space; padding at both ends."""
    body = "".join(rng.choice(_SPACES) if ch == " " and rng.random() < 0.6 else ch for ch in text)
    return rng.choice(("", " ", "\t", "\n")) + body + rng.choice(("", " ", "  ", "\n"))


def punctuation(text: str, rng: random.Random) -> str:
    """Punctuation swapped for other punctuation, added after words, dropped before spaces.

    Never inside a word or between two digits ("7+6" must not become "76").
    """
    out: list[str] = []
    for i, ch in enumerate(text):
        nxt = text[i + 1] if i + 1 < len(text) else " "
        if ch in ".,;:!?" and (nxt.isspace() or i + 1 == len(text)):
            r = rng.random()
            if r < 0.3:
                continue  # dropped
            if r < 0.7:
                ch = rng.choice(_PUNCT)
        out.append(ch)
        if ch.isalnum() and nxt == " " and rng.random() < 0.1:
            out.append(rng.choice((",", ";", " -", "...")))
    return "".join(out)


def casing(text: str, rng: random.Random) -> str:
    """Each word upper, lower, title or swapped case at random."""
    styles: tuple[Callable[[str], str], ...] = (str.upper, str.lower, str.title, str.swapcase)
    return _WORD.sub(lambda m: rng.choice(styles)(m[0]), text)


def _random_id(rng: random.Random) -> str:
    styles = (
        lambda: f"[{rng.randint(100000, 999999)}]",
        lambda: f"(id {rng.randint(1000, 99999)})",
        lambda: f"#{rng.randint(10, 9999)}",
        lambda: f"ref-{rng.randint(1, 999)}",
        lambda: f"{rng.randint(1, 99)}.",
    )
    return rng.choice(styles)()


def added_numbers(text: str, rng: random.Random) -> str:
    """Ids and numbers added at the start, the end and inside; sentences numbered as steps."""
    sentences = _SENTENCE.split(text)
    if len(sentences) > 1 and rng.random() < 0.5:
        sentences = [f"{i + 1}. {s}" for i, s in enumerate(sentences)]  # line/step numbers
    tokens = " ".join(sentences).split(" ")
    for _ in range(rng.randint(1, 2)):
        tokens.insert(rng.randrange(len(tokens) + 1), _random_id(rng))
    where = rng.random()
    if where < 0.4:
        tokens.insert(0, _random_id(rng))
    elif where < 0.8:
        tokens.append(_random_id(rng))
    return " ".join(tokens)


def reorder(text: str, rng: random.Random) -> str:
    """Sentences (steps of a chain of thought) in another order, when there are several."""
    sentences = _SENTENCE.split(text.strip())
    if len(sentences) < 2:
        return text
    shuffled = sentences[:]
    while shuffled == sentences:
        rng.shuffle(shuffled)
    return " ".join(shuffled)


def synonyms(text: str, rng: random.Random) -> str:
    """Words of the task families' wording swapped for synonyms, each with probability 1/2."""
    tokens = text.split(" ")
    for i, token in enumerate(tokens):
        core = _strip(token)
        if core.lower() in _SYNONYMS and rng.random() < 0.5:
            tokens[i] = token.replace(core, rng.choice(_SYNONYMS[core.lower()]), 1)
    return " ".join(tokens)


def free_synonyms(text: str, rng: random.Random) -> str:
    """``FREE_SYNONYM_SHARE`` of a free text's words swapped for others (it has no synonyms
    of its own: the pseudo-words of ``scoring_synth``)."""
    tokens = text.split(" ")
    wordy = [i for i, t in enumerate(tokens) if _strip(t).isalpha()]
    for i in rng.sample(wordy, min(len(wordy), round(FREE_SYNONYM_SHARE * len(tokens)))):
        tokens[i] = tokens[i].replace(_strip(tokens[i]), rng.choice(_FREE_SUBSTITUTES), 1)
    return " ".join(tokens)


def _strip(token: str) -> str:
    return token.strip(".,;:!?()[]\"'")


_Kind = Callable[[str, random.Random], str]

# Structural kinds first, character-level kinds last (as an attacker would chain them).
KINDS: dict[str, _Kind] = {
    "reorder": reorder,
    "synonyms": synonyms,
    "numbers": added_numbers,
    "punctuation": punctuation,
    "casing": casing,
    "lookalike": lookalike,
    "invisible": invisible,
    "whitespace": whitespace,
}
# The kinds that keep a final answer's meaning (character-level only).
ANSWER_KINDS = frozenset({"casing", "lookalike", "invisible", "whitespace"})
ALL = "all"
KIND_NAMES = (*KINDS, ALL)


def _chain(kind: str) -> list[str]:
    if kind == ALL:
        return list(KINDS)
    if kind not in KINDS:
        raise ValueError(f"unknown perturbation {kind!r}; known: {', '.join(KIND_NAMES)}")
    return [kind]


def perturb_text(text: str, kind: str, rng: random.Random, free: bool = True) -> str:
    """``text`` under one kind (or ``all``), line by line (a field per line stays a line).

    ``free``: synonyms are ``free_synonyms`` (free text); else the task wording's.
    """
    out = []
    for line in text.split("\n"):
        for name in _chain(kind):
            step = free_synonyms if free and name == "synonyms" else KINDS[name]
            line = step(line, rng)
        out.append(line)
    return "\n".join(out)


def perturb_item(item: TaskItem, kind: str, rng: random.Random) -> TaskItem:
    """A disguised copy of a task item: prompt and reasoning under ``kind``, the answer under
    its character-level part only."""
    answer = item.final_answer
    for name in _chain(kind):
        if name in ANSWER_KINDS:
            answer = KINDS[name](answer, rng)
    return TaskItem(
        item.family,
        perturb_text(item.prompt, kind, rng, free=False),
        perturb_text(item.chain_of_thought, kind, rng, free=False),
        answer,
    )
