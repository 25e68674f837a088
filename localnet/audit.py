"""The local network's last step: re-run the last round's scores with the audit command.

Each scored (or contaminated) miner of the round, in each competition, is audited in a fresh
process, exactly as a third party would run it (``python -m validator.audit ROUND_DIR --miner
HOTKEY``): commitments, signature, proofs, the contamination gate re-run on the published sets,
then a re-train and re-score that must reproduce the recorded score bit for bit.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from protocol.schemas import Competition
from validator.store.records import MinerStatus, RoundRecord

# A re-score is one LoRA (or DPO) training and two evaluations on the tiny base: ~5-15 s on
# 2 cores, plus the process start. Ten minutes is a hung process, not a slow one.
AUDIT_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class AuditOutcome:
    """One miner's audit: reproduced or not, and the command's last lines."""

    hotkey: str
    competition: Competition
    reproduced: bool
    output: str


def audit_command(
    round_dir: Path, hotkey: str, competition: Competition, chain_path: Path
) -> list[str]:
    """The audit's command line for one miner of a round."""
    return [
        sys.executable,
        "-m",
        "validator.audit",
        str(round_dir),
        "--miner",
        hotkey,
        "--competition",
        competition.value,
        "--chain.path",
        str(chain_path),
    ]


def audit_round(record: RoundRecord, run_dir: Path, chain_path: Path) -> list[AuditOutcome]:
    """Audit every scored or contaminated miner of ``record`` (its directory under ``run_dir``).

    A contaminated miner has no score to reproduce (zero, nothing trained), but its zeroing
    does: the audit re-runs the gate on the published sets (``validator/audit/gate.py``).
    """
    outcomes = []
    for miner in record.miners:
        if miner.status not in (MinerStatus.SCORED, MinerStatus.CONTAMINATED):
            continue
        command = audit_command(
            run_dir / record.round_id, miner.hotkey, miner.competition, chain_path
        )
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=AUDIT_TIMEOUT_S, check=False
        )
        output = (done.stdout + done.stderr).strip()
        outcomes.append(AuditOutcome(miner.hotkey, miner.competition, done.returncode == 0, output))
    return outcomes
