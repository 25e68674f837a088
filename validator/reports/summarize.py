"""Round reports: ``python -m validator.reports.summarize RUN_DIR [--plots]``.

Reads every ``summary.json`` (a ``RoundRecord``) under ``RUN_DIR`` and prints, per round, a
table of its miners (samples, duplicate and contamination rates, loss delta, accuracy and
ROUGE-L gains, refusal rate where the competition has one, score, EMA, weight), then one table
over all rounds per miner. ``--plots`` also writes training-curve PNGs into each round
directory (see ``validator.reports.plots``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from scoring.components import Component
from validator.store.records import MinerRoundRecord, RoundRecord

# Component names looked up for each column, first match wins: the scorer reports gains as
# ``*_delta`` (``scoring.components.Component``); the plain names after them are older
# records' (round-record/1), read as they were stored.
COLUMNS: dict[str, tuple[str, ...]] = {
    "loss Δ": (Component.LOSS_DELTA,),
    "acc Δ": (Component.ACCURACY_DELTA, "accuracy"),
    "ROUGE-L Δ": (Component.ROUGE_DELTA, "rouge_l_delta", "rouge_l"),
    "pref acc Δ": (Component.PREF_ACCURACY_DELTA,),
    "refusal": (Component.TUNED_REFUSAL_RATE, "refusal_rate"),
    "comply": (Component.TUNED_COMPLIANCE_RATE, "compliance_rate"),
}

# Columns only the preference competition fills: shown when some miner in the round has them.
OPTIONAL_COLUMNS = frozenset({"pref acc Δ", "refusal", "comply"})


def load_rounds(run_dir: Path) -> list[tuple[Path, RoundRecord]]:
    """Every round under ``run_dir`` with its directory, oldest first."""
    found = []
    for path in sorted(Path(run_dir).rglob("summary.json")):
        found.append((path.parent, RoundRecord.from_dict(json.loads(path.read_text()))))
    return sorted(found, key=lambda item: (item[1].started_at, item[1].round_id))


def component(m: MinerRoundRecord, names: tuple[str, ...]) -> float | None:
    """The first of ``names`` present in the miner's score components."""
    return next((m.components[n] for n in names if n in m.components), None)


def _short(hotkey: str) -> str:
    """An ss58 address as ``5Abcde…wxyz``: still tells miners apart, fits a terminal."""
    return hotkey if len(hotkey) <= 12 else f"{hotkey[:6]}…{hotkey[-4:]}"


def _rate(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "-"


def _num(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:+.{digits}f}"


def table(header: list[str], rows: list[list[str]], left: int) -> str:
    """A plain-text table: the first ``left`` (text) columns left-aligned, numbers right."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def format_round(record: RoundRecord) -> str:
    """One round: a header line and a row per miner (highest score first)."""
    columns = [
        c
        for c, names in COLUMNS.items()
        if c not in OPTIONAL_COLUMNS or any(component(m, names) is not None for m in record.miners)
    ]
    header = [
        "uid",
        "hotkey",
        "comp",
        "status",
        "samples",
        "dup",
        "contam",
        "wrong",
        *columns,
        "score",
        "ema",
        "weight",
    ]
    rows = []
    for m in sorted(record.miners, key=lambda m: (-m.score, m.uid)):
        rows.append(
            [
                str(m.uid),
                _short(m.hotkey),
                m.competition,
                m.status,
                f"{m.accepted}/{m.offered}",
                _rate(m.duplicates, m.offered),
                _rate(m.contaminated, m.offered),
                _rate(m.wrong_answers, m.offered),
                *(_num(component(m, COLUMNS[c])) for c in columns),
                f"{m.score:.4f}",
                f"{m.ema:.4f}",
                f"{m.weight:.4f}",
            ]
        )
    weights = "set" if record.weights_set else f"NOT set ({record.weights_error or 'unknown'})"
    head = (
        f"round {record.round_id}  block {record.block}  "
        f"{record.finished_at - record.started_at:.1f} s  eval {record.eval_set_sha256[:12]} "
        f"({record.eval_version}, {record.scoring_version})  weights {weights}"
    )
    return head + "\n" + table(header, rows, left=4)


def format_miners(records: list[RoundRecord]) -> str:
    """All rounds per miner: rounds seen, samples, rates, mean score, latest EMA and weight."""
    by_uid: dict[tuple[str, int], list[MinerRoundRecord]] = {}
    for record in records:
        for m in record.miners:
            by_uid.setdefault((m.competition, m.uid), []).append(m)
    rows = []
    for (comp, uid), ms in sorted(by_uid.items(), key=lambda kv: -kv[1][-1].ema):
        offered = sum(m.offered for m in ms)
        rows.append(
            [
                str(uid),
                _short(ms[-1].hotkey),
                comp,
                str(len(ms)),
                f"{sum(m.accepted for m in ms)}/{offered}",
                _rate(sum(m.duplicates for m in ms), offered),
                _rate(sum(m.contaminated for m in ms), offered),
                f"{sum(m.score for m in ms) / len(ms):.4f}",
                f"{ms[-1].ema:.4f}",
                f"{ms[-1].weight:.4f}",
            ]
        )
    header = [
        "uid",
        "hotkey",
        "comp",
        "rounds",
        "samples",
        "dup",
        "contam",
        "mean score",
        "ema",
        "weight",
    ]
    return table(header, rows, left=3)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description="Summarise a validator's round directories.")
    parser.add_argument("run_dir", type=Path, help="directory holding round dirs with summary.json")
    parser.add_argument("--plots", action="store_true", help="write training-curve PNGs per round")
    args = parser.parse_args(argv)
    rounds = load_rounds(args.run_dir)
    if not rounds:
        print(f"no summary.json under {args.run_dir}", file=sys.stderr)
        return 1
    for directory, record in rounds:
        print(format_round(record), end="\n\n")
        if args.plots:
            from validator.reports.plots import write_round_plots  # matplotlib only when asked

            for path in write_round_plots(record, directory):
                print(f"wrote {path}")
    print(f"all {len(rounds)} rounds, per miner")
    print(format_miners([record for _, record in rounds]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
