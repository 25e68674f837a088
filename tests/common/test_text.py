"""common.text.canonical: the one normalisation every comparison uses."""

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from common.text import TEXT_NORMALISATION_VERSION, canonical, numbers, words


def test_nfkc_forms_fold_to_plain_letters() -> None:
    assert canonical("ｆｕｌｌ ｗｉｄｔｈ ４７") == "full width 47"
    assert canonical("𝐛𝐨𝐥𝐝 𝑖𝑡𝑎𝑙𝑖𝑐 ﬁle") == "bold italic file"


def test_confusables_fold_to_the_latin_skeleton() -> None:
    cyrillic = "Аnа hаs 47 аррlеs"  # Cyrillic А а р е in place of Latin letters
    greek = "Ana hαs 47 αpples"  # Greek alpha
    assert canonical(cyrillic) == canonical(greek) == "ana has 47 apples"
    # Capital look-alikes of I read as i after the case fold, whichever script they are from.
    assert canonical("Ιnput Іnput Input ΙNPUT") == "input input input input"
    # Capitals are read before the case fold (Cyrillic в has no look-alike, В does), and before
    # NFKD (Greek lunate sigma decomposes to a final sigma, which has none).
    assert canonical("ВООК ϹАТ ϲat") == "book cat cat"


def test_invisible_and_format_characters_are_removed() -> None:
    hidden = "ap\u200bples\u200d and\u2060 pe\u00adars\ufeff\u2062\U000e0041"
    assert canonical(hidden) == "apples and pears"
    assert canonical("pe\u0301ar\u0336s\ufe0f") == "pears"  # combining marks, variation selector
    assert canonical("a\u3164b") == "ab"  # Hangul filler: a letter that renders as nothing


def test_whitespace_collapses_and_case_folds() -> None:
    assert canonical("  Sort\u00a0these\t\tWORDS:\n\u2003a  b\u2028") == "sort these words: a b"
    assert canonical("STRASSE Straße") == "strasse strasse"


def test_digits_of_any_script_become_ascii_and_ascii_is_never_remapped() -> None:
    assert canonical("٤٧ and ४७") == "47 and 47"
    assert numbers("x ٤٧ y 47") == {"47": 2}
    # UTS #39 alone would read 0 as O and 1 as l: ASCII is left alone.
    assert canonical("10 l0l") == "10 l0l"
    assert canonical("𝟏𝟎 ７𝟎 ｌ") == "10 70 l"  # compatibility digits are digits, not O and l


def test_punctuation_survives_canonical_but_not_words() -> None:
    assert canonical("a, b; c.") == "a, b; c."
    assert words("A,  b;\u200bc.") == ["a", "b", "c"]


def test_version_names_the_confusables_data() -> None:
    assert TEXT_NORMALISATION_VERSION.startswith("canon/v1:")
    assert "uts39" in TEXT_NORMALISATION_VERSION


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_canonical_is_idempotent(text: str) -> None:
    once = canonical(text)
    assert canonical(once) == once


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=string.printable + "\x00\x01\x7f"))
def test_ascii_fast_path_matches_the_general_path(text: str) -> None:
    # A zero-width space forces the general path and is itself removed.
    assert canonical(text) == canonical(text + "\u200b")
