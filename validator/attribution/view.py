"""Views of token attributions: a coloured terminal line and a self-contained HTML page.

Scores are min-max normalised per view (the lowest non-special token is 0, the highest 1; all
equal is 0.5), so a view shows which tokens matter *relative to each other* in one prompt;
the raw scores (nats for occlusion) stay in the HTML ``title`` and the terminal's top list.
Colours: red = low (the completion does not need the token, or is likelier without it),
yellow = middle, green = high (the completion leans on it). Special tokens are skipped: they
are neither shown nor counted in the normalisation.

Token text is made safe before it is shown: non-printable characters (an ESC could drive
the terminal) are written as Python escapes (an ESC shows as backslash-x-1-b), and HTML gets
``html.escape`` on text and titles.
"""

from __future__ import annotations

import html
import os
import sys
from collections.abc import Sequence
from typing import TextIO

TokenScores = Sequence[tuple[str, float]]

# Terminal bands: thirds of the normalised range, one colour each (red, yellow, green).
LOW, HIGH = 1 / 3, 2 / 3
ANSI_BG = {"low": "41", "mid": "43", "high": "42"}  # background colours: spaces stay visible
ANSI_FG_BLACK = "30"  # black text reads on all three backgrounds
ANSI_RESET = "\x1b[0m"
TOP_K = 5  # tokens listed with their raw scores under a plain-text view
# HTML hue from red (0) through yellow (60) to green (120), as the terminal bands.
HUE_RED, HUE_GREEN = 0.0, 120.0


def normalise(scores: Sequence[float], special: Sequence[bool] = ()) -> list[float | None]:
    """Min-max normalised scores in [0, 1]; None for special tokens; 0.5 when all are equal."""
    flags = list(special) or [False] * len(scores)
    kept = [s for s, sp in zip(scores, flags, strict=True) if not sp]
    lo, hi = (min(kept), max(kept)) if kept else (0.0, 0.0)
    span = hi - lo
    return [
        None if sp else (0.5 if span <= 0 else (s - lo) / span)
        for s, sp in zip(scores, flags, strict=True)
    ]


def _escape(c: str) -> str:
    o = ord(c)
    return f"\\x{o:02x}" if o < 0x100 else (f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}")


def safe_text(token: str) -> str:
    """The token with non-printable characters (bar newline and tab) as Python escapes."""
    return "".join(c if c in "\n\t" or c.isprintable() else _escape(c) for c in token)


def band(level: float) -> str:
    """``low``, ``mid`` or ``high``: the terminal colour band of a normalised score."""
    return "low" if level < LOW else ("mid" if level < HIGH else "high")


def use_colour(stream: TextIO | None = None) -> bool:
    """Colour when ``stream`` (stdout by default) is a terminal and ``NO_COLOR`` is unset."""
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)()) and "NO_COLOR" not in os.environ


def render_terminal(
    tokens: TokenScores, special: Sequence[bool] = (), colour: bool | None = None
) -> str:
    """One prompt's attribution as terminal text.

    With colour (default: ``use_colour()``), each token on a red/yellow/green background by
    band. Without, the plain text with the high band's runs in ``[...]`` and a line listing the
    ``TOP_K`` highest tokens with their raw scores: readable in a log or a pipe.
    """
    if colour is None:
        colour = use_colour()
    levels = normalise([s for _, s in tokens], special)
    shown = [
        (safe_text(t), s, lv) for (t, s), lv in zip(tokens, levels, strict=True) if lv is not None
    ]
    if colour:
        return "".join(
            f"\x1b[{ANSI_FG_BLACK};{ANSI_BG[band(lv)]}m{text}{ANSI_RESET}"
            for text, _, lv in shown
            if text
        )
    out: list[str] = []
    inside = False
    for text, _, lv in shown:
        high = band(lv) == "high"
        if high != inside and text:
            out.append("[" if high else "]")
            inside = high
        out.append(text)
    if inside:
        out.append("]")
    top = sorted((s, text) for text, s, _ in shown if text)[::-1][:TOP_K]
    listed = ", ".join(f"{text!r} {s:+.3f}" for s, text in top)
    return "".join(out) + (f"\n  top: {listed}" if listed else "")


def html_tokens(tokens: TokenScores, special: Sequence[bool] = ()) -> str:
    """One prompt's attribution as HTML spans (background by score, raw score in ``title``)."""
    levels = normalise([s for _, s in tokens], special)
    spans = []
    for (token, score), level in zip(tokens, levels, strict=True):
        if level is None or not token:
            continue
        hue = HUE_RED + (HUE_GREEN - HUE_RED) * level
        title = html.escape(f"{token!r} score {score:+.4f}", quote=True)
        text = html.escape(safe_text(token), quote=True)
        spans.append(
            f'<span class="tok" style="background:hsl({hue:.0f},80%,75%)" '
            f'title="{title}">{text}</span>'
        )
    return f'<div class="attr">{"".join(spans)}</div>'


PAGE_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 60em; }
.attr { font-family: ui-monospace, monospace; white-space: pre-wrap; line-height: 1.8;
        margin: .3em 0 1em; }
.tok { border-radius: 2px; }
.legend span { padding: 0 .5em; font-family: ui-monospace, monospace; }
h2 { font-size: 1.05em; margin-top: 1.6em; } h3 { font-size: .95em; margin: .2em 0; }
.meta { color: #555; font-size: .9em; }
"""


def html_page(title: str, sections: Sequence[tuple[str, str]]) -> str:
    """A self-contained page (no external resources): ``sections`` are (heading, html body).

    Headings are escaped here; bodies are trusted HTML, as built by ``html_tokens``.
    """
    legend = "".join(
        f'<span style="background:hsl({h:.0f},80%,75%)">{name}</span>'
        for h, name in ((HUE_RED, "low"), (60.0, "middle"), (HUE_GREEN, "high"))
    )
    body = "".join(f"<h2>{html.escape(head)}</h2>\n{part}\n" for head, part in sections)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{PAGE_STYLE}</style></head>\n"
        f"<body><h1>{html.escape(title)}</h1>\n"
        f'<p class="legend">score, min-max per prompt: {legend}</p>\n{body}</body></html>\n'
    )
