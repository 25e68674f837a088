"""The eval pool the contamination gate checks against, and where each round's eval set comes from.

The pool holds: this round's private eval set (train-on-test is a copy of it, served by a
miner who learned the secret or the items), the sets published after recent rounds (they are
public once written out, so anyone can serve them back), and canaries — items with a unique
marker derived from the secret, published beside every eval set and never scored, whose only
purpose is to be recognised if a miner serves them.

The pool survives a restart: ``EvalPool.reload(run_root)`` reads back every set the validator
published (``<run_root>/<round>/eval_set.json``, written once a round is over) within the
window, newest ``RECENT_ROUNDS`` by publication time, with its canaries, so a copier who
serves a published set after a restart is caught as before it. A file whose items do not
hash to the ``sha256`` it states is skipped with a warning (a torn or edited file is not the
set the round committed to); so is one that does not parse. The sets are read, not redrawn:
a set published under an earlier secret is public all the same.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from common.text import join_fields
from scoring.contamination import EvalItem, EvalPoolIndex
from tasks.families import TaskItem, generate
from validator.evalsets.cot import EvalSet, draw_eval_set, eval_set_from_dict
from validator.evalsets.suites import EvalSuite, ensure_available

# Published sets stay in the pool this many rounds: longer than a copier needs to fetch a
# published set and serve it back; the index cost grows linearly with it.
RECENT_ROUNDS = 32

# The file a finished round publishes its sets in (``validator/store/run_log.py``).
PUBLISHED_FILE = "eval_set.json"

log = logging.getLogger(__name__)

# Canaries per round: a handful suffices (one hit is proof) and costs nothing to check.
CANARIES_PER_ROUND = 4


def _canaries(secret: str, round_id: str) -> list[TaskItem]:
    digest = hashlib.sha256(f"canary|{secret}|{round_id}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    out = []
    for i in range(CANARIES_PER_ROUND):
        task = generate(rng)
        tag = hashlib.sha256(digest + bytes([i])).hexdigest()[:16]
        out.append(
            TaskItem(
                task.family, f"{task.prompt} [ref {tag}]", task.chain_of_thought, task.final_answer
            )
        )
    return out


def published_round(body: Mapping[str, Any]) -> tuple[EvalSet, list[TaskItem]]:
    """A published ``eval_set.json``'s CoT set and canaries.

    ``ValueError`` when its items do not hash to the ``sha256`` it states: a torn or edited
    file is not the set the round committed to.
    """
    try:
        eval_set = eval_set_from_dict(body)
        canaries = [TaskItem.from_dict(c) for c in body.get("canaries", [])]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a published eval set: {exc!r}") from exc
    if eval_set.sha256() != body.get("sha256"):
        raise ValueError("its items do not hash to its sha256")
    return eval_set, canaries


def _read_published(path: Path) -> tuple[EvalSet, list[TaskItem]] | None:
    """One published file's CoT set and canaries, or None (warned) if it is not sound."""
    try:
        return published_round(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        log.warning("published set %s not reloaded: %s", path, exc)
        return None


_CANARY_TAG = re.compile(r"\[ref ([0-9a-f]{16})\]")


def _as_eval_item(item_id: str, item: TaskItem, canary: bool = False) -> EvalItem:
    tag = _CANARY_TAG.search(item.prompt) if canary else None
    return EvalItem(
        item_id,
        item.prompt,
        join_fields(item.prompt, item.chain_of_thought, item.final_answer),
        item.final_answer,
        marker=tag.group(1) if tag else "",
    )


def pool_index(rounds: Sequence[tuple[EvalSet, Sequence[TaskItem]]]) -> EvalPoolIndex:
    """The gate's index over ``rounds`` (each an eval set and its canaries, oldest first).

    What a round's gate checked is this over the published sets its record names
    (``CompetitionRecord.gate_window``) and its own set: an auditor rebuilds it from the
    published files (``validator/audit/gate.py``).
    """
    items: list[EvalItem] = []
    for eval_set, canaries in rounds:
        items += [
            _as_eval_item(f"{eval_set.round_id}/{i}", it) for i, it in enumerate(eval_set.items)
        ]
        items += [
            _as_eval_item(f"{eval_set.round_id}/canary{i}", it, canary=True)
            for i, it in enumerate(canaries)
        ]
    return EvalPoolIndex(items)


class EvalPool:
    """Draws round eval sets and keeps what the contamination gate must know."""

    def __init__(
        self,
        secret: str,
        recent_rounds: int = RECENT_ROUNDS,
        suite: EvalSuite = EvalSuite.REGISTRY,
    ):
        ensure_available(suite)  # a missing extra stops the validator at start, not mid-round
        self._secret = secret
        self._suite = suite
        self._recent: deque[tuple[EvalSet, list[TaskItem]]] = deque(maxlen=recent_rounds)
        self._current: tuple[EvalSet, list[TaskItem]] | None = None

    @property
    def secret(self) -> str:
        """The validator's secret: other competitions derive their held-out draws from it."""
        return self._secret

    @property
    def suite(self) -> EvalSuite:
        """Where this pool's eval sets come from (``--eval.suite``)."""
        return self._suite

    def reload(self, run_root: Path) -> int:
        """Read back the sets published under ``run_root``; how many joined the pool.

        See the module docstring. Call once, at start, before the first ``draw``.
        """
        if self._current is not None or self._recent:
            raise RuntimeError("reload the pool before any round draws from it")
        found: list[tuple[float, str, EvalSet, list[TaskItem]]] = []
        for path in Path(run_root).glob(f"*/{PUBLISHED_FILE}"):
            loaded = _read_published(path)
            if loaded is not None:
                found.append((path.stat().st_mtime, loaded[0].round_id, *loaded))
        found.sort(key=lambda row: (row[0], row[1]))
        for _, _, eval_set, canaries in found[-(self._recent.maxlen or 0) :]:
            self._recent.append((eval_set, canaries))
        return len(self._recent)

    def published_sets(self) -> list[tuple[EvalSet, list[TaskItem]]]:
        """The published sets in the pool (oldest first), each with its canaries."""
        return list(self._recent)

    def draw(self, round_id: str, count: int) -> EvalSet:
        """Draw the eval set of ``round_id``; the previous round's set joins the published ones."""
        if self._current is not None:
            self._recent.append(self._current)
        eval_set = draw_eval_set(self._secret, round_id, count, suite=self._suite)
        self._current = (eval_set, _canaries(self._secret, round_id))
        return eval_set

    def index(self) -> EvalPoolIndex:
        """The gate's index over the current set, its canaries and recent published sets."""
        return pool_index([*self._recent, *([self._current] if self._current else [])])

    def published(self) -> dict[str, object]:
        """What is written out once the round is over: the set, its hash, and the canaries."""
        if self._current is None:
            return {}
        eval_set, canaries = self._current
        return {
            "round_id": eval_set.round_id,
            "seed": eval_set.seed,
            "version": eval_set.version,
            "sha256": eval_set.sha256(),
            "items": [asdict(it) for it in eval_set.items],
            "canaries": [asdict(it) for it in canaries],
        }
