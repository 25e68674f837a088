"""What the local network prints at the end, and whether the demo came out as its cast says.

``format_leaderboards`` renders each competition's leaderboard (from the REST API, as any
user would read it) with the demo miners' names beside their hotkeys. ``verdict`` checks the
weights the validator set last round against ``localnet/cast.py``'s table: the honest miner
holds the largest weight, the copycat and the contaminator hold almost none. A demo that
comes out otherwise is a scoring bug, so ``neurons/localnet.py`` exits non-zero on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

# "Near zero" for the attackers: the attack catalogue's bound (issue 5), an attack may earn
# at most 5% of the honest miner's share.
ATTACKER_SHARE_MAX = 0.05
ATTACKERS = ("copycat", "contaminator")
HONEST = "honest"


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


def verdict(weights: Mapping[int, float], uids: Mapping[str, int]) -> list[str]:
    """What came out unlike the cast's table (empty: as expected)."""
    share = {name: weights.get(uid, 0.0) for name, uid in uids.items()}
    honest = share.get(HONEST, 0.0)
    problems: list[str] = []
    if honest <= 0:
        return [f"the honest miner holds no weight ({_shares(share)})"]
    for name, value in share.items():
        if name != HONEST and value >= honest:
            problems.append(f"{name} holds {value:.3f}, not below honest's {honest:.3f}")
    for name in ATTACKERS:
        if name in share and share[name] > ATTACKER_SHARE_MAX * honest:
            problems.append(
                f"{name} holds {share[name]:.3f}, over {ATTACKER_SHARE_MAX:.0%} of honest's"
                f" {honest:.3f}"
            )
    return problems


def _shares(share: Mapping[str, float]) -> str:
    return ", ".join(f"{name} {value:.3f}" for name, value in share.items())


def uids_by_name(
    miners: Sequence[tuple[str, str]], metagraph_uids: Mapping[str, int]
) -> dict[str, int]:
    """Demo miner name -> uid, from (name, hotkey) pairs and the chain's hotkey -> uid."""
    return {name: metagraph_uids[hotkey] for name, hotkey in miners if hotkey in metagraph_uids}
