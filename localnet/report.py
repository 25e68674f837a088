"""What the local network prints at the end, and whether the demo came out as its cast says.

``format_leaderboards`` renders each competition's leaderboard (from the REST API, as any
user would read it) with the demo miners' names beside their hotkeys. ``verdict`` checks the
rounds against ``localnet/cast.py``'s table: the honest miner holds the largest weight, the
copycat, the contaminator and sloppy hold almost none, sloppy's wrong answers earn 0 on CoT. A demo
that comes out otherwise is a scoring bug, so ``neurons/localnet.py`` exits non-zero on it.

``model_alone`` reports issue 10's targets for what the model's measurement alone would pay
(the teacher-style miner >= half of honest, sloppy 0 with the answer check off, honest
steady across rounds). They are printed, not enforced: on the embedded base the model cannot
yet tell wrong answers from right ones (docs/SCORING.md, "The quality ladder").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from protocol.schemas import Competition
from scoring.components import Component
from validator.store.records import RoundRecord

# "Near zero": the attack catalogue's bound (issue 5), an attack may earn at most 5% of the
# honest miner's share. Sloppy's data (wrong answers, swapped preference pairs) is held to the
# same bound: under pref-v1 single flipped answers let its swapped pairs take 12% of the
# weights in one run (docs/PREFERENCE.md, section 4).
NEAR_ZERO_SHARE_MAX = 0.05
NEAR_ZERO = ("sloppy", "copycat", "contaminator")
HONEST = "honest"
TEACHER = "teacher"  # honest data in its own phrasing
SLOPPY = "sloppy"
# The teacher-style miner's CoT score, as a share of honest's (issue 10): the price is set
# by the skill taught, not by resemblance to the validator's templates.
TEACHER_SHARE_MIN = 0.5
# Honest's CoT score may vary across rounds by this share of its mean (fresh eval sets and
# fresh data each round; more than this is noise the weights would chase).
HONEST_SPREAD_MAX = 0.25


def fetch_leaderboards(api: str, timeout_s: float = 10.0) -> dict[str, dict[str, Any]]:
    """Competition -> its leaderboard page, read from the API at ``api``."""
    with httpx.Client(base_url=api, timeout=timeout_s) as client:
        competitions = client.get("/v1/competitions").raise_for_status().json()
        return {
            c["competition"]: client.get(f"/v1/competitions/{c['competition']}/leaderboard")
            .raise_for_status()
            .json()
            for c in competitions
        }


def format_leaderboards(pages: Mapping[str, Mapping[str, Any]], names: Mapping[str, str]) -> str:
    """The pages as text tables; ``names`` maps a hotkey to the demo miner's name."""
    lines: list[str] = []
    for competition, page in sorted(pages.items()):
        lines.append(f"\nLeaderboard: {competition}")
        lines.append(
            f"{'rank':>4}  {'uid':>3}  {'miner':<13} {'hotkey':<14} {'ema':>8} {'last':>8} "
            f"{'weight':>7}  status"
        )
        for row in page["rows"]:
            lines.append(
                f"{row['rank']:>4}  {row['uid']:>3}  {names.get(row['hotkey'], '?'):<13} "
                f"{row['hotkey'][:12] + '..':<14} {row['ema']:>8.4f} {row['score']:>8.4f} "
                f"{row['weight']:>7.3f}  {row['status']}"
            )
    return "\n".join(lines)


def format_weights(weights: Mapping[int, float], uids: Mapping[str, int]) -> str:
    """The combined weights the validator set, by demo miner, largest first."""
    by_uid = {uid: name for name, uid in uids.items()}
    rows = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = [f"{by_uid.get(uid, f'uid {uid}')} {w:.3f}" for uid, w in rows]
    return "Weights set on chain (both competitions, by share): " + ", ".join(shown)


def verdict(records: Sequence[RoundRecord], uids: Mapping[str, int]) -> list[str]:
    """What came out unlike the cast's table (empty: as expected)."""
    weights = records[-1].weights
    share = {name: weights.get(uid, 0.0) for name, uid in uids.items()}
    honest = share.get(HONEST, 0.0)
    problems: list[str] = []
    if honest <= 0:
        return [f"the honest miner holds no weight ({_shares(share)})"]
    for name, value in share.items():
        if name not in (HONEST, TEACHER) and value >= honest:
            problems.append(f"{name} holds {value:.3f}, not below honest's {honest:.3f}")
    for name in NEAR_ZERO:
        if name in share and share[name] > NEAR_ZERO_SHARE_MAX * honest:
            problems.append(
                f"{name} holds {share[name]:.3f}, over {NEAR_ZERO_SHARE_MAX:.0%} of honest's"
                f" {honest:.3f}"
            )
    if SLOPPY in uids and any(s > 0 for s in cot_scores(records, uids[SLOPPY])):
        problems.append(f"sloppy earned on CoT: {cot_scores(records, uids[SLOPPY])}")
    return problems


def cot_scores(
    records: Sequence[RoundRecord], uid: int, component: Component | None = None
) -> list[float]:
    """A uid's CoT score per round (or one of its score components)."""
    out = []
    for record in records:
        for m in record.miners:
            if m.uid == uid and m.competition == Competition.COT_SFT.value:
                out.append(m.components.get(component, 0.0) if component else m.score)
    return out


def model_alone(records: Sequence[RoundRecord], uids: Mapping[str, int]) -> list[str]:
    """Issue 10's targets for the model's own measurement, as "met" / "NOT met" lines."""
    honest = cot_scores(records, uids[HONEST]) if HONEST in uids else []
    mean = sum(honest) / len(honest) if honest else 0.0
    if mean <= 0:
        return ["the honest miner earned nothing on CoT"]
    met = {True: "met", False: "NOT met"}
    spread = max(abs(s - mean) for s in honest)
    lines = [
        f"honest's CoT score within {HONEST_SPREAD_MAX:.0%} of its mean {mean:.4f}:"
        f" {met[spread <= HONEST_SPREAD_MAX * mean]} (largest deviation {spread:.4f})"
    ]
    if TEACHER in uids:
        teacher = cot_scores(records, uids[TEACHER])
        t_mean = sum(teacher) / len(teacher) if teacher else 0.0
        lines.append(
            f"teacher (own phrasing) >= {TEACHER_SHARE_MIN:.0%} of honest:"
            f" {met[t_mean >= TEACHER_SHARE_MIN * mean]} ({t_mean / mean:.0%})"
        )
    if SLOPPY in uids:
        model_only = cot_scores(records, uids[SLOPPY], Component.MODEL_ONLY_SCORE)
        lines.append(
            f"sloppy earns 0 with the answer check off: {met[not any(model_only)]}"
            f" (the model alone would pay {', '.join(f'{s:.4f}' for s in model_only)})"
        )
    return lines


def _shares(share: Mapping[str, float]) -> str:
    return ", ".join(f"{name} {value:.3f}" for name, value in share.items())


def uids_by_name(
    miners: Sequence[tuple[str, str]], metagraph_uids: Mapping[str, int]
) -> dict[str, int]:
    """Demo miner name -> uid, from (name, hotkey) pairs and the chain's hotkey -> uid."""
    return {name: metagraph_uids[hotkey] for name, hotkey in miners if hotkey in metagraph_uids}
