from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scoring.preference_score import PreferenceEval, score_preference
from scoring.score import SampleCounts
from tests.support.rounds import make_round
from validator.reports.plots import write_round_plots
from validator.reports.summarize import format_round, load_rounds, main

PNG = b"\x89PNG\r\n\x1a\n"


def write_run(run_dir: Path, rounds: int = 3) -> None:
    for n in range(rounds, 0, -1):  # written out of order: the report sorts by time
        d = run_dir / f"round-{n:05d}"
        d.mkdir(parents=True)
        (d / "summary.json").write_text(json.dumps(make_round(n, [0, 1, 2]).to_dict()))


def test_report_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_run(tmp_path)
    assert main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.index("round r00001") < out.index("round r00002") < out.index("round r00003")
    assert "weights NOT set" not in out.split("round r00003")[0]
    header = next(line for line in out.splitlines() if line.startswith("uid"))
    for column in ("samples", "dup", "contam", "loss Δ", "acc Δ", "ROUGE-L Δ", "score", "weight"):
        assert column in header
    assert "refusal" not in header  # no miner reported one
    # uid 2 of round 1: 58/64 accepted, 2 duplicates (3%), 0 contaminated, loss delta +0.1.
    row = next(line for line in out.splitlines() if line.startswith("2 ") and "58/64" in line)
    assert "3%" in row and "0%" in row and "+0.1000" in row
    assert "all 3 rounds, per miner" in out


def test_preference_columns_read_the_preference_scorer(tmp_path: Path) -> None:
    """The refusal and compliance columns show what scoring/preference_score.py reports."""
    half = [1.0, 0.0, 1.0, 0.0]
    scored = score_preference(
        PreferenceEval(
            base_pref_correct=[0.0] * 4,
            tuned_pref_correct=half,
            tuned_margin=[0.1] * 4,
            base_refused_harmful=[0.0] * 4,
            tuned_refused_harmful=[1.0, 0.0, 0.0, 0.0],  # refusal rate 25%
            base_complied_benign=[1.0] * 4,
            tuned_complied_benign=[1.0, 1.0, 1.0, 0.0],  # compliance 75%
            base_general_loss=2.0,
            tuned_general_loss=2.0,
            harmful_pairs=2,
        ),
        SampleCounts(offered=4, accepted=4),
        seed=0,
    )
    record = make_round(1, [0, 1], competition="preference")
    record.miners[0].components.update({k.value: v for k, v in scored.components.items()})
    lines = format_round(record).splitlines()
    for column in ("pref acc Δ", "refusal", "comply"):
        assert column in lines[1]
    row = next(line for line in lines[3:] if line.startswith("0 "))
    assert "+0.5000" in row and "+0.2500" in row and "+0.7500" in row


def test_cli_module_and_plots(tmp_path: Path) -> None:
    write_run(tmp_path, rounds=1)
    proc = subprocess.run(
        [sys.executable, "-m", "validator.reports.summarize", str(tmp_path), "--plots"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    round_dir = tmp_path / "round-00001"
    for name in ("train_loss.png", "eval_metrics.png"):
        path = round_dir / name
        assert path.read_bytes()[:8] == PNG and path.stat().st_size > 5_000
        assert f"wrote {path}" in proc.stdout


def test_plots_use_tuned_values(tmp_path: Path) -> None:
    record = make_round(1, [0, 1])
    record.miners[0].components["tuned_loss"] = 1.0
    paths = write_round_plots(record, tmp_path)
    assert [p.name for p in paths] == ["train_loss.png", "eval_metrics.png"]
    assert all(p.read_bytes()[:8] == PNG for p in paths)


def test_empty_run_dir_is_an_error(tmp_path: Path) -> None:
    assert main([str(tmp_path)]) == 1
    assert load_rounds(tmp_path) == []


def test_tuned_value_from_a_gain() -> None:
    from validator.reports.plots import tuned

    m = make_round(1, [2]).miners[0]  # loss_delta 0.1 (loss went down), accuracy_delta 0.02
    assert tuned(m, "loss", 1.2) == pytest.approx(1.1)
    assert tuned(m, "accuracy", 0.3) == pytest.approx(0.32)
    assert tuned(m, "unknown", 1.0) is None
