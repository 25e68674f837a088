"""The local network's audit step reads one audit process's output per miner (localnet/audit.py)."""

from __future__ import annotations

from localnet.audit import miner_sections
from validator.audit.cli import MINER_SECTION

ROUND_CHECKS = "[ok  ] published sets match the committed hashes: ok"


def _section(hotkey: str, verdict: str) -> str:
    return f"{MINER_SECTION} {hotkey} (cot_sft)\n[ok  ] miner's signature: ok\n{verdict}"


def test_each_miner_gets_the_rounds_checks_and_its_own_section() -> None:
    output = "\n".join(
        [
            ROUND_CHECKS,
            _section("5A", "reproduced bit for bit: yes"),
            _section("5B", "reproduced bit for bit: no"),
        ]
    )
    sections = miner_sections(output, ["5A", "5B"])
    assert list(sections) == ["5A", "5B"]
    assert sections["5A"].startswith(ROUND_CHECKS) and sections["5B"].startswith(ROUND_CHECKS)
    assert "bit for bit: yes" in sections["5A"] and "bit for bit: no" not in sections["5A"]
    assert "bit for bit: no" in sections["5B"] and "5A" not in sections["5B"]


def test_one_miner_is_the_whole_output() -> None:
    assert miner_sections("anything\nat all", ["5A"]) == {"5A": "anything\nat all"}


def test_a_miner_the_audit_never_reached_gets_the_whole_output() -> None:
    """An audit that stopped (unusable input) before a miner: its outcome shows why."""
    output = f"{ROUND_CHECKS}\n{_section('5A', 'reproduced bit for bit: yes')}\naudit: broken"
    assert miner_sections(output, ["5A", "5B"])["5B"] == output
