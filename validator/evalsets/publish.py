"""What a round publishes once it is over: each competition's held-out set, with its hash.

``eval_set.json`` in the round directory. Its top level is the CoT set as ``EvalPool.
published()`` gives it (round id, seed, version, sha256, items, canaries), as before the
preference competition existed; the preference held-out set sits under ``"preference"``. A
competition that did not run this round publishes nothing.

The preference hash is sha256 over the canonical JSON (sorted keys, no spaces) of the set's
round id, seed, version (``PREFERENCE_EVAL_VERSION``), harmful and benign prompts and held-out
pairs, the same construction as the CoT set's (``validator.evalsets.cot.EvalSet.to_json``). Anyone
holding the round's secret can redraw the set (``draw_preference_eval`` with the sizes
published here) and check the hash against the round record's.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

from validator.evalsets.preference import PREFERENCE_EVAL_VERSION, PreferenceEvalSet


def preference_body(eval_set: PreferenceEvalSet) -> dict[str, Any]:
    """The preference held-out set as plain JSON values: what the hash is taken over."""
    return {
        "round_id": eval_set.round_id,
        "seed": eval_set.seed,
        "version": PREFERENCE_EVAL_VERSION,
        "harmful": [asdict(p) for p in eval_set.harmful],
        "benign": [asdict(p) for p in eval_set.benign],
        "pairs": [{"prompt": p, "chosen": c, "rejected": r} for p, c, r in eval_set.pairs],
    }


def preference_sha256(eval_set: PreferenceEvalSet) -> str:
    """Hex sha256 of the canonical JSON of ``preference_body``."""
    canonical = json.dumps(
        preference_body(eval_set), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def published_preference(eval_set: PreferenceEvalSet) -> dict[str, Any]:
    """The preference entry of ``eval_set.json``: the set and its hash."""
    return {**preference_body(eval_set), "sha256": preference_sha256(eval_set)}
