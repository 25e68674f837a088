"""Text normalisation shared by every text comparison: dedup, the contamination gate, answers.

``canonical`` is the one normalisation (``TEXT_NORMALISATION_VERSION`` names it):

1. Look-alikes first (the table of step 2 on the raw text: a compatibility decomposition
   can turn a look-alike into a letter that has none, Greek lunate "ϲ" into a final sigma).
   Then NFKD: compatibility forms (fullwidth, mathematical alphanumerics, ligatures, "㎒") become
   their plain letters, and accented letters split into a base letter plus combining marks.
2. Per character: combining marks (Mn, Me), format characters (Cf: zero-width spaces and
   joiners, soft hyphens, bidi controls, tags), control characters other than whitespace,
   surrogates and the default-ignorable fillers are removed; a decimal digit of any script
   becomes its ASCII digit; any other non-ASCII character with an ASCII look-alike in the
   Unicode confusables data (UTS #39 ``confusables.txt`` as shipped by the pinned
   ``confusable-homoglyphs`` package, read from its package data, no network) becomes that
   look-alike: Cyrillic "а", Greek "Ν", Cherokee "Ꭺ" read as "a", "N", "A". This runs before
   the case fold, since a capital look-alike often has none once folded (Cyrillic "В" looks
   like "B", its "в" like nothing). One adjustment: UTS #39 reads capital-I look-alikes
   (Greek "Ι", Cyrillic "І") as "l", since "I" and "l" are confusable; an *uppercase* letter
   read as "l" is read as "I" here, as the case fold that follows would read a Latin "I".
   ASCII characters are never remapped (UTS #39 would turn "0" into "O" and "1" into "l"),
   nor are characters whose NFKD is ASCII (a bold "𝟎" is the digit 0, not the letter O).
3. Case folded (``str.casefold``), NFKD again and step 2 again (a fold can yield a mark or a
   letter with a look-alike of its own).
4. NFKC (recomposes what is left, e.g. Hangul), whitespace of any kind collapsed to single
   spaces, stripped.

``words`` then keeps runs of letters and digits as words and drops everything else
(punctuation, underscores), so a perturbation of case, punctuation, spacing, look-alike
letters or invisible characters cannot change a shingle. Numbers are words: templated task
items differ *only* in their numbers, so dropping them would make every item look alike.

``match_words`` is ``words`` for the fingerprinting detectors (dedup, the contamination
gate), which only ever ask whether two texts are alike: it also reads the letters that UTS #39
itself leaves apart but a reader cannot, "l" and "i" (a vertical stroke: the data reads
Cyrillic palochka "ӏ" as "i", a copier uses it for "l"), as one. ``words`` keeps them apart:
it feeds phrase rules (refusals) that must still read "l".

Sample fields are joined with a newline before normalisation; the newline is whitespace, so
the joined text reads as one word sequence (a copy cannot hide by moving a field boundary).

Compatibility: anything stored from these functions (MinHash signatures, number digests)
compares only under the same ``TEXT_NORMALISATION_VERSION``; ``scoring.minhash`` folds it into
its parameter fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Hashable
from collections.abc import Set as AbstractSet
from functools import cache
from importlib import metadata, resources

# The package (and pinned version) whose copy of the Unicode confusables data is used: its
# data decides signatures, so its version is part of the normalisation's version.
_CONFUSABLES_PACKAGE = "confusable_homoglyphs"
_CONFUSABLES_VERSION = metadata.version("confusable-homoglyphs")

# Bumped whenever ``canonical`` can return something else for the same input.
TEXT_NORMALISATION_VERSION = (
    f"canon/v1:uts39,nfkd,strip-mn-me-cf-cc,digits,uts39-ascii({_CONFUSABLES_VERSION})-upper-i,"
    "casefold,nfkd,again,nfkc,ws;match:l=i"
)

# Letters and digits of any script; `\w` minus the underscore, which is punctuation here.
_WORD_RE = re.compile(r"[^\W_]+")
# Digit runs of canonical text (every decimal digit is ASCII there): "3.5" is 3 and 5.
_NUMBER_RE = re.compile(r"[0-9]+")

# Categories removed outright: nonspacing and enclosing marks (accents, zalgo, variation
# selectors), format characters (invisible), controls (whitespace controls are kept for the
# whitespace step), surrogates.
_DROPPED_CATEGORIES = frozenset({"Mn", "Me", "Cf", "Cc", "Cs"})

# Default_Ignorable_Code_Point letters (DerivedCoreProperties.txt) that render as nothing but
# are category Lo, so the category rule above misses them: Hangul fillers and the halfwidth
# one. The other default-ignorables are Cf, Mn or unassigned.
_IGNORABLE_LETTERS = frozenset({0x115F, 0x1160, 0x3164, 0xFFA0})

# ASCII controls other than whitespace, removed on the ASCII fast path (same as step 3).
_ASCII_DROP = {c: None for c in range(128) if unicodedata.category(chr(c)) == "Cc"}
for _c in range(128):
    if chr(_c).isspace():
        _ASCII_DROP.pop(_c, None)


@cache
def _prototypes() -> dict[str, str]:
    """Non-ASCII character -> its ASCII look-alike, from the confusables data."""
    raw = resources.files(_CONFUSABLES_PACKAGE).joinpath("confusables.json").read_text("utf-8")
    table: dict[str, str] = {}
    for char, glyphs in json.loads(raw).items():
        if len(char) != 1 or char.isascii() or unicodedata.normalize("NFKD", char).isascii():
            continue  # ASCII stays; a compatibility form decomposes to its exact letter/digit
        ascii_glyphs = [g["c"] for g in glyphs if g["c"].isascii() and not g["c"].isspace()]
        if ascii_glyphs:  # the data has at most one ASCII look-alike per character
            glyph = ascii_glyphs[0]
            if glyph == "l" and unicodedata.category(char) == "Lu":
                glyph = "I"  # a capital look-alike of I (see the module docstring)
            table[char] = glyph
    return table


@cache
def _look_table() -> dict[int, str]:
    """``str.translate`` form of ``_prototypes`` (step 1)."""
    return {ord(char): glyph for char, glyph in _prototypes().items()}


class _Fold(dict[int, "str | None"]):
    """``str.translate`` table for step 2, filled lazily one code point at a time."""

    def __missing__(self, code: int) -> str | None:
        char = chr(code)
        value: str | None
        if char.isascii() or char.isspace():
            value = _ASCII_DROP.get(code, char)
        elif unicodedata.category(char) in _DROPPED_CATEGORIES or code in _IGNORABLE_LETTERS:
            value = None
        elif unicodedata.category(char) == "Nd":
            value = str(unicodedata.decimal(char))
        else:
            value = _prototypes().get(char, char)
        self[code] = value
        return value


_FOLD = _Fold()


def canonical(text: str) -> str:
    """The canonical form of ``text`` that every comparison uses (module docstring)."""
    if text.isascii():
        return " ".join(text.translate(_ASCII_DROP).lower().split())
    folded = text.translate(_look_table())
    folded = unicodedata.normalize("NFKD", folded).translate(_FOLD).casefold()
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKD", folded).translate(_FOLD))
    return " ".join(folded.split())


def words(text: str) -> list[str]:
    """The word sequence of ``canonical(text)``: runs of letters and digits."""
    return _WORD_RE.findall(canonical(text))


def match_words(text: str) -> list[str]:
    """``words`` with "l" read as "i" (module docstring): the detectors' word sequence."""
    return [w.replace("l", "i") for w in words(text)]


def answer_key(answer: str) -> str:
    """The identity of a final answer for the detectors: its match words, space-joined.

    Empty for an answer with no letter or digit (and for samples that have no answer).
    """
    return " ".join(match_words(answer))


def answers_match(a: str, b: str) -> bool:
    """Whether two answer keys name the same answer, unmapped look-alikes read as letters.

    Any non-ASCII letter left after ``canonical`` is read as a look-alike of whatever letter
    stands in its place. The confusables data misses some look-alikes a copier uses (Greek "κ" for "k": UTS #39
    has no ASCII prototype for it), and an answer is short enough that one such letter
    would make a copy's answer "another answer". A letter that survived normalisation
    outside ASCII, facing an ASCII letter, is taken as that letter; digits and lengths must
    still agree, so "83" never matches "84" and "lark dove" never matches "lark doves".
    """
    if len(a) != len(b):
        return False
    return all(
        x == y or (x.isalpha() and y.isalpha() and not (x.isascii() and y.isascii()))
        for x, y in zip(a, b, strict=True)
    )


def answer_shape(key: str) -> str:
    """What ``answers_match`` cannot change of an answer key: digits kept, letters as "?".

    Two keys that match have the same shape, so an index by shape finds every candidate.
    """
    return "".join(ch if ch.isdigit() or ch == " " else "?" for ch in key)


def contained(a: Counter[str], b: Counter[str]) -> bool:
    """True when the smaller multiset (by size) is inside the larger one.

    The detectors' number rule: a copy keeps every number of its original and may add some
    (ids, line numbers), so the original's numbers are inside the copy's. Two problems that
    differ in a number have neither inside the other.
    """
    small, big = (a, b) if a.total() <= b.total() else (b, a)
    return not small - big


def numbers(text: str) -> Counter[str]:
    """The multiset of digit runs in ``canonical(text)``, leading zeros kept ("07" is not "7")."""
    return Counter(_NUMBER_RE.findall(canonical(text)))


def join_fields(*fields: str) -> str:
    """One fingerprintable text from a sample's fields (prompt, chain of thought, answer)."""
    return "\n".join(fields)


def word_ngrams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    """Contiguous word ``n``-grams; a non-empty sequence shorter than ``n`` is one gram."""
    if not tokens:
        return set()
    if len(tokens) < n:
        return {tuple(tokens)}
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def jaccard(a: AbstractSet[Hashable], b: AbstractSet[Hashable]) -> float:
    """Exact Jaccard |a ∩ b| / |a ∪ b|; two empty sets have nothing in common (0.0)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def numbers_digest(text: str) -> str:
    """A 16-hex digest of the sorted multiset of numbers in ``text`` (order-free).

    A copy keeps its numbers (changing one makes another problem); two items of one template
    differ in them. Stored beside a signature, it tells those apart for the price of 8 bytes.
    """
    joined = "\x00".join(sorted(numbers(text).elements()))
    return hashlib.blake2b(joined.encode(), digest_size=8).hexdigest()
