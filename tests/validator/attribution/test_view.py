from __future__ import annotations

import io
import re
from html.parser import HTMLParser

import pytest

from validator.attribution.view import (
    ANSI_RESET,
    html_page,
    html_tokens,
    normalise,
    render_terminal,
    use_colour,
)

ANSI = re.compile(r"\x1b\[[0-9;]*m")
TOKENS = [("Sort", 0.1), (" ", -2.0), ('<b>&"x"</b>', 4.0), ("\x1b[2J", 1.0), ("\n", 0.5)]


def test_normalise_min_max_skips_specials_and_handles_ties() -> None:
    assert normalise([1.0, 3.0, 2.0]) == [0.0, 1.0, 0.5]
    assert normalise([1.0, 100.0, 3.0], [False, True, False]) == [0.0, None, 1.0]
    assert normalise([2.0, 2.0]) == [0.5, 0.5]
    assert normalise([]) == []


def test_terminal_colour_bands_and_no_raw_escape_from_tokens() -> None:
    out = render_terminal(TOKENS, colour=True)
    codes = ANSI.findall(out)
    # one colour code and one reset per shown token
    assert codes.count(ANSI_RESET) == len(TOKENS)
    colours = [c for c in codes if c != ANSI_RESET]
    assert colours == ["\x1b[30;43m", "\x1b[30;41m", "\x1b[30;42m", "\x1b[30;43m", "\x1b[30;43m"]
    # the token's own ESC is shown as text, never sent to the terminal
    assert "\x1b[2J" not in out and "\\x1b[2J" in out
    assert ANSI.sub("", out) == 'Sort <b>&"x"</b>\\x1b[2J\n'


def test_terminal_plain_fallback_has_no_escape_codes() -> None:
    out = render_terminal(TOKENS, colour=False)
    assert "\x1b" not in out
    text, top = out.split("\n  top: ")
    assert text == 'Sort [<b>&"x"</b>]\\x1b[2J\n'  # the high band's run is bracketed
    assert top.startswith("'<b>&\"x\"</b>' +4.000, '\\\\x1b[2J' +1.000")
    assert "-2.000" in top  # five tokens: all listed, highest first


def test_special_tokens_are_not_shown_nor_normalised() -> None:
    tokens = [("a", 1.0), ("<|endoftext|>", 50.0), ("b", 2.0)]
    special = [False, True, False]
    out = render_terminal(tokens, special, colour=True)
    assert "endoftext" not in out
    assert ANSI.findall(out)[2] == "\x1b[30;42m"  # "b" is the top, not the 50.0 special
    assert "endoftext" not in html_tokens(tokens, special)


def test_colour_is_auto_off_when_not_a_tty(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert not use_colour(io.StringIO())
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_colour(Tty())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_colour(Tty())


class _Spans(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.spans: list[dict[str, str | None]] = []
        self.texts: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "span" and dict(attrs).get("class") == "tok":
            self.spans.append(dict(attrs))
            self.texts.append("")

    def handle_data(self, data: str) -> None:
        if self.texts and self.tags and self.tags[-1] == "span":
            self.texts[-1] += data

    def handle_endtag(self, tag: str) -> None:
        self.tags.append("/" + tag)


def test_html_spans_are_escaped_coloured_and_titled() -> None:
    fragment = html_tokens(TOKENS)
    assert "<b>" not in fragment and "&lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;" in fragment
    parser = _Spans()
    parser.feed(fragment)
    assert parser.texts == [t for t, _ in TOKENS[:3]] + ["\\x1b[2J", "\n"]
    assert "b" not in parser.tags  # the token's markup stayed text
    hues = [re.search(r"hsl\((\d+),", s["style"] or "") for s in parser.spans]
    assert [int(h.group(1)) for h in hues if h] == [42, 0, 120, 60, 50]
    titles = [s["title"] or "" for s in parser.spans]
    assert titles[2].endswith("score +4.0000") and titles[1].endswith("score -2.0000")


def test_html_page_is_self_contained() -> None:
    page = html_page("base <vs> tuned", [("sample 1: <i>", html_tokens(TOKENS))])
    assert page.startswith("<!doctype html>")
    assert "<title>base &lt;vs&gt; tuned</title>" in page and "sample 1: &lt;i&gt;" in page
    assert not re.search(r"(src|href)=|@import|url\(", page)  # nothing fetched from anywhere
