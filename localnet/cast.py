"""The demo miners of the local network: data of different quality, and two attackers.

| name | serves | expected outcome |
|---|---|---|
| honest | correct worked solutions from the generator | top of the leaderboard |
| teacher | correct solutions, prompts in its own words (not the registry's), from `localnet/demo_miner.py` | >= 50% of honest |
| sloppy | the same families with wrong answers, from `localnet/demo_miner.py` | 0, with the answer check off as well as on |
| copycat | a byte-for-byte copy of honest's data | ~0: the earliest holder keeps the credit |
| contaminator | the round's own eval items (it knows the secret), from `localnet/leak_miner.py` | 0: caught by the contamination gate |

Honest and copycat run the production miner (``neurons/miner.py``) with its generator, which
serves correct data only. The others are simulations, so the production miner has no setting
for them: teacher and sloppy run ``localnet/demo_miner.py`` (the miner's wiring around the
generator at a chosen quality rung), the contaminator ``localnet/leak_miner.py`` (the miner's
wiring around ``localnet.leak.LeakedEvalSource``, given the secret and the eval set size).

The copycat uses honest's generator seed, so it serves exactly what honest serves. The
earlier holder is the miner whose manifest commitment is in the earlier block (ties: the lower
uid; see scoring/dedup.py), so the copycat is registered after honest and started only once
honest answers, that is once honest's commitment is on chain (``commits_after``).
"""

from __future__ import annotations

from dataclasses import dataclass

# The production miner's entry point, which every demo miner but the contaminator runs.
MINER_SCRIPT = "neurons/miner.py"

# The contaminator's: the miner's wiring with the leaked eval set as its source.
LEAK_MINER_SCRIPT = "localnet/leak_miner.py"

# Teacher's and sloppy's: the miner's wiring with the generator at a chosen quality rung.
DEMO_MINER_SCRIPT = "localnet/demo_miner.py"


@dataclass(frozen=True)
class MinerRole:
    """One demo miner: its wallet hotkey name, the flags that make its data, the script run.

    ``commits_after``: the role whose manifest commitment must be on chain before this one
    starts (the copycat's victim), or None.
    """

    name: str
    source_args: tuple[str, ...]
    script: str = MINER_SCRIPT
    commits_after: str | None = None


def cast(validator_secret: str, eval_items: int) -> list[MinerRole]:
    """The demo miners, in registration order (uid order: the tie-break of equal blocks)."""
    return [
        MinerRole("honest", ("--source", "generator", "--generator-seed", "honest")),
        MinerRole(
            "teacher",
            ("--generator-seed", "teacher", "--quality", "correct_other_words"),
            script=DEMO_MINER_SCRIPT,
        ),
        MinerRole(
            "sloppy",
            ("--generator-seed", "sloppy", "--quality", "wrong"),
            script=DEMO_MINER_SCRIPT,
        ),
        MinerRole(
            "copycat",
            ("--source", "generator", "--generator-seed", "honest"),
            commits_after="honest",
        ),
        MinerRole(
            "contaminator",
            ("--leak-secret", validator_secret, "--leak-eval-items", str(eval_items)),
            script=LEAK_MINER_SCRIPT,
        ),
    ]
