"""The local network's last step: re-run the last round's scores with the audit command.

Each scored (or contaminated) miner of the round, in each competition, is audited in a fresh
process per competition, exactly as a third party would run it (``python -m validator.audit
ROUND_DIR --miner HOTKEY [HOTKEY ...]``): commitments, signature, proofs, the contamination
gate re-run on the published sets, then a re-train and re-score that must reproduce the
recorded score bit for bit.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from protocol.schemas import Competition
from validator.audit.cli import MINER_SECTION, REPRODUCED
from validator.store.records import MinerStatus, RoundRecord

# A re-score is one LoRA (or DPO) training and an evaluation on the tiny base: ~5-15 s a miner
# on 2 cores, plus the process start and one base evaluation. Ten minutes is a hung process.
AUDIT_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class AuditOutcome:
    """One miner's audit: reproduced or not, and the command's last lines."""

    hotkey: str
    competition: Competition
    reproduced: bool
    output: str


def audit_command(
    round_dir: Path, hotkeys: Sequence[str], competition: Competition, chain_path: Path
) -> list[str]:
    """The audit's command line for miners of one competition of a round."""
    return [
        sys.executable,
        "-m",
        "validator.audit",
        str(round_dir),
        "--miner",
        *hotkeys,
        "--competition",
        competition.value,
        "--chain.path",
        str(chain_path),
    ]


def audit_round(record: RoundRecord, run_dir: Path, chain_path: Path) -> list[AuditOutcome]:
    """Audit every scored or contaminated miner of ``record`` (its directory under ``run_dir``).

    A contaminated miner has no score to reproduce (zero, nothing trained), but its zeroing
    does: the audit re-runs the gate on the published sets (``validator/audit/gate.py``). One
    process per competition audits its miners: the model load and the base evaluation are
    paid once (four CoT audits took 19 s each one at a time at 256 eval items).
    """
    outcomes = []
    for competition in Competition:
        hotkeys = [
            m.hotkey
            for m in record.miners
            if m.competition == competition
            and m.status in (MinerStatus.SCORED, MinerStatus.CONTAMINATED)
        ]
        if not hotkeys:
            continue
        command = audit_command(run_dir / record.round_id, hotkeys, competition, chain_path)
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=AUDIT_TIMEOUT_S, check=False
        )
        output = (done.stdout + done.stderr).strip()
        for hotkey, section in miner_sections(output, hotkeys).items():
            reproduced = done.returncode == 0 or (done.returncode == 1 and _holds(section))
            outcomes.append(AuditOutcome(hotkey, competition, reproduced, section))
    return outcomes


def miner_sections(output: str, hotkeys: Sequence[str]) -> dict[str, str]:
    """Each miner's part of one audit's output: the round's checks, then its own section.

    With one miner the output is its section; with several, ``MINER_SECTION`` heads each. A
    miner without a section (the audit stopped before it) gets the whole output.
    """
    lines = output.splitlines()
    if len(hotkeys) == 1:
        return {hotkeys[0]: output}
    heads = [i for i, line in enumerate(lines) if line.startswith(MINER_SECTION)]
    preamble = lines[: heads[0]] if heads else lines
    sections = {}
    for k, start in enumerate(heads):
        end = heads[k + 1] if k + 1 < len(heads) else len(lines)
        hotkey = lines[start].removeprefix(MINER_SECTION).split()[0]
        sections[hotkey] = "\n".join(preamble + lines[start:end])
    return {hotkey: sections.get(hotkey, output) for hotkey in hotkeys}


def _holds(section: str) -> bool:
    """A section of a failed multi-miner audit in which every check held and the score matched."""
    return REPRODUCED in section and "[FAIL]" not in section
