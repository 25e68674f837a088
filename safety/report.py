"""The side-by-side safety report: a few prompts with the base and tuned responses, judged.

``build_report`` judges every row (base and tuned), computes both models' ``SafetyMetrics``,
and keeps ``n`` rows to show: half harmful, half benign (the other side fills in when one is
short), rows whose verdict changed first (the informative ones), then in input order. The
result is JSON-able (for the round record); ``render_markdown`` turns it into text that reads
as Markdown or as plain text. Pure given a pure judge; wrap a model judge in
``scoring.refusal.CachedJudge`` to share its verdicts with the round's metrics.

``subject`` says what the tuned side is: the preference stage (``validator/stages/preference.py``)
builds its per-round report here with the round and the miner (uid, hotkey) it shows; an
offline comparison can name a checkpoint. Reports without it (before this field) read the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scoring.refusal import Judge, Judgement, rule_judge
from scoring.safety import metrics_from_judgements
from tasks.safety_prompts import Label

REPORT_VERSION = "safety-report/1"
# Ten rows: enough to see what changed at a glance, short enough to read in a round log.
DEFAULT_ROWS = 10
# Responses are cut in the rendering (the JSON keeps them whole): a screenful per report.
RENDER_CHARS = 240

# (prompt, base response, tuned response)
Row = tuple[str, str, str]


def _verdict(judgement: Judgement) -> str:
    return "refused" if judgement.refused else "empty" if judgement.empty else "complied"


def _change(label: Label, base: Judgement, tuned: Judgement) -> str:
    """Improved / regressed / same, by what ``label`` wants (refuse harmful, answer benign)."""
    good = (lambda j: j.refused) if label == Label.HARMFUL else (lambda j: j.complied)
    if good(tuned) == good(base):
        return "same"
    return "improved" if good(tuned) else "regressed"


def _side(label: Label, rows: Sequence[Row], judge: Judge) -> list[dict[str, Any]]:
    out = []
    for prompt, base, tuned in rows:
        jb, jt = judge(prompt, base), judge(prompt, tuned)
        out.append(
            {
                "label": str(label),
                "prompt": prompt,
                "base": {"response": base, "verdict": _verdict(jb), "reason": jb.reason},
                "tuned": {"response": tuned, "verdict": _verdict(jt), "reason": jt.reason},
                "change": _change(label, jb, jt),
                "_judgements": (jb, jt),
            }
        )
    return out


def _pick(rows: list[dict[str, Any]], k: int) -> list[dict[str, Any]]:
    changed = [r for r in rows if r["change"] != "same"]
    return (changed + [r for r in rows if r["change"] == "same"])[:k]


def build_report(
    harmful: Sequence[Row],
    benign: Sequence[Row],
    judge: Judge = rule_judge,
    n: int = DEFAULT_ROWS,
    subject: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON-able report: what it shows, both models' metrics, ``n`` judged rows side by side.

    Each row: ``label``, ``prompt``, ``base`` and ``tuned`` (``response``, ``verdict``, the
    judge's ``reason``) and ``change``. ``subject`` (JSON-able) is copied in as is.
    """
    judged_h = _side(Label.HARMFUL, harmful, judge)
    judged_b = _side(Label.BENIGN, benign, judge)
    n_h = min(len(judged_h), max(n // 2, n - len(judged_b)))
    picked = _pick(judged_h, n_h) + _pick(judged_b, n - n_h)
    summary = {
        model: metrics_from_judgements(
            [r["_judgements"][i] for r in judged_h], [r["_judgements"][i] for r in judged_b]
        ).to_dict()
        for i, model in enumerate(("base", "tuned"))
    }
    rows = [{k: v for k, v in r.items() if k != "_judgements"} for r in picked]
    return {
        "version": REPORT_VERSION,
        "subject": dict(subject or {}),
        "summary": summary,
        "rows": rows,
    }


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= RENDER_CHARS else flat[: RENDER_CHARS - 1] + "…"


def render_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown (a table of rates, then one short block per row)."""
    base, tuned = report["summary"]["base"], report["summary"]["tuned"]
    subject = report.get("subject") or {}
    lines = [
        "## Safety: base vs tuned",
        "",
        *([", ".join(f"{k}: {v}" for k, v in subject.items()), ""] if subject else []),
        "| metric | base | tuned |",
        "|---|---|---|",
        f"| refusal rate, harmful (n={base['n_harmful']}) "
        f"| {base['refusal_rate']:.3f} | {tuned['refusal_rate']:.3f} |",
        f"| compliance rate, benign (n={base['n_benign']}) "
        f"| {base['compliance_rate']:.3f} | {tuned['compliance_rate']:.3f} |",
        f"| over-refusal rate, benign "
        f"| {base['over_refusal_rate']:.3f} | {tuned['over_refusal_rate']:.3f} |",
    ]
    for i, row in enumerate(report["rows"], 1):
        lines += [
            "",
            f"### {i}. {row['label']}: {row['change']}",
            f"**prompt:** {_one_line(row['prompt'])}",
            "",
            f"- **base** ({row['base']['verdict']}): {_one_line(row['base']['response'])}",
            f"- **tuned** ({row['tuned']['verdict']}): {_one_line(row['tuned']['response'])}",
        ]
    return "\n".join(lines) + "\n"
