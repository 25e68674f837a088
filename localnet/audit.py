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


def report_commitments_and_audit(
    records: list[RoundRecord], run_dir: Path, chain_path: Path, hotkeys: list[tuple[str, str]]
) -> list[str]:
    """Print each round's commitments, audit the last round's scores; the problems found.

    ``hotkeys``: (name, hotkey) of the cast, for the printout.
    """
    names = {hotkey: name for name, hotkey in hotkeys}
    problems: list[str] = []
    for record in records:
        committed = record.eval_commitment
        where = (
            f"block {committed.block}"
            if committed is not None and committed.block is not None
            else "NOT committed"
        )
        blocks: dict[str, int | None] = {}
        for miner in record.miners:  # a miner's block, from whichever competition saw it
            name = names.get(miner.hotkey, miner.hotkey)
            if blocks.get(name) is None:
                blocks[name] = miner.commit_block
        print(
            f"round {record.round_id}: eval sets committed at {where}; miners' manifests at {blocks}"
        )
        if committed is None or committed.block is None:
            problems.append(f"round {record.round_id}: the eval sets were not committed")
    print(f"\nauditing round {records[-1].round_id} (python -m validator.audit ...):", flush=True)
    for outcome in audit_round(records[-1], run_dir, chain_path):
        name = names.get(outcome.hotkey, outcome.hotkey)
        lines = outcome.output.splitlines()
        gate = [line for line in lines if "contamination gate re-derived" in line]
        last = gate + lines[-3:]
        verdict_line = "reproduced bit for bit" if outcome.reproduced else "NOT reproduced"
        print(f"  {name} ({outcome.competition.value}): {verdict_line}")
        for line in last:
            print(f"    {line}")
        if not outcome.reproduced:
            problems.append(f"the audit did not reproduce {name}'s {outcome.competition} score")
    return problems


def _holds(section: str) -> bool:
    """A section of a failed multi-miner audit in which every check held and the score matched."""
    return REPRODUCED in section and "[FAIL]" not in section
