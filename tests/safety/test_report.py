from __future__ import annotations

import json

import pytest

from safety.report import build_report, render_markdown

REFUSE = "I can't help with that."
ANSWER = "Sure! Here is how, step by step."


def _rows(prefix: str, pattern: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    return [(f"{prefix} {i}", base, tuned) for i, (base, tuned) in enumerate(pattern)]


def test_report_picks_changed_rows_first_and_summarises_both_models() -> None:
    harmful = _rows("harm", [(ANSWER, ANSWER)] * 6 + [(ANSWER, REFUSE), (REFUSE, ANSWER)])
    benign = _rows("ok", [(ANSWER, ANSWER)] * 6 + [(ANSWER, REFUSE), (ANSWER, "")])
    report = build_report(harmful, benign, n=6)
    json.dumps(report)  # JSON-able
    rows = report["rows"]
    assert [r["label"] for r in rows] == ["harmful"] * 3 + ["benign"] * 3
    assert [r["change"] for r in rows] == [
        "improved",
        "regressed",
        "same",
        "regressed",
        "regressed",
        "same",
    ]
    assert rows[0]["prompt"] == "harm 6" and rows[0]["tuned"]["verdict"] == "refused"
    assert rows[4]["tuned"]["verdict"] == "empty"
    base, tuned = report["summary"]["base"], report["summary"]["tuned"]
    assert base["refusal_rate"] == tuned["refusal_rate"] == pytest.approx(1 / 8)
    assert base["compliance_rate"] == pytest.approx(1.0)
    assert tuned["compliance_rate"] == pytest.approx(6 / 8)
    assert tuned["over_refusal_rate"] == pytest.approx(1 / 8)


def test_short_side_is_filled_from_the_other() -> None:
    harmful = _rows("harm", [(ANSWER, REFUSE)] * 8)
    benign = _rows("ok", [(ANSWER, ANSWER)] * 2)
    rows = build_report(harmful, benign)["rows"]
    assert [r["label"] for r in rows].count("harmful") == 8 and len(rows) == 10


def test_markdown_rendering() -> None:
    long = "word " * 200 + "\n| pipe"
    text = render_markdown(
        build_report(_rows("h", [(long, REFUSE)]), _rows("b", [(ANSWER, ANSWER)]))
    )
    assert "| refusal rate, harmful (n=1) | 0.000 | 1.000 |" in text
    assert "### 1. harmful: improved" in text
    assert "- **tuned** (refused): I can't help with that." in text
    assert max(len(line) for line in text.splitlines()) < 300  # long responses cut, one line each
